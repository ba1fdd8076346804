import Foundation
import PGClient
import PGStoreSupport
import Synchronization

/// One queue: produce, lease, complete, retry and extend in batches — one statement per partition touched,
/// never one per item. Every lease carries a fencing token from the database; complete, retry and extend
/// check it, so a holder whose lease expired and was handed on gets ``PGQueueOutcome/fenced`` and changes
/// nothing.
///
/// ```swift
/// let q = try await store.queue("emails")
/// _ = try await q.produce([PGQueueItem(payload: Data("hi".utf8), sourceID: "mail-1")])
/// let items = try await q.lease(max: 10)
/// let outcomes = try await q.complete(items)          // [.done] or [.fenced] per item
/// ```
public final class PGWorkQueue: Sendable {
    /// The settings read when the queue was opened.
    public let settings: PGQueueSettings
    /// The MD5 prefix in its table names.
    public let tableHash: String
    let statements: [PGWorkQueueSchema.Statements]
    let deadExpireMilliseconds: Int64
    // Strong: a queue outliving its store variable keeps working (shutdown() breaks the cycle).
    let store: PGWorkQueueStore
    let next = Atomic<Int>(0)
    let wakeup = PGQueueWakeup()

    init(settings: PGQueueSettings, hash: String, statements: [PGWorkQueueSchema.Statements], deadExpireMilliseconds: Int64,
         store: PGWorkQueueStore) {
        self.settings = settings
        self.tableHash = hash
        self.statements = statements
        self.deadExpireMilliseconds = deadExpireMilliseconds
        self.store = store
    }

    /// The partition tables' names, in order.
    public var tableNames: [String] { (0..<settings.partitions).map { PGWorkQueueSchema.tableName(hash: tableHash, partition: $0) } }

    /// Adds items: one `INSERT … SELECT FROM unnest(…)` per partition touched, one coalesced NOTIFY.
    /// Items with a `sourceID` go to the partition its hash picks, so dedup holds across producers.
    ///
    /// ```swift
    /// let ids = try await q.produce(items)   // nil where an item with the same sourceID was already queued
    /// ```
    /// - Returns: the new item's id for each item, or nil for a duplicate `sourceID`.
    public func produce(_ items: [PGQueueItem]) async throws(PGStoreError) -> [String?] {
        guard !items.isEmpty else { return [] }
        let ids = items.map { _ in UUID().uuidString.lowercased() }
        var groups: [Int: [Int]] = [:]
        let n = settings.partitions
        for (i, item) in items.enumerated() {
            let p = item.sourceID.map { Self.stableHash($0) % UInt64(n) }.map(Int.init) ?? (next.add(1, ordering: .relaxed).oldValue % n)
            groups[p, default: []].append(i)
        }
        var inserted = Set<String>()
        for (p, idx) in groups {
            let binds: [any PGEncodable] = [
                idx.map { ids[$0] }, idx.map { items[$0].sourceID }, idx.map { PGWorkQueueStore.ms(items[$0].delay ?? .zero) },
                idx.map { items[$0].reference }, idx.map { items[$0].encoding }, idx.map { items[$0].kind }, idx.map { items[$0].payload },
                PGWorkQueueStore.ms(settings.expireTimeout), Int32(settings.maxAttempts), store.channel, settings.name,
            ]
            let sql = statements[p].produce
            let got = try await store.statement("produce to \(settings.name)") { pool in
                var out: [String] = []
                for try await row in try await pool.query(PGQuery(unsafeSQL: sql, binds), timeout: nil) { out.append(try row.decode(String.self)) }
                return out
            }
            inserted.formUnion(got)
        }
        return ids.map { inserted.contains($0) ? $0 : nil }
    }

    /// Leases up to `max` ready items in one statement per partition tried (`FOR UPDATE SKIP LOCKED`),
    /// starting at a rotating partition and stopping when `max` are held.
    ///
    /// ```swift
    /// let batch = try await q.lease(max: 50)
    /// ```
    /// - Parameter leaseTimeout: the lease's length (default the queue's).
    public func lease(max: Int, leaseTimeout: Duration? = nil) async throws(PGStoreError) -> [PGLeasedItem] {
        guard max > 0 else { return [] }
        let n = settings.partitions
        let start = next.add(1, ordering: .relaxed).oldValue
        let ms = PGWorkQueueStore.ms(leaseTimeout ?? settings.leaseTimeout)
        var out: [PGLeasedItem] = []
        for k in 0..<n where out.count < max {
            let p = (start + k) % n
            let sql = statements[p].lease
            let binds: [any PGEncodable] = [Int64(max - out.count), store.configuration.holder, ms]
            let rows = try await store.statement("lease from \(settings.name)") { pool in
                var rows: [PGLeasedItem] = []
                for try await row in try await pool.query(PGQuery(unsafeSQL: sql, binds), timeout: nil) {
                    let r = try row.decode((String, Int64, Date, Int32, Int32, String?, Date, String, String, String, Data?).self)
                    rows.append(PGLeasedItem(id: r.0, partition: p, token: PGFencingToken(rawValue: r.1), leaseDeadline: r.2,
                                             attempts: Int(r.3), maxAttempts: Int(r.4), sourceID: r.5, createdAt: r.6,
                                             reference: r.7, encoding: r.8, kind: r.9, payload: r.10 ?? Data()))
                }
                return rows
            }
            out += rows
        }
        return out
    }

    /// Completes (removes) items this holder leased: one `DELETE` per partition, checking each fencing token.
    ///
    /// ```swift
    /// let outcomes = try await q.complete(batch)
    /// ```
    /// - Returns: `.done` or `.fenced` per item, in order.
    public func complete(_ items: [PGLeasedItem]) async throws(PGStoreError) -> [PGQueueOutcome] {
        try await perPartition(items, what: "complete") { p, part in
            let sql = self.statements[p].complete
            let binds: [any PGEncodable] = [part.map(\.id), part.map(\.token.rawValue)]
            return { pool in try await Self.ids(pool, sql, binds) }
        }
    }

    /// Completes items inside the caller's transaction on `connection`, so the completion commits or rolls
    /// back with the caller's own writes (exactly-once side effects in the same database).
    ///
    /// ```swift
    /// try await connection.withTransaction { tx in
    ///     try await tx.execute("INSERT INTO sent (id) VALUES (\(item.id))")
    ///     guard try await q.complete([item], on: tx) == [.done] else { throw Fenced() }
    /// }
    /// ```
    public func complete(_ items: [PGLeasedItem], on connection: PGConnection) async throws(PGStoreError) -> [PGQueueOutcome] {
        var done = Set<String>()
        for (p, part) in Dictionary(grouping: items, by: \.partition) {
            guard statements.indices.contains(p) else { continue }
            let binds: [any PGEncodable] = [part.map(\.id), part.map(\.token.rawValue)]
            do {
                for try await row in try await connection.query(PGQuery(unsafeSQL: statements[p].complete, binds), timeout: nil) {
                    done.insert(try row.decode(String.self))
                }
            } catch { throw PGStoreError.from(error, store: "queue") }
        }
        return items.map { done.contains($0.id) ? .done : .fenced }
    }

    /// Puts leased items back: ready again after `delay` (on the database clock), or dead-lettered when
    /// out of attempts or when `dead` is true. One statement per partition, checking fencing tokens.
    ///
    /// ```swift
    /// _ = try await q.retry(failed, after: .seconds(5))
    /// ```
    /// - Returns: `.done`, `.deadLettered` or `.fenced` per item.
    public func retry(_ items: [PGLeasedItem], after delay: Duration = .zero, dead: Bool = false) async throws(PGStoreError) -> [PGQueueOutcome] {
        var outcome: [String: PGQueueOutcome] = [:]
        let ms = PGWorkQueueStore.ms(delay)
        for (p, part) in Dictionary(grouping: items, by: \.partition) where statements.indices.contains(p) {
            let sql = statements[p].retry
            let binds: [any PGEncodable] = [part.map(\.id), part.map(\.token.rawValue), part.map { _ in ms }, part.map { _ in dead },
                                            deadExpireMilliseconds]
            let rows = try await store.statement("retry in \(settings.name)") { pool in
                var rows: [(String, Bool)] = []
                for try await row in try await pool.query(PGQuery(unsafeSQL: sql, binds), timeout: nil) {
                    rows.append(try row.decode((String, Bool).self))
                }
                return rows
            }
            for (id, wasDead) in rows { outcome[id] = wasDead ? .deadLettered : .done }
        }
        return items.map { outcome[$0.id] ?? .fenced }
    }

    /// Extends leases (a heartbeat): each new deadline is the database's now plus `by` (default the queue's
    /// lease timeout). One statement per partition, checking fencing tokens.
    ///
    /// ```swift
    /// let outcomes = try await q.extend(held)
    /// ```
    public func extend(_ items: [PGLeasedItem], by: Duration? = nil) async throws(PGStoreError) -> [PGQueueOutcome] {
        let ms = PGWorkQueueStore.ms(by ?? settings.leaseTimeout)
        return try await perPartition(items, what: "extend") { p, part in
            let sql = self.statements[p].extend
            let binds: [any PGEncodable] = [part.map(\.id), part.map(\.token.rawValue), ms]
            return { pool in try await Self.ids(pool, sql, binds) }
        }
    }

    /// One sweep of every partition: due scheduled items become ready, expired leases return to the queue
    /// (their old holders are fenced from then on), items past their expiry or out of attempts go to the
    /// dead-letter queue. The store's background task runs it; call it yourself after moving a test clock.
    ///
    /// ```swift
    /// let (ready, returned, dead) = try await q.sweep()
    /// ```
    @discardableResult
    public func sweep() async throws(PGStoreError) -> (ready: Int, returned: Int, dead: Int) {
        var total = (ready: 0, returned: 0, dead: 0)
        for s in statements {
            let sql = s.sweep
            let binds: [any PGEncodable] = [Int64(10_000), deadExpireMilliseconds, store.channel, settings.name]
            let r = try await store.statement("sweep of \(settings.name)") { pool in
                try await pool.queryOne(PGQuery(unsafeSQL: sql, binds), as: (Int64, Int64, Int64, Int64).self)
            }
            total.ready += Int(r.0); total.returned += Int(r.1); total.dead += Int(r.2)
        }
        return total
    }

    /// Sleeps until a NOTIFY says this queue has new or returned work, or `timeout` passes (the safety poll).
    ///
    /// ```swift
    /// while true { let b = try await q.lease(max: 10); if b.isEmpty { await q.waitForWork(timeout: .seconds(1)) } }
    /// ```
    public func waitForWork(timeout: Duration) async {
        await wakeup.wait(timeout: timeout)
    }

    /// The queue's depth now, summed over partitions (one statement per partition; scans the tables), and
    /// what tells an operator vacuum is falling behind: dead tuples and the oldest open transaction.
    ///
    /// ```swift
    /// let s = try await q.stats(); print(s.ready, s.inFlight)
    /// ```
    public func stats() async throws(PGStoreError) -> PGQueueStats {
        var out = PGQueueStats(ready: 0, inFlight: 0, scheduled: 0, oldestAge: .zero)
        for s in statements {
            let sql = s.stats
            let r = try await store.statement("stats of \(settings.name)") { pool in
                try await pool.queryOne(PGQuery(unsafeSQL: sql), as: (Int64, Int64, Int64, Int64).self)
            }
            out.ready += Int(r.0); out.inFlight += Int(r.1); out.scheduled += Int(r.2)
            out.oldestAge = Swift.max(out.oldestAge, .milliseconds(r.3))
        }
        let bloat = """
            SELECT (SELECT coalesce(sum(n_dead_tup), 0)::int8 FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = ANY($2::text[])),
                   (SELECT coalesce((extract(epoch FROM max(clock_timestamp() - xact_start)) * 1000)::int8, 0)
                      FROM pg_stat_activity WHERE backend_xmin IS NOT NULL AND pid <> pg_backend_pid())
            """
        let binds: [any PGEncodable] = [store.schema.name, tableNames]
        let b = try await store.statement("bloat of \(settings.name)") { pool in
            try await pool.queryOne(PGQuery(unsafeSQL: bloat, binds), as: (Int64, Int64).self)
        }
        out.deadTuples = Int(b.0)
        out.oldestTransactionAge = .milliseconds(b.1)
        return out
    }

    private func perPartition(
        _ items: [PGLeasedItem], what: String,
        _ make: (Int, [PGLeasedItem]) -> @Sendable (PGPool) async throws -> [String]
    ) async throws(PGStoreError) -> [PGQueueOutcome] {
        var done = Set<String>()
        for (p, part) in Dictionary(grouping: items, by: \.partition) where statements.indices.contains(p) {
            let body = make(p, part)
            done.formUnion(try await store.statement("\(what) in \(settings.name)", body))
        }
        return items.map { done.contains($0.id) ? .done : .fenced }
    }

    private static func ids(_ pool: PGPool, _ sql: String, _ binds: [any PGEncodable]) async throws -> [String] {
        var out: [String] = []
        for try await row in try await pool.query(PGQuery(unsafeSQL: sql, binds), timeout: nil) { out.append(try row.decode(String.self, column: 0)) }
        return out
    }

    /// FNV-1a, stable across processes and runs (Swift's `hashValue` is not).
    static func stableHash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}

/// Wakes sleeping consumers of one queue: `signal()` resumes every waiter; a waiter also resumes at its timeout.
final class PGQueueWakeup: Sendable {
    private let waiters = Mutex<[UInt64: CheckedContinuation<Void, Never>]>([:])
    private let counter = Atomic<UInt64>(0)

    func signal() {
        let all = waiters.withLock { w in defer { w = [:] }; return Array(w.values) }
        for c in all { c.resume() }
    }

    func wait(timeout: Duration) async {
        let id = counter.add(1, ordering: .relaxed).oldValue
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            self?.resume(id)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                waiters.withLock { $0[id] = c }
                if timer.isCancelled { resume(id) }
            }
        } onCancel: { timer.cancel(); self.resume(id) }
        timer.cancel()
    }

    private func resume(_ id: UInt64) {
        waiters.withLock { $0.removeValue(forKey: id) }?.resume()
    }
}
