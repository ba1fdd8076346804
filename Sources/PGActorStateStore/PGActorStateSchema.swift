import PGStoreSupport

/// The actor state store's tables, functions, triggers, grants and statements.
///
/// `actor_states` keeps Trebuchet's columns (`actor_id`, `state` bytea, `sequence_number`, `updated_at`,
/// `created_at`) and its two indexes, so the seed's "Verify Setup" and monitoring SQL work, plus:
/// - `deleted`: a tombstone. A delete keeps the row and bumps `sequence_number`, so sequences never restart and a
///   writer holding a pre-delete sequence can't write over a delete-and-recreate (no ABA).
/// - `fence_token`, `lease_holder`, `lease_expires_at`: the activation lease (a fencing token from
///   `tusk_fencing`, the holder, the expiry on `tusk_now()`).
///
/// Every change of state (a save or a delete) fires the seed's trigger function `notify_actor_state_change`,
/// which appends a row to the ordered change log `actor_state_change_log` in the same transaction and sends the
/// seed's NOTIFY on `actor_state_changes` (`{"actorID", "sequenceNumber", "timestamp"}` plus `deleted`). The
/// NOTIFY only wakes readers: subscribers read the log by `(txid, position)` below the snapshot's xmin, so a
/// row is delivered only once every transaction that could still add an earlier one has ended.
public enum PGActorStateSchema {
    /// The store's definition for the migrator, the grant generator and `tusk setup actors`.
    ///
    /// ```swift
    /// let migrator = PGMigrator(schema: try PGStoreIdentifier("public"), stores: [PGActorStateSchema.definition])
    /// ```
    public static let definition = PGStoreDefinition(
        name: "actors",
        summary: "actor state with compare-and-set, fenced activations and a change stream (PGActorStateStore)",
        objects: [
            "states": "actor_states",
            "changes": "actor_state_change_log",
            "log_meta": "actor_state_change_log_meta",
            "notify_fn": "notify_actor_state_change",
            "order_fn": "actor_state_log_order",
            "save_fn": "actor_state_save",
            "delete_fn": "actor_state_delete",
            "activate_fn": "actor_state_activate",
            "prune_fn": "actor_state_prune_changes",
        ],
        mainObject: "states",
        migrations: [PGStoreMigration(version: 1, "actor_states, change log, save/delete/activate functions", sql: migration1)],
        runtimePrivileges: [
            .table("states", [.select, .insert, .update, .delete]),
            .table("changes", [.select, .insert, .delete]),
            .table("log_meta", [.select, .update]),
            .function("save_fn", signature: "text, bytea, boolean, bigint, bigint"),
            .function("delete_fn", signature: "text, boolean, bigint, bigint"),
            .function("activate_fn", signature: "text, text, bigint, bigint"),
            .function("prune_fn", signature: "bigint"),
        ])

    /// The seed's channel (fixed: its monitoring and `LISTEN actor_state_changes` rely on the name).
    public static let channel = "actor_state_changes"

    static let migration1 = """
        CREATE TABLE {{states}} (
            actor_id varchar(255) PRIMARY KEY,
            state bytea NOT NULL,
            sequence_number bigint NOT NULL DEFAULT 0,
            updated_at timestamptz NOT NULL DEFAULT now(),
            created_at timestamptz NOT NULL DEFAULT now(),
            deleted boolean NOT NULL DEFAULT false,
            fence_token bigint,
            lease_holder text,
            lease_expires_at timestamptz,
            log_txid bigint NOT NULL DEFAULT 0
        ) WITH (fillfactor = 80);
        CREATE INDEX idx_actor_states_updated ON {{states}} (updated_at);
        CREATE INDEX idx_actor_states_sequence ON {{states}} (sequence_number);

        CREATE TABLE {{changes}} (
            position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            txid bigint NOT NULL,
            actor_id varchar(255) NOT NULL,
            sequence_number bigint NOT NULL,
            deleted boolean NOT NULL,
            changed_at timestamptz NOT NULL
        );
        CREATE INDEX ON {{changes}} (txid, position);
        CREATE INDEX ON {{changes}} (changed_at);

        -- Everything with txid <= pruned_through was removed from the log: a reader behind it must reload.
        CREATE TABLE {{log_meta}} (
            id boolean PRIMARY KEY DEFAULT true CHECK (id),
            pruned_through bigint NOT NULL DEFAULT 0
        );
        INSERT INTO {{log_meta}} DEFAULT VALUES;

        -- The log key of a change: the writing transaction's id, but never below the key of the actor's previous
        -- change. Writers of one actor are serialised by its row lock, yet a later writer may hold an older
        -- transaction id; carrying the key forward keeps each actor's changes in sequence order in the log, and a
        -- key is still never below its own transaction's id, so rows below a reader's xmin are final.
        CREATE FUNCTION {{order_fn}}() RETURNS trigger LANGUAGE plpgsql AS $tusk$
        BEGIN
            NEW.log_txid := pg_current_xact_id()::text::int8;
            IF TG_OP = 'UPDATE' THEN NEW.log_txid := greatest(NEW.log_txid, OLD.log_txid); END IF;
            RETURN NEW;
        END $tusk$;
        CREATE TRIGGER actor_state_order_trigger BEFORE INSERT OR UPDATE ON {{states}}
            FOR EACH ROW EXECUTE FUNCTION {{order_fn}}();

        -- The seed's trigger function: one log row in the writing transaction, then the seed's NOTIFY.
        CREATE FUNCTION {{notify_fn}}() RETURNS trigger LANGUAGE plpgsql AS $tusk$
        BEGIN
            INSERT INTO {{changes}} (txid, actor_id, sequence_number, deleted, changed_at)
            VALUES (NEW.log_txid, NEW.actor_id, NEW.sequence_number, NEW.deleted, {{tusk_now}}());
            PERFORM pg_notify('actor_state_changes', json_build_object(
                'actorID', NEW.actor_id,
                'sequenceNumber', NEW.sequence_number,
                'timestamp', EXTRACT(EPOCH FROM NEW.updated_at),
                'deleted', NEW.deleted)::text);
            RETURN NEW;
        END $tusk$;
        CREATE TRIGGER actor_state_change_trigger AFTER INSERT ON {{states}}
            FOR EACH ROW WHEN (NOT NEW.deleted) EXECUTE FUNCTION {{notify_fn}}();
        CREATE TRIGGER actor_state_change_update_trigger AFTER UPDATE ON {{states}}
            FOR EACH ROW WHEN (OLD.sequence_number IS DISTINCT FROM NEW.sequence_number OR OLD.deleted IS DISTINCT FROM NEW.deleted)
            EXECUTE FUNCTION {{notify_fn}}();

        -- A save: blind (p_check false) or compare-and-set against p_expected (0: no state yet), fenced by the
        -- activation token p_token (NULL: refused while someone else holds a live activation).
        -- Outcomes: saved (o_seq the new sequence), conflict (o_seq and o_state the current ones), fenced.
        CREATE FUNCTION {{save_fn}}(p_id text, p_state bytea, p_check boolean, p_expected bigint, p_token bigint)
        RETURNS TABLE (o_outcome text, o_seq bigint, o_state bytea, o_token bigint) LANGUAGE plpgsql AS $tusk$
        DECLARE
            r record;
            v_now timestamptz := {{tusk_now}}();
        BEGIN
            LOOP
                SELECT s.sequence_number AS seq, s.deleted, s.state, s.fence_token, s.lease_expires_at INTO r
                  FROM {{states}} s WHERE s.actor_id = p_id FOR UPDATE;
                EXIT WHEN FOUND;
                IF p_token IS NOT NULL THEN
                    RETURN QUERY SELECT 'fenced'::text, 0::int8, NULL::bytea, NULL::int8;
                    RETURN;
                END IF;
                IF p_check AND p_expected <> 0 THEN
                    RETURN QUERY SELECT 'conflict'::text, 0::int8, NULL::bytea, NULL::int8;
                    RETURN;
                END IF;
                INSERT INTO {{states}} (actor_id, state, sequence_number, updated_at, created_at)
                VALUES (p_id, p_state, 1, v_now, v_now) ON CONFLICT (actor_id) DO NOTHING;
                IF FOUND THEN
                    RETURN QUERY SELECT 'saved'::text, 1::int8, NULL::bytea, NULL::int8;
                    RETURN;
                END IF;
                -- Another writer created the row first: decide against it.
            END LOOP;
            IF (p_token IS NOT NULL AND r.fence_token IS DISTINCT FROM p_token)
               OR (p_token IS NULL AND r.fence_token IS NOT NULL AND r.lease_expires_at > v_now) THEN
                RETURN QUERY SELECT 'fenced'::text, r.seq, NULL::bytea, r.fence_token;
                RETURN;
            END IF;
            IF p_check AND r.seq <> p_expected THEN
                RETURN QUERY SELECT 'conflict'::text, r.seq, CASE WHEN r.deleted THEN NULL ELSE r.state END, r.fence_token;
                RETURN;
            END IF;
            UPDATE {{states}}
               SET state = p_state, sequence_number = r.seq + 1, updated_at = v_now, deleted = false,
                   created_at = CASE WHEN r.deleted THEN v_now ELSE created_at END
             WHERE actor_id = p_id;
            RETURN QUERY SELECT 'saved'::text, r.seq + 1, NULL::bytea, r.fence_token;
        END $tusk$;

        -- A delete leaves a tombstone whose sequence keeps counting. Outcomes: deleted, absent, conflict, fenced.
        CREATE FUNCTION {{delete_fn}}(p_id text, p_check boolean, p_expected bigint, p_token bigint)
        RETURNS TABLE (o_outcome text, o_seq bigint) LANGUAGE plpgsql AS $tusk$
        DECLARE
            r record;
            v_now timestamptz := {{tusk_now}}();
        BEGIN
            SELECT s.sequence_number AS seq, s.deleted, s.fence_token, s.lease_expires_at INTO r
              FROM {{states}} s WHERE s.actor_id = p_id FOR UPDATE;
            IF NOT FOUND THEN
                IF p_token IS NOT NULL THEN RETURN QUERY SELECT 'fenced'::text, 0::int8; RETURN; END IF;
                IF p_check AND p_expected <> 0 THEN RETURN QUERY SELECT 'conflict'::text, 0::int8; RETURN; END IF;
                RETURN QUERY SELECT 'absent'::text, 0::int8;
                RETURN;
            END IF;
            IF (p_token IS NOT NULL AND r.fence_token IS DISTINCT FROM p_token)
               OR (p_token IS NULL AND r.fence_token IS NOT NULL AND r.lease_expires_at > v_now) THEN
                RETURN QUERY SELECT 'fenced'::text, r.seq;
                RETURN;
            END IF;
            IF p_check AND r.seq <> p_expected THEN RETURN QUERY SELECT 'conflict'::text, r.seq; RETURN; END IF;
            IF r.deleted THEN RETURN QUERY SELECT 'absent'::text, r.seq; RETURN; END IF;
            UPDATE {{states}} SET state = '\\x'::bytea, deleted = true, sequence_number = r.seq + 1, updated_at = v_now
             WHERE actor_id = p_id;
            RETURN QUERY SELECT 'deleted'::text, r.seq + 1;
        END $tusk$;

        -- An activation lease: granted when free, expired, or already this holder's; a new fencing token
        -- (p_token, drawn from tusk_fencing by the caller's statement) fences every older activation out.
        CREATE FUNCTION {{activate_fn}}(p_id text, p_holder text, p_lease_ms bigint, p_token bigint)
        RETURNS TABLE (o_granted boolean, o_token bigint, o_holder text, o_expires timestamptz) LANGUAGE plpgsql AS $tusk$
        DECLARE
            r record;
            v_now timestamptz := {{tusk_now}}();
            v_until timestamptz := {{tusk_now}}() + p_lease_ms * interval '1 millisecond';
        BEGIN
            INSERT INTO {{states}} (actor_id, state, sequence_number, updated_at, created_at, deleted)
            VALUES (p_id, '\\x'::bytea, 0, v_now, v_now, true) ON CONFLICT (actor_id) DO NOTHING;
            SELECT s.fence_token, s.lease_holder, s.lease_expires_at INTO r FROM {{states}} s WHERE s.actor_id = p_id FOR UPDATE;
            IF r.fence_token IS NOT NULL AND r.lease_expires_at > v_now AND r.lease_holder IS DISTINCT FROM p_holder THEN
                RETURN QUERY SELECT false, r.fence_token, r.lease_holder, r.lease_expires_at;
                RETURN;
            END IF;
            UPDATE {{states}} SET fence_token = p_token, lease_holder = p_holder, lease_expires_at = v_until
             WHERE actor_id = p_id;
            RETURN QUERY SELECT true, p_token, p_holder, v_until;
        END $tusk$;

        -- Removes log rows older than p_older_ms of finished transactions; returns how many.
        CREATE FUNCTION {{prune_fn}}(p_older_ms bigint) RETURNS bigint LANGUAGE plpgsql AS $tusk$
        DECLARE
            v_xmin bigint := pg_snapshot_xmin(pg_current_snapshot())::text::int8;
            v_through bigint;
            v_count bigint;
        BEGIN
            SELECT max(txid) INTO v_through FROM {{changes}}
             WHERE changed_at < {{tusk_now}}() - p_older_ms * interval '1 millisecond' AND txid < v_xmin;
            IF v_through IS NULL THEN RETURN 0; END IF;
            UPDATE {{log_meta}} SET pruned_through = greatest(pruned_through, v_through);
            DELETE FROM {{changes}} WHERE txid <= v_through;
            GET DIAGNOSTICS v_count = ROW_COUNT;
            RETURN v_count;
        END $tusk$;
        """

    /// The statements, rendered once for one schema and set of names.
    struct Statements: Sendable {
        let save: String
        let delete: String
        let load: String
        let exists: String
        let sequence: String
        let activate: String
        let renew: String
        let release: String
        let readChanges: String
        let placeholder: String
        let lockRow: String
        let startPosition: String
        let prune: String

        init(names: PGStoreNames) throws(PGStoreError) {
            let fencing = PGStoreFencing(schema: names.schema).sqlNextToken
            save = try names.render("SELECT o_outcome, o_seq, o_state, o_token FROM {{save_fn}}($1, $2, $3, $4, $5)")
            delete = try names.render("SELECT o_outcome, o_seq FROM {{delete_fn}}($1, $2, $3, $4)")
            load = try names.render("SELECT sequence_number, deleted, state FROM {{states}} WHERE actor_id = $1")
            exists = try names.render("SELECT EXISTS (SELECT 1 FROM {{states}} WHERE actor_id = $1 AND NOT deleted)")
            sequence = try names.render("SELECT coalesce((SELECT sequence_number FROM {{states}} WHERE actor_id = $1), 0::int8)")
            activate = try names.render("SELECT o_granted, o_token, o_holder, o_expires FROM {{activate_fn}}($1, $2, $3, \(fencing))")
            renew = try names.render("""
                UPDATE {{states}} SET lease_expires_at = {{tusk_now}}() + $3 * interval '1 millisecond'
                 WHERE actor_id = $1 AND fence_token = $2 RETURNING lease_expires_at
                """)
            release = try names.render("""
                UPDATE {{states}} SET fence_token = NULL, lease_holder = NULL, lease_expires_at = NULL
                 WHERE actor_id = $1 AND fence_token = $2
                """)
            // One round trip: the snapshot's xmin (every transaction below it has ended, so no log row below it
            // can still appear), the prune mark, whether rows of running transactions wait, and the next batch.
            readChanges = try names.render("""
                WITH b AS (
                    SELECT pg_snapshot_xmin(pg_current_snapshot())::text::int8 AS xmin,
                           (SELECT pruned_through FROM {{log_meta}}) AS pruned)
                SELECT c.position, c.txid, c.actor_id::text, c.sequence_number, c.deleted, c.changed_at, b.xmin, b.pruned,
                       EXISTS (SELECT 1 FROM {{changes}} p WHERE p.txid >= b.xmin) AS pending
                  FROM b LEFT JOIN LATERAL (
                      SELECT * FROM {{changes}} l
                       WHERE (l.txid, l.position) > ($1, $2) AND l.txid < b.xmin
                       ORDER BY l.txid, l.position LIMIT $3) c ON true
                """)
            placeholder = try names.render("""
                INSERT INTO {{states}} (actor_id, state, sequence_number, deleted) VALUES ($1, '\\x'::bytea, 0, true)
                ON CONFLICT (actor_id) DO NOTHING
                """)
            lockRow = try names.render("SELECT sequence_number, deleted, state FROM {{states}} WHERE actor_id = $1 FOR UPDATE")
            startPosition = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::int8 - 1"
            prune = try names.render("SELECT {{prune_fn}}($1)")
        }
    }
}
