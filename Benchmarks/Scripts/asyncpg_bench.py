#!/usr/bin/env python3
"""One asyncpg workload run for tusk-bench. Prints one JSON object on stdout.

The measured window excludes interpreter start-up, imports, connecting and warm-up; CPU is this
process's getrusage(RUSAGE_SELF) around the window, server CPU the postmaster tree's from /proc
(when --postmaster-pid is given). Results are checked the same way as for the Swift clients.
"""
import argparse
import asyncio
import json
import os
import resource
import ssl
import sys
import time

import asyncpg

try:
    import uvloop
except ImportError:  # plain asyncio loop
    uvloop = None

ADD_ONE = "SELECT $1::int4 + 1"
DECODE = "SELECT i, i::text, i * 1.5::float8, now() FROM generate_series(1, $1::int4) i"
COPY_TABLE = "tusk_bench_copy"
CHANNEL = "tusk_bench"


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


class Window:
    def __init__(self, pid):
        self.pid = pid

    def __enter__(self):
        self.s0 = server_cpu(self.pid)
        self.c0 = cpu()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.cpu = cpu() - self.c0
        s1 = server_cpu(self.pid)
        self.server = None if self.s0 is None or s1 is None else s1 - self.s0
        return False


def expected_add_one_sum(n):
    return sum((i & 0xFFFF) + 1 for i in range(n))


def check(cond, what):
    if not cond:
        raise SystemExit(f"wrong result: {what}")


async def add_one(conn, v):
    return await conn.fetchval(ADD_ONE, v)


async def w1(a):
    conn = await asyncpg.connect(a.url)
    for i in range(200):
        await add_one(conn, i)
    total = 0
    with Window(a.postmaster_pid) as w:
        for i in range(a.n):
            total += await add_one(conn, i & 0xFFFF)
    check(total == expected_add_one_sum(a.n), f"W1 sum {total}")
    await conn.close()
    return w, a.n, None


async def w2(a):
    pool = await asyncpg.create_pool(a.url, min_size=8, max_size=8)
    tasks = 64

    # Each task holds a pooled connection for all its queries: an asyncpg connection runs one
    # query at a time, and acquiring per query would add a round trip per query (release runs
    # asyncpg's reset query). So at most 8 of the 64 tasks run at once.
    async def run(t, n):
        s = 0
        i = t
        async with pool.acquire() as conn:
            while i < n:
                s += await add_one(conn, i & 0xFFFF)
                i += tasks
        return s

    await asyncio.gather(*(run(t, 400) for t in range(tasks)))
    with Window(a.postmaster_pid) as w:
        sums = await asyncio.gather(*(run(t, a.n) for t in range(tasks)))
    check(sum(sums) == expected_add_one_sum(a.n), f"W2 sum {sum(sums)}")
    await pool.close()
    return w, a.n, "asyncpg.Pool(8); each of 64 tasks holds a connection for its queries (one query in flight per connection)"


async def w3(a):
    conn = await asyncpg.connect(a.url)
    await conn.fetch(DECODE, 10)
    count = sum_i = sum_len = 0
    sum_d = 0.0
    last = None
    with Window(a.postmaster_pid) as w:
        # fetch() decodes every column into Python values (int, str, float, datetime).
        for i, s, d, t in await conn.fetch(DECODE, a.n):
            count += 1
            sum_i += i
            sum_len += len(s)
            sum_d += d
            last = t
    n = a.n
    check(count == n, f"W3 count {count}")
    check(sum_i == n * (n + 1) // 2, f"W3 sum(i) {sum_i}")
    check(sum_len == sum(len(str(x)) for x in range(1, n + 1)), f"W3 text length {sum_len}")
    exp = 1.5 * n * (n + 1) / 2
    check(abs(sum_d - exp) <= exp * 1e-9, f"W3 sum(float) {sum_d}")
    check(last is not None and abs(time.time() - last.timestamp()) < 3600, f"W3 now() {last}")
    await conn.close()
    return w, n, "fetch() (whole result in memory), decoded to Python objects"


async def w4(a):
    conn = await asyncpg.connect(a.url)
    await conn.execute(f"DROP TABLE IF EXISTS {COPY_TABLE}")
    await conn.execute(f"CREATE UNLOGGED TABLE {COPY_TABLE} (a int8, b text, c float8)")
    n = a.n
    with Window(a.postmaster_pid) as w:
        records = ((i, f"row-{i}", i * 0.5) for i in range(1, n + 1))
        await conn.copy_records_to_table(COPY_TABLE, records=records, columns=["a", "b", "c"])
    count, sum_a, sum_len = await conn.fetchrow(
        f"SELECT count(*)::int8, coalesce(sum(a), 0)::int8, coalesce(sum(length(b)), 0)::int8 FROM {COPY_TABLE}")
    check(count == n, f"W4 count {count}")
    check(sum_a == n * (n + 1) // 2, f"W4 sum(a) {sum_a}")
    check(sum_len == 4 * n + sum(len(str(x)) for x in range(1, n + 1)), f"W4 sum(length(b)) {sum_len}")
    await conn.close()
    return w, n, "copy_records_to_table (binary COPY), records generated in the window"


async def w5(a):
    listener = await asyncpg.connect(a.url)
    sender = await asyncpg.connect(a.url)
    queue = asyncio.Queue()
    await listener.add_listener(CHANNEL, lambda c, pid, ch, payload: queue.put_nowait(payload))

    async def once(i):
        t0 = time.perf_counter()
        await sender.fetchval("SELECT pg_notify($1, $2)", CHANNEL, str(i))
        payload = await queue.get()
        dt = time.perf_counter() - t0
        check(payload == str(i), f"W5 payload {payload} != {i}")
        return dt * 1e6

    for i in range(50):
        await once(-i - 1)
    lat = []
    with Window(a.postmaster_pid) as w:
        for i in range(a.n):
            lat.append(await once(i))
    lat.sort()
    await listener.close()
    await sender.close()

    def pct(p):
        import math
        return lat[min(max(math.ceil(p / 100 * len(lat)) - 1, 0), len(lat) - 1)]

    return w, a.n, {"p50": pct(50), "p99": pct(99), "note": "pg_notify on a second connection, wait for delivery"}


async def w7(a, use_ssl=False):
    kwargs = {}
    if use_ssl:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        kwargs["ssl"] = ctx
    for _ in range(5):
        await (await asyncpg.connect(a.url, **kwargs)).close()
    with Window(a.postmaster_pid) as w:
        for _ in range(a.n):
            conn = await asyncpg.connect(a.url, **kwargs)
            await conn.close()
    return w, a.n, "TLS without certificate verification" if use_ssl else None


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--workload", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--postmaster-pid", type=int, default=0)
    a = p.parse_args()
    fn = {"W1": w1, "W2": w2, "W3": w3, "W4": w4, "W5": w5, "W7": w7,
          "W7-TLS": lambda a: w7(a, use_ssl=True)}.get(a.workload)
    if fn is None:
        print(json.dumps({"unavailable": "asyncpg has no pipelining API that returns results"
                          if a.workload == "W6" else f"unknown workload {a.workload}"}))
        return
    w, ops, extra = await fn(a)
    out = {"operations": ops, "seconds": w.seconds, "cpu": w.cpu, "server_cpu": w.server,
           "loop": "uvloop" if uvloop else "asyncio"}
    if isinstance(extra, dict):
        out.update(extra)
    elif extra:
        out["note"] = extra
    print(json.dumps(out))


if __name__ == "__main__":
    if uvloop is not None:
        uvloop.run(main())
    else:
        asyncio.run(main())
