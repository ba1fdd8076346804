import PGStoreSupport

/// The rate limiter's tables, migrations, grants and statements.
///
/// `rate_limiter_state` keeps rate-sync's documented columns (`group_id`, `last_acquisition_at`, `version`,
/// `current_concurrent`, `created_at`, `updated_at`) so its queries keep working, plus a `key` (a limit per
/// user or API key; `''` for the limiter as a whole) and the algorithms' state: GCRA's theoretical arrival
/// time `tat`, the windows' `window_start`, `window_count` and `previous_count`. Concurrency slots are rows
/// of `rate_limiter_slots`, one per slot, each a lease (holder, fencing token, expiry).
public enum PGRateLimiterSchema {
    /// The store's definition for the migrator, the grant generator and `tusk setup ratelimit`.
    ///
    /// ```swift
    /// let migrator = PGMigrator(schema: try PGStoreIdentifier("public"), stores: [PGRateLimiterSchema.definition])
    /// ```
    public static let definition = PGStoreDefinition(
        name: "ratelimit",
        summary: "distributed rate limiter (PGRateLimiter)",
        objects: ["state": "rate_limiter_state", "slots": "rate_limiter_slots"],
        mainObject: "state",
        migrations: [
            PGStoreMigration(version: 1, "limiter state and concurrency slots", sql: """
                CREATE TABLE {{state}} (
                    group_id varchar(255) NOT NULL,
                    key text NOT NULL DEFAULT '',
                    tat timestamptz,
                    window_start timestamptz,
                    window_count bigint NOT NULL DEFAULT 0,
                    previous_count bigint NOT NULL DEFAULT 0,
                    last_grant bigint NOT NULL DEFAULT 0,
                    last_acquisition_at timestamptz NOT NULL,
                    version bigint NOT NULL DEFAULT 1,
                    current_concurrent integer NOT NULL DEFAULT 0,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    updated_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (group_id, key)
                ) WITH (fillfactor = 70);
                CREATE INDEX ON {{state}} (updated_at);
                CREATE TABLE {{slots}} (
                    group_id varchar(255) NOT NULL,
                    key text NOT NULL DEFAULT '',
                    slot integer NOT NULL,
                    holder text,
                    token bigint,
                    acquired_at timestamptz,
                    expires_at timestamptz,
                    PRIMARY KEY (group_id, key, slot)
                ) WITH (fillfactor = 70);
                """)
        ],
        runtimePrivileges: [
            .table("state", [.select, .insert, .update, .delete]),
            .table("slots", [.select, .insert, .update, .delete]),
        ])

    /// The NOTIFY channel that wakes waiters when a slot is released (payload: limiter, newline, key).
    static let channelPrefix = "tusk_ratelimit_"

    /// The statements, rendered for one schema and set of table names.
    struct Statements: Sendable {
        let gcra: String
        let fixedWindow: String
        let slidingWindow: String
        let ensureSlots: String
        let takeSlot: String
        let releaseSlot: String
        let renewSlot: String
        let cleanup: String
        let usage: String
        let channel: String

        init(names: PGStoreNames) throws(PGStoreError) {
            let fencing = PGStoreFencing(schema: names.schema).sqlNextToken
            func render(_ s: String) throws(PGStoreError) -> String { try names.render(s) }
            let us = "* interval '1 microsecond'"
            // Keeps the index on updated_at out of the hot path: it moves only once a minute, so most updates
            // are HOT (no index entry), and idle keys are still found by it.
            let touch = "updated_at = CASE WHEN s.updated_at < excluded.updated_at - interval '1 minute' THEN excluded.updated_at ELSE s.updated_at END"

            // Every decision takes "up to $5 units, at least $6": the waiting requests of one process and key are
            // decided together (their total cost, the first one's cost), and the database grants as many units as
            // the limit has now; the caller admits them in order. A single request is $5 = $6 = its cost.
            //
            // GCRA: $1 limiter, $2 key, $3 emission interval (µs per unit), $4 burst, $5 wanted, $6 at least.
            // Units available now: floor((now − max(tat, now)) / T) + burst. Admit when at least $6 are; then tat
            // moves on by the units granted. Denied requests do not write (the conflict's WHERE fails); their
            // retry-after comes from the row as the statement saw it.
            let m = "greatest(s.tat, excluded.last_acquisition_at)"
            let available = "floor(extract(epoch FROM excluded.last_acquisition_at - \(m)) * 1000000 / $3::int8 + $4::int8)::int8"
            gcra = try render("""
                WITH now AS (SELECT {{tusk_now}}() AS t),
                decision AS (
                    INSERT INTO {{state}} AS s (group_id, key, tat, last_grant, last_acquisition_at, updated_at)
                    SELECT $1, $2, now.t + least($5::int8, $4::int8) * $3::int8 \(us), least($5::int8, $4::int8), now.t, now.t FROM now
                    ON CONFLICT (group_id, key) DO UPDATE
                       SET last_grant = least($5::int8, \(available)),
                           tat = \(m) + least($5::int8, \(available)) * $3::int8 \(us),
                           last_acquisition_at = excluded.last_acquisition_at,
                           version = s.version + 1,
                           \(touch)
                     WHERE \(available) >= $6::int8
                    RETURNING s.tat, s.last_grant, s.last_acquisition_at
                )
                SELECT true, d.last_grant, (floor(extract(epoch FROM d.last_acquisition_at - d.tat) * 1000000 / $3::int8) + $4::int8)::int8,
                       0::int8, d.last_acquisition_at
                  FROM decision d
                UNION ALL
                SELECT false, 0::int8, 0::int8,
                       greatest(1, ceil(extract(epoch FROM greatest(s.tat, now.t) + ($6::int8 - $4::int8) * $3::int8 \(us) - now.t) * 1000000))::int8,
                       NULL::timestamptz
                  FROM {{state}} s, now
                 WHERE s.group_id = $1 AND s.key = $2 AND NOT EXISTS (SELECT 1 FROM decision)
                """)

            // Windows: $1 limiter, $2 key, $3 window (µs), $4 limit, $5 wanted, $6 at least. `cur`/`prev` are the
            // counts of the window now running and the one before it, as the row stands. A row already in a later
            // window (a statement that read the clock a moment later committed first) counts this request there:
            // the window never moves back, so no admission is forgotten.
            let windowStart = "to_timestamp(floor(extract(epoch FROM now.t) * 1000000 / $3::int8) * $3::int8 / 1000000.0)"
            func counts(_ row: String, _ start: String) -> (cur: String, prev: String) {
                (cur: "(CASE WHEN \(row).window_start >= \(start) THEN \(row).window_count ELSE 0 END)",
                 prev: """
                    (CASE WHEN \(row).window_start >= \(start) THEN \(row).previous_count \
                    WHEN \(row).window_start = \(start) - $3::int8 \(us) THEN \(row).window_count ELSE 0 END)
                    """)
            }
            let conflict = counts("s", "excluded.window_start")
            let seen = counts("s", "w.start")
            func windowed(available: String, remaining: String, retry: String) throws(PGStoreError) -> String {
                try render("""
                    WITH now AS (SELECT {{tusk_now}}() AS t),
                    w AS (SELECT now.t, \(windowStart) AS start FROM now),
                    decision AS (
                        INSERT INTO {{state}} AS s (group_id, key, window_start, window_count, previous_count, last_grant,
                                                    last_acquisition_at, updated_at)
                        SELECT $1, $2, w.start, least($5::int8, $4::int8), 0, least($5::int8, $4::int8), w.t, w.t FROM w
                        ON CONFLICT (group_id, key) DO UPDATE
                           SET last_grant = least($5::int8, \(available)),
                               window_count = \(conflict.cur) + least($5::int8, \(available)),
                               previous_count = \(conflict.prev),
                               window_start = greatest(s.window_start, excluded.window_start),
                               last_acquisition_at = excluded.last_acquisition_at,
                               version = s.version + 1,
                               \(touch)
                         WHERE \(available) >= $6::int8
                        RETURNING s.window_count, s.previous_count, s.window_start, s.last_acquisition_at, s.last_grant
                    )
                    SELECT true, d.last_grant, \(remaining), 0::int8, d.last_acquisition_at FROM decision d
                    UNION ALL
                    SELECT false, 0::int8, 0::int8, greatest(1, \(retry))::int8, NULL::timestamptz
                      FROM w LEFT JOIN {{state}} s ON s.group_id = $1 AND s.key = $2
                     WHERE NOT EXISTS (SELECT 1 FROM decision)
                    """)
            }
            let untilNextWindow = "ceil(extract(epoch FROM w.start + $3::int8 \(us) - w.t) * 1000000)"
            fixedWindow = try windowed(
                available: "($4::int8 - \(conflict.cur))",
                remaining: "($4::int8 - d.window_count)::int8",
                retry: untilNextWindow)
            // The sliding estimate: prev × (1 − elapsed fraction of the current window) + cur.
            let elapsed = "(extract(epoch FROM excluded.last_acquisition_at - excluded.window_start) * 1000000 / $3::int8)"
            let elapsedSeen = "(extract(epoch FROM w.t - w.start) * 1000000 / $3::int8)"
            slidingWindow = try windowed(
                available: "floor($4::int8 - \(conflict.prev) * (1 - \(elapsed)) - \(conflict.cur))::int8",
                remaining: """
                    floor($4::int8 - d.previous_count * (1 - extract(epoch FROM d.last_acquisition_at - d.window_start) * 1000000 / $3::int8) \
                    - d.window_count)::int8
                    """,
                retry: """
                    CASE WHEN coalesce(\(seen.cur), 0) + $6::int8 > $4::int8 OR coalesce(\(seen.prev), 0) = 0 THEN \(untilNextWindow)
                         ELSE ceil((1 - ($4::int8 - coalesce(\(seen.cur), 0) - $6::int8)::float8 / \(seen.prev) - \(elapsedSeen)) * $3::int8)
                    END
                    """)

            // Slots: $1 limiter, $2 key, $3 slots wanted (max_concurrent).
            ensureSlots = try render("""
                INSERT INTO {{slots}} (group_id, key, slot)
                SELECT $1, $2, g FROM generate_series(0, $3::int4 - 1) g
                ON CONFLICT DO NOTHING
                """)
            // $1 limiter, $2 key, $3 max_concurrent, $4 holder, $5 lease (µs). A free slot (never held, released,
            // or its lease expired) is taken with a new fencing token; locked ones are skipped, so takers never
            // queue on each other. Without a free slot: when the first held one expires, and how many exist.
            takeSlot = try render("""
                WITH now AS (SELECT {{tusk_now}}() AS t),
                free AS (
                    SELECT sl.slot FROM {{slots}} sl
                     WHERE sl.group_id = $1 AND sl.key = $2 AND sl.slot < $3::int4
                       AND (sl.holder IS NULL OR sl.expires_at <= (SELECT t FROM now))
                     ORDER BY sl.slot LIMIT 1
                     FOR UPDATE OF sl SKIP LOCKED
                ),
                taken AS (
                    UPDATE {{slots}} sl
                       SET holder = $4, token = \(fencing), acquired_at = now.t, expires_at = now.t + $5::int8 \(us)
                      FROM free, now
                     WHERE sl.group_id = $1 AND sl.key = $2 AND sl.slot = free.slot
                    RETURNING sl.slot, sl.token
                )
                SELECT true, taken.slot, taken.token, 0::int8, 0::int8 FROM taken
                UNION ALL
                SELECT false, -1, 0::int8,
                       coalesce(greatest(1, ceil(extract(epoch FROM min(sl.expires_at) - (SELECT t FROM now)) * 1000000)), 1000000)::int8,
                       count(*)::int8
                  FROM {{slots}} sl
                 WHERE sl.group_id = $1 AND sl.key = $2 AND sl.slot < $3::int4 AND NOT EXISTS (SELECT 1 FROM taken)
                HAVING NOT EXISTS (SELECT 1 FROM taken)
                """)
            // $1 limiter, $2 key, $3 slot, $4 token, $5 channel, $6 payload. Only the holder (same token) frees
            // it; a NOTIFY in the same transaction wakes waiters.
            releaseSlot = try render("""
                WITH r AS (
                    UPDATE {{slots}} SET holder = NULL, token = NULL, acquired_at = NULL, expires_at = NULL
                     WHERE group_id = $1 AND key = $2 AND slot = $3::int4 AND token = $4::int8
                    RETURNING 1
                )
                SELECT count(*)::int8 FROM (SELECT pg_notify($5, $6) FROM r) n
                """)
            // $1 limiter, $2 key, $3 slot, $4 token, $5 lease (µs). No row: the lease was taken over (fenced).
            renewSlot = try render("""
                UPDATE {{slots}} SET expires_at = {{tusk_now}}() + $5::int8 \(us)
                 WHERE group_id = $1 AND key = $2 AND slot = $3::int4 AND token = $4::int8
                RETURNING 1
                """)
            // Idle per-key rows: $1 limiter, $2 idle for (µs), $3 batch size. The limiter's own row (key '') stays.
            cleanup = try render("""
                WITH idle AS (
                    SELECT ctid FROM {{state}}
                     WHERE group_id = $1 AND key <> '' AND updated_at < {{tusk_now}}() - $2::int8 \(us)
                       AND (tat IS NULL OR tat < {{tusk_now}}())
                     LIMIT $3::int8
                       FOR UPDATE SKIP LOCKED
                ), gone AS (
                    DELETE FROM {{state}} WHERE ctid IN (SELECT ctid FROM idle) RETURNING key
                )
                DELETE FROM {{slots}} sl USING gone
                 WHERE sl.group_id = $1 AND sl.key = gone.key AND sl.holder IS NULL
                """)
            // $1 limiter: keys, admissions counted, slots held (for `tusk limiter` and metrics).
            usage = try render("""
                SELECT (SELECT count(*) FROM {{state}} WHERE group_id = $1)::int8,
                       (SELECT coalesce(max(last_acquisition_at), 'epoch') FROM {{state}} WHERE group_id = $1),
                       (SELECT count(*) FROM {{slots}} WHERE group_id = $1 AND holder IS NOT NULL AND expires_at > {{tusk_now}}())::int8
                """)
            channel = Self.channel(for: names)
        }

        /// One channel per schema and table, shorter than PostgreSQL's 63-byte identifier limit.
        static func channel(for names: PGStoreNames) -> String {
            let table = (try? names.qualified("slots").quoted) ?? "slots"
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for b in table.utf8 {
                hash ^= UInt64(b)
                hash = hash &* 0x100_0000_01b3
            }
            return channelPrefix + String(hash, radix: 16)
        }
    }
}
