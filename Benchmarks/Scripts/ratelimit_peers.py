#!/usr/bin/env python3
"""The rate limiter peers for `tusk-store-bench ratelimit`. Prints one JSON object on stdout.

--peer pyrate:   pyrate-limiter's PostgresBucket (psycopg + psycopg_pool), `Limiter.try_acquire` from
                 64 threads (its bucket is synchronous; the Limiter serialises acquires with a lock).
--peer ratesync: rate-sync's PostgreSQL token bucket (`PostgresRateLimiter._acquire_token_bucket`) as its
                 code has it, re-implemented here with asyncpg, 64 asyncio tasks. rate-sync is not on PyPI
                 here; this is our re-implementation of its algorithm, labelled as such in the results.

The limit admits everything (1,000,000/s), so acquires/s measures decisions. The measured window excludes
interpreter start-up, imports, connecting and warm-up. CPU is getrusage(RUSAGE_SELF) over the window,
server CPU the postmaster tree's from /proc (--postmaster-pid), statements pg_stat_statements' calls in the
window (--admin-url: reset before, summed after, its own queries left out).
"""
import argparse
import asyncio
import json
import math
import os
import random
import resource
import sys
import threading
import time

RATE = 1_000_000
KEYS = 10_000


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


TICKS = os.sysconf("SC_CLK_TCK")


def server_cpu(pid):
    """utime+stime+cutime+cstime of the postmaster plus utime+stime of its live children."""
    if not pid:
        return None

    def stat(p):
        try:
            with open(f"/proc/{p}/stat") as f:
                text = f.read()
        except OSError:
            return None
        rest = text[text.rindex(")") + 2:].split()
        return int(rest[1]), [int(x) for x in rest[11:15]]

    root = stat(pid)
    if root is None:
        return None
    ticks = sum(root[1])
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != pid:
            s = stat(entry)
            if s and s[0] == pid:
                ticks += s[1][0] + s[1][1]
    return ticks / TICKS


class StatementCounter:
    """pg_stat_statements calls of this database in a window (psycopg, autocommit)."""

    SQL = """
        SELECT coalesce(sum(calls), 0)::int8 FROM pg_stat_statements
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND query NOT LIKE '%pg_stat_statements%'
    """

    def __init__(self, url):
        import psycopg
        self.conn = psycopg.connect(url, autocommit=True) if url else None

    def reset(self):
        if self.conn:
            self.conn.execute("SELECT pg_stat_statements_reset()")

    def calls(self):
        if not self.conn:
            return None
        return int(self.conn.execute(self.SQL).fetchone()[0])

    def close(self):
        if self.conn:
            self.conn.close()


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    rank = math.ceil(p / 100 * len(sorted_values)) - 1
    return sorted_values[min(max(rank, 0), len(sorted_values) - 1)]


class Window:
    """Phase switch and the measurements around the window."""

    def __init__(self, args):
        self.args = args
        self.phase = 0  # 0 warm-up, 1 measuring, 2 stopped
        self.counter = StatementCounter(args.admin_url)

    def begin(self):
        self.counter.reset()
        self.s0 = server_cpu(self.args.postmaster_pid)
        self.c0 = cpu()
        self.t0 = time.perf_counter()
        self.phase = 1

    def end(self):
        self.phase = 2
        self.seconds = time.perf_counter() - self.t0
        self.cpu = cpu() - self.c0
        s1 = server_cpu(self.args.postmaster_pid)
        self.server = None if self.s0 is None or s1 is None else s1 - self.s0
        self.statements = self.counter.calls()
        self.counter.close()

    def result(self, tallies, note):
        latencies = sorted(x for t in tallies for x in t["latencies"])
        ops = sum(t["ops"] for t in tallies)
        return {
            "operations": ops, "seconds": self.seconds, "cpu": self.cpu, "server_cpu": self.server,
            "statements": self.statements, "denied": sum(t["denied"] for t in tallies),
            "p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "note": note,
        }


def key_picker(workload, rng):
    if workload == "keys":
        return lambda: f"k{rng.randrange(KEYS)}"
    return lambda: "hot"


# ---------------------------------------------------------------- pyrate-limiter

def run_pyrate(args):
    from psycopg_pool import ConnectionPool
    from pyrate_limiter import Duration, Limiter, PostgresBucket, Rate

    pool = ConnectionPool(args.url, min_size=args.pool_size, max_size=args.pool_size, open=True)
    bucket = PostgresBucket(pool, f"tusk_bench_{args.workload}", [Rate(RATE, Duration.SECOND)])
    bucket.flush()
    limiter = Limiter(bucket)
    window = Window(args)
    tallies = []

    def worker(seed):
        rng = random.Random(seed)
        pick = key_picker(args.workload, rng)
        tally = {"ops": 0, "denied": 0, "latencies": []}
        tallies.append(tally)
        while True:
            before = window.phase
            if before == 2:
                break
            t0 = time.perf_counter()
            ok = limiter.try_acquire(pick(), blocking=True, timeout=5)
            elapsed = time.perf_counter() - t0
            if before == 1 and window.phase == 1:
                tally["ops"] += 1
                tally["latencies"].append(elapsed * 1e6)
                if not ok:
                    tally["denied"] += 1

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(args.concurrency)]
    for t in threads:
        t.start()
    time.sleep(args.warmup)
    window.begin()
    time.sleep(args.seconds)
    window.end()
    for t in threads:
        t.join(timeout=10)
    limiter.close()
    note = (f"Limiter.try_acquire(blocking=True), {args.concurrency} threads, psycopg_pool {args.pool_size} connections"
            + ("; item names as keys, one bucket (one limit for all keys)" if args.workload == "keys" else ""))
    return window.result(tallies, note)


# ---------------------------------------------------------------- rate-sync's algorithm

class RateSyncTokenBucket:
    """rate-sync's `PostgresRateLimiter` token bucket (`initialize`, `_create_table_if_not_exists`,
    `_acquire_token_bucket`), as its engine's code has it, without metrics and logging: SELECT … FOR UPDATE
    (autocommit, so the lock ends with the statement), the decision on the app's clock (time.time(), minus
    timing_margin_ms), then an UPDATE guarded by the version, retried after 1 ms when another process won."""

    def __init__(self, url, group_id, rate_per_second, table_name, pool_min_size=2, pool_max_size=10,
                 timing_margin_ms=10.0, max_concurrent=None):
        self._url = url
        self._group_id = group_id
        self._interval = 1.0 / rate_per_second
        self._max_concurrent = max_concurrent
        self._full_table_name = f"public.{table_name}"
        self._table_name = table_name
        self._pool_min_size = pool_min_size
        self._pool_max_size = pool_max_size
        self._timing_margin_s = timing_margin_ms / 1000.0
        self._pool = None

    async def initialize(self):
        import asyncpg
        self._pool = await asyncpg.create_pool(self._url, min_size=self._pool_min_size, max_size=self._pool_max_size)
        async with self._pool.acquire() as conn:
            await conn.execute(f"""
                CREATE TABLE IF NOT EXISTS {self._full_table_name} (
                    group_id VARCHAR(255) PRIMARY KEY,
                    last_acquisition_at TIMESTAMPTZ NOT NULL,
                    concurrent_count INTEGER NOT NULL DEFAULT 0,
                    version BIGINT NOT NULL DEFAULT 1
                );
                CREATE INDEX IF NOT EXISTS idx_{self._table_name}_group ON {self._full_table_name}(group_id);
            """)
            await conn.execute(f"DELETE FROM {self._full_table_name} WHERE group_id = $1", self._group_id)

    async def acquire(self):
        import asyncpg
        while True:
            now_ts = time.time()
            async with self._pool.acquire() as conn:
                row = await conn.fetchrow(
                    f"""
                    SELECT last_acquisition_at, concurrent_count, version
                    FROM {self._full_table_name}
                    WHERE group_id = $1
                    FOR UPDATE
                    """,
                    self._group_id,
                )
                if row is None:
                    try:
                        await conn.execute(
                            f"""
                            INSERT INTO {self._full_table_name}
                            (group_id, last_acquisition_at, concurrent_count, version)
                            VALUES ($1, to_timestamp($2), $3, 1)
                            """,
                            self._group_id, now_ts, 1 if self._max_concurrent else 0,
                        )
                        return
                    except asyncpg.exceptions.UniqueViolationError:
                        continue

                rate_ok = True
                if self._interval is not None:
                    last_acq = row["last_acquisition_at"].timestamp()
                    elapsed = now_ts - last_acq
                    required_interval = self._interval - self._timing_margin_s
                    rate_ok = elapsed >= required_interval

                concurrent_ok = True
                current_concurrent = row["concurrent_count"]
                if self._max_concurrent is not None and current_concurrent >= self._max_concurrent:
                    concurrent_ok = False

                if rate_ok and concurrent_ok:
                    new_concurrent = current_concurrent + 1 if self._max_concurrent else current_concurrent
                    result = await conn.execute(
                        f"""
                        UPDATE {self._full_table_name}
                        SET last_acquisition_at = to_timestamp($1),
                            concurrent_count = $2,
                            version = version + 1
                        WHERE group_id = $3 AND version = $4
                        """,
                        now_ts, new_concurrent, self._group_id, row["version"],
                    )
                    if result == "UPDATE 1":
                        return
                    # Optimistic lock failed, retry (rate-sync sleeps while still holding the pool connection).
                    await asyncio.sleep(0.001)
                    continue

                if not rate_ok:
                    last_acq = row["last_acquisition_at"].timestamp()
                    wait_time = self._interval - (now_ts - last_acq)
                    await asyncio.sleep(max(wait_time, 0.01))
                else:
                    await asyncio.sleep(0.01)

    async def close(self):
        await self._pool.close()


async def run_ratesync_async(args):
    limiter = RateSyncTokenBucket(args.url, "tusk-bench-hot", RATE, "ratesync_bench_state",
                                  pool_max_size=args.pool_size)
    await limiter.initialize()
    window = Window(args)
    tallies = []

    async def worker():
        tally = {"ops": 0, "denied": 0, "latencies": []}
        tallies.append(tally)
        while True:
            before = window.phase
            if before == 2:
                break
            t0 = time.perf_counter()
            await limiter.acquire()
            elapsed = time.perf_counter() - t0
            if before == 1 and window.phase == 1:
                tally["ops"] += 1
                tally["latencies"].append(elapsed * 1e6)

    tasks = [asyncio.create_task(worker()) for _ in range(args.concurrency)]
    await asyncio.sleep(args.warmup)
    window.begin()
    await asyncio.sleep(args.seconds)
    window.end()
    # Tasks finish their acquire in flight; under rate-sync's growing sleeps some may not: cancel those.
    done, pending = await asyncio.wait(tasks, timeout=1)
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for t in done:
        t.result()
    await limiter.close()
    return window.result(tallies, f"acquire() from {args.concurrency} asyncio tasks, asyncpg pool 2–{args.pool_size}, "
                                  f"timing_margin_ms 10; {len(pending)} tasks still in acquire 1 s after the window")


def run_ratesync(args):
    if args.workload != "hot":
        return {"unavailable": "rate-sync has no per-key limits (one group_id per limiter)"}
    return asyncio.run(run_ratesync_async(args))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--peer", choices=["pyrate", "ratesync"], required=True)
    p.add_argument("--workload", choices=["hot", "keys"], required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--admin-url")
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--warmup", type=float, default=1)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--pool-size", type=int, default=10)
    p.add_argument("--postmaster-pid", type=int)
    args = p.parse_args()
    result = run_pyrate(args) if args.peer == "pyrate" else run_ratesync(args)
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
