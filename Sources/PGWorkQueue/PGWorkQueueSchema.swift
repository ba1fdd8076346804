import Foundation
import PGStoreSupport

/// The work queue's tables and statements.
///
/// Queue settings live in one table, `tusk_queues` (name, lease and expire timeouts, max attempts,
/// dead-letter queue, partition count, and the 12-character MD5 prefix of the name). Items live in the
/// seed's partition tables `items_<hash>_<partition>` (`<hash>`: the first 12 hex characters of the MD5
/// of the queue name, `<partition>`: six zero-padded digits), with the seed's columns, its five indexes
/// (names `idx_<hash>_<partition>_src|lse|sch|dln|exp`) and unique `source_id`, plus three columns for
/// fencing and order: `lease_holder`, `lease_token` and `seq`, and one more partial index (`_rdy`) in
/// delivery order. The seed's monitoring queries over `items_%` work unchanged.
///
/// Partition tables are created when a queue is created (``PGWorkQueueStore/createQueue(_:)``) or first
/// opened, under an advisory lock, so the runtime role needs `CREATE` on the schema for that (or run
/// `tusk setup queue` and create queues with the setup role).
public enum PGWorkQueueSchema {
    /// The store's definition for the migrator, the grant generator and `tusk setup queue`.
    ///
    /// ```swift
    /// let migrator = PGMigrator(schema: try PGStoreIdentifier("public"), stores: [PGWorkQueueSchema.definition])
    /// ```
    public static let definition = PGStoreDefinition(
        name: "queue",
        summary: "durable leased work queue (PGWorkQueue)",
        objects: ["queues": "tusk_queues"],
        mainObject: "queues",
        migrations: [PGStoreMigration(version: 1, "queue settings", sql: migration1)],
        runtimePrivileges: [.table("queues", [.select, .insert, .update, .delete])])

    static let migration1 = """
        CREATE TABLE {{queues}} (
            name text COLLATE "C" PRIMARY KEY,
            table_hash text NOT NULL,
            lease_timeout_ms bigint NOT NULL CHECK (lease_timeout_ms > 0),
            expire_timeout_ms bigint NOT NULL CHECK (expire_timeout_ms > 0),
            max_attempts integer NOT NULL DEFAULT 0 CHECK (max_attempts >= 0),
            dead_queue text,
            partitions integer NOT NULL DEFAULT 1 CHECK (partitions BETWEEN 1 AND 999999),
            reference text NOT NULL DEFAULT '',
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL
        );
        """

    /// The table name of a partition: `items_<hash>_<partition>`.
    ///
    /// ```swift
    /// PGWorkQueueSchema.tableName(hash: "c5a38fb13ab1", partition: 1)   // items_c5a38fb13ab1_000001
    /// ```
    public static func tableName(hash: String, partition: Int) -> String {
        "items_\(hash)_\(pad(partition))"
    }

    static func pad(_ n: Int) -> String {
        let s = String(n)
        return String(repeating: "0", count: max(0, 6 - s.count)) + s
    }

    /// The DDL of one partition (idempotent), as the seed documents it plus fencing columns.
    static func partitionDDL(schema: PGStoreIdentifier, hash: String, partition: Int) throws(PGStoreError) -> String {
        let table = PGQualifiedName(schema: schema, name: try PGStoreIdentifier(tableName(hash: hash, partition: partition)))
        let idx = "idx_\(hash)_\(pad(partition))"
        let t = table.quoted
        return """
            CREATE TABLE IF NOT EXISTS \(t) (
                id TEXT COLLATE "C" PRIMARY KEY,
                source_id TEXT,
                is_leased BOOLEAN NOT NULL DEFAULT false,
                lease_deadline TIMESTAMPTZ,
                expire_deadline TIMESTAMPTZ NOT NULL,
                enqueue_at TIMESTAMPTZ,
                created_at TIMESTAMPTZ NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                max_attempts INTEGER NOT NULL DEFAULT 0,
                reference TEXT NOT NULL DEFAULT '',
                encoding TEXT NOT NULL DEFAULT '',
                kind TEXT NOT NULL DEFAULT '',
                payload BYTEA,
                seq BIGINT GENERATED ALWAYS AS IDENTITY,
                lease_holder TEXT,
                lease_token BIGINT
            ) WITH (fillfactor = 70);
            CREATE UNIQUE INDEX IF NOT EXISTS \(idx)_src ON \(t) (source_id) WHERE source_id IS NOT NULL;
            CREATE INDEX IF NOT EXISTS \(idx)_lse ON \(t) (is_leased, enqueue_at) WHERE is_leased = false AND enqueue_at IS NULL;
            CREATE INDEX IF NOT EXISTS \(idx)_sch ON \(t) (enqueue_at) WHERE enqueue_at IS NOT NULL;
            CREATE INDEX IF NOT EXISTS \(idx)_dln ON \(t) (lease_deadline) WHERE is_leased = true;
            CREATE INDEX IF NOT EXISTS \(idx)_exp ON \(t) (expire_deadline);
            CREATE INDEX IF NOT EXISTS \(idx)_rdy ON \(t) (seq) WHERE is_leased = false AND enqueue_at IS NULL;
            """
    }

    /// The statements of one partition, rendered once when the queue is opened.
    struct Statements: Sendable {
        let produce: String
        let lease: String
        let complete: String
        let retry: String
        let extend: String
        let sweep: String
        let stats: String

        /// `dead`: the dead-letter queue's partition 0 table, or nil to drop dead items.
        init(schema: PGStoreIdentifier, table: PGQualifiedName, dead: PGQualifiedName?) {
            let clock = PGStoreClock(schema: schema).sqlNow
            let token = PGStoreFencing(schema: schema).sqlNextToken
            let t = table.quoted
            let cols = "id, source_id, expire_deadline, enqueue_at, created_at, attempts, max_attempts, reference, encoding, kind, payload"
            // Dead rows (CTE `d` of a table's columns) go to the dead-letter queue, fresh and unleased.
            func bury(_ from: String) -> String {
                guard let dead else { return "" }
                return """
                    , buried AS (INSERT INTO \(dead.quoted) (\(cols))
                        SELECT d.id, d.source_id, now.t + $DEADEXP * interval '1 millisecond', NULL, now.t, d.attempts, 0,
                               d.reference, d.encoding, d.kind, d.payload FROM \(from) d, now
                        ON CONFLICT DO NOTHING RETURNING 1)
                    """
            }
            func buried(_ sql: String, _ n: Int) -> String { sql.replacingOccurrences(of: "$DEADEXP", with: "$\(n)") }
            // $1 ids, $2 source ids, $3 delays (ms, 0 = now), $4 reference, $5 encoding, $6 kind, $7 payload,
            // $8 expire ms, $9 max attempts, $10 channel, $11 queue name.
            produce = """
                WITH now AS MATERIALIZED (SELECT \(clock) AS t),
                ins AS (INSERT INTO \(t) (id, source_id, expire_deadline, enqueue_at, created_at, max_attempts, reference, encoding, kind, payload)
                    SELECT u.id, u.src, now.t + $8 * interval '1 millisecond',
                           CASE WHEN u.delay > 0 THEN now.t + u.delay * interval '1 millisecond' END, now.t, $9,
                           u.ref, u.enc, u.kind, u.payload
                      FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::bytea[])
                           WITH ORDINALITY AS u(id, src, delay, ref, enc, kind, payload, ord), now
                     ORDER BY u.ord
                    ON CONFLICT (source_id) WHERE source_id IS NOT NULL DO NOTHING
                    RETURNING id),
                n AS MATERIALIZED (SELECT pg_notify($10, $11) FROM (SELECT 1 FROM ins LIMIT 1) x)
                SELECT ins.id FROM ins LEFT JOIN n ON true
                """
            // $1 limit, $2 holder, $3 lease ms.
            lease = """
                WITH now AS MATERIALIZED (SELECT \(clock) AS t),
                c AS (SELECT i.id FROM \(t) i, now
                       WHERE i.is_leased = false AND i.enqueue_at IS NULL AND i.expire_deadline > now.t
                         AND NOT (i.max_attempts > 0 AND i.attempts >= i.max_attempts)
                       ORDER BY i.seq LIMIT $1 FOR UPDATE OF i SKIP LOCKED)
                UPDATE \(t) i SET is_leased = true, lease_holder = $2, lease_token = \(token),
                       lease_deadline = now.t + $3 * interval '1 millisecond', attempts = i.attempts + 1
                  FROM c, now WHERE i.id = c.id
                RETURNING i.id, i.lease_token, i.lease_deadline, i.attempts, i.max_attempts, i.source_id, i.created_at,
                          i.reference, i.encoding, i.kind, i.payload
                """
            // $1 ids, $2 tokens.
            complete = """
                DELETE FROM \(t) i USING unnest($1::text[], $2::int8[]) AS u(id, token)
                 WHERE i.id = u.id AND i.lease_token = u.token AND i.is_leased
                RETURNING i.id
                """
            // $1 ids, $2 tokens, $3 delays ms (0 = now), $4 dead now (bool[]), $5 dead-queue expire ms.
            retry = buried("""
                WITH now AS MATERIALIZED (SELECT \(clock) AS t),
                u AS MATERIALIZED (SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::bool[]) AS u(id, token, delay, dead)),
                r AS (UPDATE \(t) i SET is_leased = false, lease_holder = NULL, lease_token = NULL, lease_deadline = NULL,
                             enqueue_at = CASE WHEN u.delay > 0 THEN now.t + u.delay * interval '1 millisecond' END
                        FROM u, now
                       WHERE i.id = u.id AND i.lease_token = u.token AND i.is_leased
                         AND NOT u.dead AND NOT (i.max_attempts > 0 AND i.attempts >= i.max_attempts)
                      RETURNING i.id),
                d AS (DELETE FROM \(t) i USING u
                       WHERE i.id = u.id AND i.lease_token = u.token AND i.is_leased
                         AND (u.dead OR (i.max_attempts > 0 AND i.attempts >= i.max_attempts))
                      RETURNING i.*)
                \(bury("d"))
                SELECT id, false FROM r UNION ALL SELECT id, true FROM d
                """, 5)
            // $1 ids, $2 tokens, $3 lease ms.
            extend = """
                UPDATE \(t) i SET lease_deadline = \(clock) + $3 * interval '1 millisecond'
                  FROM unnest($1::text[], $2::int8[]) AS u(id, token)
                 WHERE i.id = u.id AND i.lease_token = u.token AND i.is_leased
                RETURNING i.id, i.lease_deadline
                """
            // Due scheduled items become ready; expired leases return (their tokens die); items past their
            // expire deadline or out of attempts go to the dead-letter queue (or are dropped).
            // $1 batch limit, $2 dead-queue expire ms, $3 channel, $4 queue name. Returns (ready, returned, dead).
            sweep = buried("""
                WITH now AS MATERIALIZED (SELECT \(clock) AS t),
                due AS (UPDATE \(t) i SET enqueue_at = NULL FROM now
                         WHERE i.id IN (SELECT s.id FROM \(t) s, now WHERE s.enqueue_at IS NOT NULL AND s.enqueue_at <= now.t
                                          AND s.is_leased = false LIMIT $1 FOR UPDATE OF s SKIP LOCKED)
                        RETURNING i.id),
                back AS (UPDATE \(t) i SET is_leased = false, lease_holder = NULL, lease_token = NULL, lease_deadline = NULL
                          WHERE i.id IN (SELECT s.id FROM \(t) s, now WHERE s.is_leased AND s.lease_deadline <= now.t
                                           AND NOT (s.max_attempts > 0 AND s.attempts >= s.max_attempts)
                                           AND s.expire_deadline > now.t LIMIT $1 FOR UPDATE OF s SKIP LOCKED)
                         RETURNING i.id),
                d AS (DELETE FROM \(t) i
                       WHERE i.id IN (SELECT s.id FROM \(t) s, now
                                       WHERE (s.expire_deadline <= now.t AND (NOT s.is_leased OR s.lease_deadline <= now.t))
                                          OR (s.is_leased AND s.lease_deadline <= now.t AND s.max_attempts > 0 AND s.attempts >= s.max_attempts)
                                          OR (NOT s.is_leased AND s.max_attempts > 0 AND s.attempts >= s.max_attempts)
                                       LIMIT $1 FOR UPDATE OF s SKIP LOCKED)
                      RETURNING i.*)
                \(bury("d")),
                n AS MATERIALIZED (SELECT pg_notify($3, $4) FROM (SELECT 1 FROM due UNION ALL SELECT 1 FROM back LIMIT 1) x)
                SELECT (SELECT count(*) FROM due), (SELECT count(*) FROM back), (SELECT count(*) FROM d), (SELECT count(*) FROM n)
                """, 2)
            stats = """
                SELECT count(*) FILTER (WHERE NOT is_leased AND enqueue_at IS NULL),
                       count(*) FILTER (WHERE is_leased),
                       count(*) FILTER (WHERE NOT is_leased AND enqueue_at IS NOT NULL),
                       coalesce((extract(epoch FROM \(clock) - min(created_at)) * 1000)::int8, 0)
                  FROM \(t)
                """
        }
    }
}
