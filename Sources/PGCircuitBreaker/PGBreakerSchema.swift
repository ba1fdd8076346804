import PGStoreSupport

/// The circuit breaker's tables, functions, grants and statements.
///
/// `rc_circuit_breakers` keeps resilient-circuit's documented columns (`resource_key`, `state`,
/// `failure_count`, `open_until`, `created_at`, `updated_at`) and its five indexes, so the seed's monitoring
/// queries keep working, plus the columns the shared breaker needs: a `generation` bumped by every state
/// change (late outcomes and stale writers carry an older one and are ignored), the count window's last
/// outcomes (`recent_failed`, `recent_slow`), the half-open permits (`half_open_probes`, `probes_left`,
/// probe results and deadline) and `opened_count` for a growing cooldown. Time windows count outcomes in
/// `rc_circuit_breaker_buckets` (one row per breaker, generation and time bucket, upserted by flushes), and
/// every transition is a row of `rc_circuit_breaker_transitions` (who, when, from, to, why).
///
/// Every decision is one call of a PL/pgSQL function of the schema (one statement, one round trip) on the
/// database clock `tusk_now()`: the function locks the breaker's row, decides, writes the transition log
/// and sends the NOTIFY in the same transaction.
///
/// `state` is kept true on the database clock: the statement that ends a cooldown (the periodic refresh of
/// every running store, and the probe statement) moves an expired `OPEN` row to `HALF_OPEN`, so
/// `WHERE state = 'OPEN'` never lists a breaker whose cooldown ended more than one refresh interval ago.
public enum PGBreakerSchema {
    /// The store's definition for the migrator, the grant generator and `tusk setup breaker`.
    ///
    /// ```swift
    /// let migrator = PGMigrator(schema: try PGStoreIdentifier("public"), stores: [PGBreakerSchema.definition])
    /// ```
    public static let definition = PGStoreDefinition(
        name: "breaker",
        summary: "shared circuit breaker (PGCircuitBreaker)",
        objects: [
            "breakers": "rc_circuit_breakers",
            "buckets": "rc_circuit_breaker_buckets",
            "transitions": "rc_circuit_breaker_transitions",
            "touch_fn": "rc_circuit_breaker_touch",
            "note_fn": "rc_circuit_breaker_note",
            "flush_fn": "rc_circuit_breaker_flush",
            "refresh_fn": "rc_circuit_breaker_refresh",
            "probe_fn": "rc_circuit_breaker_probe",
            "result_fn": "rc_circuit_breaker_probe_result",
            "admin_fn": "rc_circuit_breaker_admin",
        ],
        mainObject: "breakers",
        migrations: [PGStoreMigration(version: 1, "breakers, buckets, transitions and decision functions", sql: migration1)],
        runtimePrivileges: [
            .table("breakers", [.select, .insert, .update, .delete]),
            .table("buckets", [.select, .insert, .update, .delete]),
            .table("transitions", [.select, .insert]),
            .function("flush_fn", signature: flushSignature),
            .function("refresh_fn", signature: "text[], text, text"),
            .function("probe_fn", signature: "text, text, text, bigint, integer"),
            .function("result_fn", signature: "text, bigint, boolean, integer, bigint, double precision, bigint, integer, text, text"),
            .function("admin_fn", signature: "text, text, bigint, bigint, integer, text, text, text"),
            .function("note_fn", signature: "text, text, text, bigint, timestamptz, timestamptz, text, text, text"),
        ])

    static let flushSignature = "text, bigint, integer, integer, integer, boolean[], boolean[], integer, bigint, bigint, "
        + "integer, integer, integer, integer, integer, bigint, double precision, bigint, integer, text, text"

    // The remaining cooldown in µs of a row (0 unless OPEN).
    private static let remaining = "CASE WHEN r.state = 'OPEN' THEN greatest(0, ceil(extract(epoch FROM r.open_until - v_now) * 1000000))::int8 ELSE 0::int8 END"

    static let migration1 = """
        CREATE TABLE {{breakers}} (
            resource_key varchar(255) PRIMARY KEY,
            state varchar(50) NOT NULL DEFAULT 'CLOSED'
                CHECK (state IN ('CLOSED', 'OPEN', 'HALF_OPEN', 'FORCED_OPEN', 'DISABLED')),
            failure_count integer NOT NULL DEFAULT 0,
            open_until timestamptz,
            created_at timestamptz DEFAULT now(),
            updated_at timestamptz DEFAULT now(),
            generation bigint NOT NULL DEFAULT 1,
            call_count integer NOT NULL DEFAULT 0,
            slow_count integer NOT NULL DEFAULT 0,
            recent_failed boolean[] NOT NULL DEFAULT '{}',
            recent_slow boolean[] NOT NULL DEFAULT '{}',
            half_open_probes integer NOT NULL DEFAULT 1,
            probes_left integer NOT NULL DEFAULT 0,
            probe_successes integer NOT NULL DEFAULT 0,
            probe_failures integer NOT NULL DEFAULT 0,
            probe_deadline timestamptz,
            opened_count integer NOT NULL DEFAULT 0,
            last_reason text
        ) WITH (fillfactor = 70);
        CREATE INDEX idx_rc_circuit_breakers_state ON {{breakers}} (state);
        CREATE INDEX idx_rc_circuit_breakers_open_until ON {{breakers}} (open_until);
        CREATE INDEX idx_rc_circuit_breakers_key_state ON {{breakers}} (resource_key, state);
        CREATE INDEX idx_rc_circuit_breakers_state_updated ON {{breakers}} (state, updated_at DESC);

        CREATE TABLE {{buckets}} (
            resource_key varchar(255) NOT NULL,
            generation bigint NOT NULL,
            bucket_start timestamptz NOT NULL,
            calls integer NOT NULL DEFAULT 0,
            failures integer NOT NULL DEFAULT 0,
            slow integer NOT NULL DEFAULT 0,
            PRIMARY KEY (resource_key, generation, bucket_start)
        ) WITH (fillfactor = 70);

        CREATE TABLE {{transitions}} (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            resource_key varchar(255) NOT NULL,
            at timestamptz NOT NULL,
            from_state varchar(50) NOT NULL,
            to_state varchar(50) NOT NULL,
            generation bigint NOT NULL,
            who text NOT NULL,
            why text NOT NULL
        );
        CREATE INDEX ON {{transitions}} (resource_key, at DESC);

        -- The seed's trigger: updated_at follows every change, on the store clock.
        CREATE FUNCTION {{touch_fn}}() RETURNS trigger LANGUAGE plpgsql AS $tusk$
        BEGIN NEW.updated_at := {{tusk_now}}(); RETURN NEW; END $tusk$;
        CREATE TRIGGER rc_circuit_breakers_touch BEFORE UPDATE ON {{breakers}}
            FOR EACH ROW EXECUTE FUNCTION {{touch_fn}}();

        -- A transition: one log row and one NOTIFY `<generation> <state> <remaining µs> <key>`.
        CREATE FUNCTION {{note_fn}}(p_key text, p_from text, p_to text, p_gen bigint, p_until timestamptz,
                                    p_now timestamptz, p_who text, p_why text, p_channel text)
        RETURNS void LANGUAGE plpgsql AS $tusk$
        BEGIN
            INSERT INTO {{transitions}} (resource_key, at, from_state, to_state, generation, who, why)
            VALUES (p_key, p_now, p_from, p_to, p_gen, p_who, p_why);
            PERFORM pg_notify(p_channel, p_gen || ' ' || p_to || ' '
                || coalesce(greatest(0, ceil(extract(epoch FROM p_until - p_now) * 1000000))::int8, 0) || ' ' || p_key);
        END $tusk$;

        -- Outcomes counted by one process under generation p_gen, and the decision to open.
        CREATE FUNCTION {{flush_fn}}(
            p_key text, p_gen bigint, p_calls integer, p_failures integer, p_slow integer,
            p_recent_failed boolean[], p_recent_slow boolean[],
            p_window_calls integer, p_window_ms bigint, p_bucket_ms bigint,
            p_fail_num integer, p_fail_den integer, p_min_calls integer, p_slow_num integer, p_slow_den integer,
            p_cooldown_ms bigint, p_growth double precision, p_max_cooldown_ms bigint, p_probes integer,
            p_who text, p_channel text)
        RETURNS TABLE (o_state text, o_gen bigint, o_remaining bigint) LANGUAGE plpgsql AS $tusk$
        DECLARE
            v_now timestamptz := {{tusk_now}}();
            r {{breakers}}%ROWTYPE;
            v_failed boolean[]; v_slowa boolean[];
            v_calls integer; v_fail integer; v_slow integer;
            v_why text; v_until timestamptz;
        BEGIN
            INSERT INTO {{breakers}} (resource_key, state, created_at, updated_at, half_open_probes)
            VALUES (p_key, 'CLOSED', v_now, v_now, p_probes) ON CONFLICT (resource_key) DO NOTHING;
            SELECT * INTO r FROM {{breakers}} WHERE resource_key = p_key FOR UPDATE;
            IF r.generation <> p_gen OR r.state <> 'CLOSED' THEN
                -- Outcomes from an earlier state: the breaker moved on, they count for nothing.
                RETURN QUERY SELECT r.state::text, r.generation, \(remaining);
                RETURN;
            END IF;
            IF p_window_ms > 0 THEN
                INSERT INTO {{buckets}} AS b (resource_key, generation, bucket_start, calls, failures, slow)
                VALUES (p_key, p_gen,
                        to_timestamp(floor(extract(epoch FROM v_now) * 1000 / p_bucket_ms) * p_bucket_ms / 1000.0),
                        p_calls, p_failures, p_slow)
                ON CONFLICT (resource_key, generation, bucket_start) DO UPDATE
                   SET calls = b.calls + excluded.calls, failures = b.failures + excluded.failures, slow = b.slow + excluded.slow;
                SELECT coalesce(sum(calls), 0), coalesce(sum(failures), 0), coalesce(sum(slow), 0)
                  INTO v_calls, v_fail, v_slow
                  FROM {{buckets}}
                 WHERE resource_key = p_key AND generation = p_gen
                   AND bucket_start > v_now - p_window_ms * interval '1 millisecond';
                v_failed := r.recent_failed; v_slowa := r.recent_slow;
                IF v_calls >= greatest(p_min_calls, 1) AND v_fail::int8 * p_fail_den >= p_fail_num::int8 * v_calls THEN
                    v_why := format('%s failures in %s calls within %s ms (limit %s/%s)', v_fail, v_calls, p_window_ms, p_fail_num, p_fail_den);
                END IF;
            ELSE
                v_failed := r.recent_failed || p_recent_failed;
                v_slowa := r.recent_slow || p_recent_slow;
                IF cardinality(v_failed) > p_window_calls THEN
                    v_failed := v_failed[cardinality(v_failed) - p_window_calls + 1:];
                END IF;
                IF cardinality(v_slowa) > p_window_calls THEN
                    v_slowa := v_slowa[cardinality(v_slowa) - p_window_calls + 1:];
                END IF;
                v_calls := cardinality(v_failed);
                v_fail := cardinality(array_positions(v_failed, true));
                v_slow := cardinality(array_positions(v_slowa, true));
                IF v_calls >= p_min_calls AND v_fail >= p_fail_num THEN
                    v_why := format('%s failures in the last %s calls (limit %s of %s)', v_fail, v_calls, p_fail_num, p_window_calls);
                END IF;
            END IF;
            IF v_why IS NULL AND p_slow_den > 0 AND v_calls >= greatest(p_min_calls, 1)
               AND v_slow::int8 * p_slow_den >= p_slow_num::int8 * v_calls THEN
                v_why := format('%s slow calls in %s (limit %s/%s)', v_slow, v_calls, p_slow_num, p_slow_den);
            END IF;
            IF v_why IS NOT NULL THEN
                v_until := v_now + least(p_max_cooldown_ms::float8, p_cooldown_ms * power(p_growth, least(r.opened_count, 60)))::int8
                                   * interval '1 millisecond';
                UPDATE {{breakers}}
                   SET state = 'OPEN', generation = r.generation + 1, failure_count = v_fail, call_count = v_calls,
                       slow_count = v_slow, open_until = v_until, recent_failed = '{}', recent_slow = '{}',
                       half_open_probes = p_probes, probes_left = p_probes, probe_successes = 0, probe_failures = 0,
                       probe_deadline = NULL, opened_count = r.opened_count + 1, last_reason = v_why
                 WHERE resource_key = p_key;
                PERFORM {{note_fn}}(p_key, 'CLOSED', 'OPEN', r.generation + 1, v_until, v_now, p_who, v_why, p_channel);
                RETURN QUERY SELECT 'OPEN'::text, r.generation + 1,
                                    greatest(0, ceil(extract(epoch FROM v_until - v_now) * 1000000))::int8;
            ELSE
                UPDATE {{breakers}}
                   SET failure_count = v_fail, call_count = v_calls, slow_count = v_slow,
                       recent_failed = v_failed, recent_slow = v_slowa
                 WHERE resource_key = p_key;
                RETURN QUERY SELECT 'CLOSED'::text, r.generation, 0::int8;
            END IF;
        END $tusk$;

        -- Ends every expired cooldown (OPEN -> HALF_OPEN) and returns the state of p_keys.
        CREATE FUNCTION {{refresh_fn}}(p_keys text[], p_who text, p_channel text)
        RETURNS TABLE (o_key text, o_state text, o_gen bigint, o_remaining bigint) LANGUAGE plpgsql AS $tusk$
        DECLARE
            v_now timestamptz := {{tusk_now}}();
            s record;
        BEGIN
            FOR s IN UPDATE {{breakers}}
                        SET state = 'HALF_OPEN', generation = generation + 1, probes_left = half_open_probes,
                            probe_successes = 0, probe_failures = 0, probe_deadline = NULL
                      WHERE state = 'OPEN' AND open_until <= v_now
                  RETURNING resource_key, generation
            LOOP
                PERFORM {{note_fn}}(s.resource_key, 'OPEN', 'HALF_OPEN', s.generation, NULL, v_now, p_who, 'cooldown ended', p_channel);
            END LOOP;
            DELETE FROM {{buckets}} b
             WHERE b.bucket_start < v_now - interval '1 day'
                OR NOT EXISTS (SELECT 1 FROM {{breakers}} r WHERE r.resource_key = b.resource_key AND r.generation = b.generation);
            RETURN QUERY
                SELECT r.resource_key::text, r.state::text, r.generation, \(remaining)
                  FROM {{breakers}} r WHERE r.resource_key = ANY (p_keys);
        END $tusk$;

        -- A half-open permit: one of the K probes the whole cluster may run. Ends an expired cooldown first,
        -- and starts a new round when every permit was handed out and none reported by its deadline.
        CREATE FUNCTION {{probe_fn}}(p_key text, p_who text, p_channel text, p_probe_timeout_ms bigint, p_probes integer)
        RETURNS TABLE (o_granted boolean, o_state text, o_gen bigint, o_remaining bigint) LANGUAGE plpgsql AS $tusk$
        DECLARE
            v_now timestamptz := {{tusk_now}}();
            r {{breakers}}%ROWTYPE;
        BEGIN
            SELECT * INTO r FROM {{breakers}} WHERE resource_key = p_key FOR UPDATE;
            IF NOT FOUND THEN
                RETURN QUERY SELECT false, 'CLOSED'::text, 1::int8, 0::int8;
                RETURN;
            END IF;
            IF r.state = 'OPEN' AND r.open_until <= v_now THEN
                UPDATE {{breakers}}
                   SET state = 'HALF_OPEN', generation = generation + 1, probes_left = half_open_probes,
                       probe_successes = 0, probe_failures = 0, probe_deadline = NULL
                 WHERE resource_key = p_key RETURNING * INTO r;
                PERFORM {{note_fn}}(p_key, 'OPEN', 'HALF_OPEN', r.generation, NULL, v_now, p_who, 'cooldown ended', p_channel);
            ELSIF r.state = 'HALF_OPEN' AND r.probes_left = 0 AND r.probe_deadline <= v_now THEN
                UPDATE {{breakers}}
                   SET generation = generation + 1, probes_left = half_open_probes,
                       probe_successes = 0, probe_failures = 0, probe_deadline = NULL
                 WHERE resource_key = p_key RETURNING * INTO r;
                PERFORM {{note_fn}}(p_key, 'HALF_OPEN', 'HALF_OPEN', r.generation, NULL, v_now, p_who,
                                    'probes did not report in time; new round', p_channel);
            END IF;
            IF r.state = 'HALF_OPEN' AND r.probes_left > 0 THEN
                UPDATE {{breakers}}
                   SET probes_left = probes_left - 1, probe_deadline = v_now + p_probe_timeout_ms * interval '1 millisecond'
                 WHERE resource_key = p_key;
                RETURN QUERY SELECT true, 'HALF_OPEN'::text, r.generation, 0::int8;
            ELSE
                RETURN QUERY SELECT false, r.state::text, r.generation, \(remaining);
            END IF;
        END $tusk$;

        -- A probe's outcome: closes after p_success_num successes, opens again when that can no longer happen.
        CREATE FUNCTION {{result_fn}}(p_key text, p_gen bigint, p_success boolean, p_success_num integer,
                                      p_cooldown_ms bigint, p_growth double precision, p_max_cooldown_ms bigint,
                                      p_probes integer, p_who text, p_channel text)
        RETURNS TABLE (o_state text, o_gen bigint, o_remaining bigint) LANGUAGE plpgsql AS $tusk$
        DECLARE
            v_now timestamptz := {{tusk_now}}();
            r {{breakers}}%ROWTYPE;
            v_until timestamptz;
        BEGIN
            SELECT * INTO r FROM {{breakers}} WHERE resource_key = p_key FOR UPDATE;
            IF NOT FOUND THEN
                RETURN QUERY SELECT 'CLOSED'::text, 1::int8, 0::int8;
                RETURN;
            END IF;
            IF r.generation <> p_gen OR r.state <> 'HALF_OPEN' THEN
                RETURN QUERY SELECT r.state::text, r.generation, \(remaining);
                RETURN;
            END IF;
            IF p_success THEN r.probe_successes := r.probe_successes + 1; ELSE r.probe_failures := r.probe_failures + 1; END IF;
            IF r.probe_successes >= p_success_num THEN
                UPDATE {{breakers}}
                   SET state = 'CLOSED', generation = r.generation + 1, open_until = NULL, failure_count = 0, call_count = 0,
                       slow_count = 0, recent_failed = '{}', recent_slow = '{}', probes_left = 0,
                       probe_successes = r.probe_successes, probe_failures = r.probe_failures, probe_deadline = NULL,
                       opened_count = 0, last_reason = format('%s of %s probes succeeded', r.probe_successes, r.half_open_probes)
                 WHERE resource_key = p_key;
                PERFORM {{note_fn}}(p_key, 'HALF_OPEN', 'CLOSED', r.generation + 1, NULL, v_now, p_who,
                                    format('%s of %s probes succeeded', r.probe_successes, r.half_open_probes), p_channel);
                RETURN QUERY SELECT 'CLOSED'::text, r.generation + 1, 0::int8;
            ELSIF r.probe_failures > r.half_open_probes - p_success_num THEN
                v_until := v_now + least(p_max_cooldown_ms::float8, p_cooldown_ms * power(p_growth, least(r.opened_count, 60)))::int8
                                   * interval '1 millisecond';
                UPDATE {{breakers}}
                   SET state = 'OPEN', generation = r.generation + 1, open_until = v_until, half_open_probes = p_probes,
                       probes_left = p_probes, probe_successes = 0, probe_failures = 0, probe_deadline = NULL,
                       opened_count = r.opened_count + 1, last_reason = 'a probe failed'
                 WHERE resource_key = p_key;
                PERFORM {{note_fn}}(p_key, 'HALF_OPEN', 'OPEN', r.generation + 1, v_until, v_now, p_who, 'a probe failed', p_channel);
                RETURN QUERY SELECT 'OPEN'::text, r.generation + 1,
                                    greatest(0, ceil(extract(epoch FROM v_until - v_now) * 1000000))::int8;
            ELSE
                UPDATE {{breakers}} SET probe_successes = r.probe_successes, probe_failures = r.probe_failures
                 WHERE resource_key = p_key;
                RETURN QUERY SELECT 'HALF_OPEN'::text, r.generation, 0::int8;
            END IF;
        END $tusk$;

        -- Admin states and reconciliation. p_target: OPEN, CLOSED, RESET, FORCED_OPEN, DISABLED.
        -- With p_if_gen set, the change happens only if the row is still CLOSED at that generation (a local OPEN
        -- published after an outage: a newer shared state wins).
        CREATE FUNCTION {{admin_fn}}(p_key text, p_target text, p_if_gen bigint, p_cooldown_ms bigint, p_probes integer,
                                     p_who text, p_why text, p_channel text)
        RETURNS TABLE (o_state text, o_gen bigint, o_remaining bigint) LANGUAGE plpgsql AS $tusk$
        DECLARE
            v_now timestamptz := {{tusk_now}}();
            r {{breakers}}%ROWTYPE;
            v_state text := CASE WHEN p_target = 'RESET' THEN 'CLOSED' ELSE p_target END;
            v_until timestamptz := CASE WHEN p_target = 'OPEN' THEN {{tusk_now}}() + p_cooldown_ms * interval '1 millisecond' END;
        BEGIN
            IF v_state NOT IN ('CLOSED', 'OPEN', 'FORCED_OPEN', 'DISABLED') THEN
                RAISE EXCEPTION 'unknown breaker state %', p_target USING ERRCODE = '22023';
            END IF;
            INSERT INTO {{breakers}} (resource_key, state, created_at, updated_at, half_open_probes)
            VALUES (p_key, 'CLOSED', v_now, v_now, p_probes) ON CONFLICT (resource_key) DO NOTHING;
            SELECT * INTO r FROM {{breakers}} WHERE resource_key = p_key FOR UPDATE;
            IF p_if_gen IS NOT NULL AND (r.generation <> p_if_gen OR r.state <> 'CLOSED') THEN
                RETURN QUERY SELECT r.state::text, r.generation, \(remaining);
                RETURN;
            END IF;
            UPDATE {{breakers}}
               SET state = v_state, generation = r.generation + 1, open_until = v_until,
                   failure_count = CASE WHEN v_state = 'OPEN' THEN failure_count ELSE 0 END,
                   call_count = 0, slow_count = 0, recent_failed = '{}', recent_slow = '{}',
                   half_open_probes = p_probes, probes_left = CASE WHEN v_state = 'OPEN' THEN p_probes ELSE 0 END,
                   probe_successes = 0, probe_failures = 0, probe_deadline = NULL,
                   opened_count = CASE WHEN p_target = 'RESET' THEN 0 WHEN v_state = 'OPEN' THEN opened_count + 1 ELSE opened_count END,
                   last_reason = p_why
             WHERE resource_key = p_key;
            PERFORM {{note_fn}}(p_key, r.state, v_state, r.generation + 1, v_until, v_now, p_who, p_why, p_channel);
            RETURN QUERY SELECT v_state, r.generation + 1,
                                coalesce(greatest(0, ceil(extract(epoch FROM v_until - v_now) * 1000000))::int8, 0::int8);
        END $tusk$;
        """

    /// The NOTIFY channel prefix (one channel per schema and table).
    static let channelPrefix = "tusk_breaker_"

    /// The statements, rendered for one schema and set of names.
    struct Statements: Sendable {
        let flush: String
        let refresh: String
        let probe: String
        let probeResult: String
        let admin: String
        let list: String
        let transitions: String
        let channel: String

        init(names: PGStoreNames) throws(PGStoreError) {
            flush = try names.render("SELECT o_state, o_gen, o_remaining FROM {{flush_fn}}("
                + (1...21).map { "$\($0)" }.joined(separator: ", ") + ")")
            refresh = try names.render("SELECT o_key, o_state, o_gen, o_remaining FROM {{refresh_fn}}($1::text[], $2, $3)")
            probe = try names.render("SELECT o_granted, o_state, o_gen, o_remaining FROM {{probe_fn}}($1, $2, $3, $4, $5)")
            probeResult = try names.render("SELECT o_state, o_gen, o_remaining FROM {{result_fn}}($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
            admin = try names.render("SELECT o_state, o_gen, o_remaining FROM {{admin_fn}}($1, $2, $3, $4, $5, $6, $7, $8)")
            list = try names.render("""
                SELECT resource_key::text, state::text, generation, failure_count, call_count, open_until, updated_at,
                       coalesce(last_reason, '')
                  FROM {{breakers}} ORDER BY resource_key
                """)
            transitions = try names.render("""
                SELECT resource_key::text, at, from_state::text, to_state::text, generation, who, why
                  FROM {{transitions}} WHERE resource_key = $1 ORDER BY id DESC LIMIT $2
                """)
            channel = Self.channel(for: names)
        }

        /// One channel per schema and table, shorter than PostgreSQL's 63-byte identifier limit.
        static func channel(for names: PGStoreNames) -> String {
            let table = (try? names.qualified("breakers").quoted) ?? "breakers"
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for b in table.utf8 {
                hash ^= UInt64(b)
                hash = hash &* 0x100_0000_01b3
            }
            return channelPrefix + String(hash, radix: 16)
        }
    }
}
