import CoreMetrics
import Foundation
import Logging
import PGClient
import PGStoreSupport
import Synchronization

extension PGActorStateStore {
    /// Every change of every actor, in log order, exactly once — across dropped connections and server
    /// restarts. Changes go into an ordered log in the writing transaction; the seed's NOTIFY only wakes the
    /// stream, which reads the log from the last position it delivered, so a missed NOTIFY costs latency, not
    /// a change. A stream that fell behind the log's retention gets ``PGActorChangeEvent/reloadAll``; while the
    /// database is unreachable it gets one ``PGActorChangeEvent/interrupted(reason:)`` and keeps retrying.
    /// The stream ends when the consumer stops iterating or the store shuts down.
    ///
    /// ```swift
    /// let changes = try await store.changes()      // from now on
    /// for await event in changes {
    ///     switch event {
    ///     case .changed(let c): print("Actor \(c.actorID) updated to sequence \(c.sequenceNumber)")
    ///     case .reloadAll: await reloadEverything()
    ///     case .interrupted: break
    ///     }
    /// }
    /// ```
    /// - Parameter after: resume after this position (a change's ``PGActorStateChange/position``); nil: changes
    ///   committed from now on.
    public func changes(after: PGActorChangePosition? = nil) async throws(PGStoreError) -> AsyncStream<PGActorChangeEvent> {
        let wakeups = try await database.notifications(on: PGActorStateSchema.channel)
        let start: PGActorChangePosition
        if let after {
            start = after
        } else {
            let sql = statements.startPosition
            let xmin = try await write("change stream start") { c, timeout in
                try await c.queryOne(PGQuery(unsafeSQL: sql), as: Int64.self, timeout: timeout)
            }
            start = PGActorChangePosition(transaction: xmin, position: .max)
        }
        let (stream, continuation) = AsyncStream.makeStream(of: PGActorChangeEvent.self, bufferingPolicy: .unbounded)
        let wake = PGActorWakeup()
        let listener = Task {
            for await _ in wakeups { wake.signal() }
        }
        let id = nextSubscription.add(1, ordering: .relaxed).newValue
        let reader = Task { [weak self] in
            await withTaskCancellationHandler {
                await self?.follow(from: start, wake: wake, into: continuation)
            } onCancel: {
                wake.signal()
            }
            listener.cancel()
            continuation.finish()
        }
        subscriptions.withLock { $0[id] = reader }
        continuation.onTermination = { [weak self] _ in
            reader.cancel()
            listener.cancel()
            _ = self?.subscriptions.withLock { $0.removeValue(forKey: id) }
        }
        return stream
    }

    /// The new state of one actor after each change (nil state after a delete), for pushing to clients. Built on
    /// ``changes(after:)``: after a ``PGActorChangeEvent/reloadAll`` it reloads the actor.
    ///
    /// ```swift
    /// for await snap in try await store.states(of: "room-1", as: GameState.self) { push(snap.state) }
    /// ```
    public func states<State: Codable & Sendable>(of actorID: String, as type: State.Type) async throws(PGStoreError) -> AsyncStream<PGActorSnapshot<State>> {
        try Self.validate(actorID)
        let events = try await changes()
        let (stream, continuation) = AsyncStream.makeStream(of: PGActorSnapshot<State>.self, bufferingPolicy: .bufferingNewest(16))
        let task = Task { [weak self] in
            var last: Int64 = -1
            for await event in events {
                guard let self else { break }
                switch event {
                case .changed(let c) where c.actorID == actorID && c.sequenceNumber > last: break
                case .reloadAll: break
                default: continue
                }
                guard let snap = try? await self.snapshot(for: actorID, as: type), snap.sequenceNumber > last else { continue }
                last = snap.sequenceNumber
                continuation.yield(snap)
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Removes change-log rows older than `age` (of finished transactions). Streams behind the removed rows get
    /// ``PGActorChangeEvent/reloadAll``. Run it periodically (a cron, `tusk`, or a task of one instance).
    ///
    /// ```swift
    /// let removed = try await store.pruneChanges(olderThan: .seconds(24 * 3600))
    /// ```
    @discardableResult
    public func pruneChanges(olderThan age: Duration) async throws(PGStoreError) -> Int64 {
        let sql = statements.prune
        let binds: [any PGEncodable] = [Self.milliseconds(age)]
        return try await write("prune") { c, timeout in try await c.queryOne(PGQuery(unsafeSQL: sql, binds), as: Int64.self, timeout: timeout) }
    }

    // MARK: - The reader

    struct ChangeBatch: Sendable {
        var changes: [PGActorStateChange] = []
        var xmin: Int64 = 0
        var pruned: Int64 = 0
        var pending = false
    }

    func readChanges(after cursor: PGActorChangePosition) async throws(PGStoreError) -> ChangeBatch {
        let sql = statements.readChanges
        let binds: [any PGEncodable] = [cursor.transaction, cursor.position, Int32(clamping: configuration.changeBatchSize)]
        return try await write("read changes") { c, timeout in
            var batch = ChangeBatch()
            for try await row in try await c.query(PGQuery(unsafeSQL: sql, binds), timeout: timeout) {
                let r = try row.decode((Int64?, Int64?, String?, Int64?, Bool?, Date?, Int64, Int64, Bool).self)
                (batch.xmin, batch.pruned, batch.pending) = (r.6, r.7, r.8)
                guard let position = r.0, let txid = r.1, let actor = r.2, let seq = r.3, let deleted = r.4, let at = r.5 else { continue }
                batch.changes.append(PGActorStateChange(actorID: actor, sequenceNumber: seq, deleted: deleted, timestamp: at,
                                                        position: PGActorChangePosition(transaction: txid, position: position)))
            }
            return batch
        }
    }

    func follow(from start: PGActorChangePosition, wake: PGActorWakeup,
                into continuation: AsyncStream<PGActorChangeEvent>.Continuation) async {
        var cursor = start
        var interrupted = false
        var backoff: Duration = .milliseconds(50)
        var quick: Duration = .milliseconds(2)
        while !Task.isCancelled {
            let batch: ChangeBatch
            do {
                batch = try await readChanges(after: cursor)
            } catch {
                if Task.isCancelled { return }
                if !interrupted {
                    interrupted = true
                    observability.logger.warning("actor change stream interrupted; it retries and catches up",
                                                 metadata: ["reason": "\(error.message)"])
                    continuation.yield(.interrupted(reason: error.message))
                }
                await wake.wait(upTo: backoff)
                backoff = min(backoff * 2, .seconds(2))
                continue
            }
            if interrupted {
                interrupted = false
                observability.logger.notice("actor change stream reconnected; catching up from \(cursor)")
            }
            backoff = .milliseconds(50)
            if cursor.transaction < batch.pruned {
                metrics.reloadAll.increment()
                continuation.yield(.reloadAll)
                cursor = max(cursor, PGActorChangePosition(transaction: batch.pruned, position: .max))
            }
            for change in batch.changes {
                continuation.yield(.changed(change))
                cursor = change.position
            }
            metrics.changesDelivered.increment(by: batch.changes.count)
            if batch.changes.count >= configuration.changeBatchSize { continue }
            // Everything below xmin has been read: skip ahead, so an idle stream's cursor stays current.
            cursor = max(cursor, PGActorChangePosition(transaction: batch.xmin - 1, position: .max))
            if batch.pending {
                // Rows of transactions still running: they NOTIFY at commit, but a long transaction elsewhere can
                // hold xmin back without writing here, so look again soon.
                await wake.wait(upTo: quick)
                quick = min(quick * 2, configuration.changePollInterval)
            } else {
                quick = .milliseconds(2)
                await wake.wait(upTo: configuration.changePollInterval)
            }
        }
    }
}

/// A wake-up flag: `signal()` from the NOTIFY listener, `wait(upTo:)` from the reader. A signal that arrives
/// while nobody waits is kept for the next wait.
final class PGActorWakeup: Sendable {
    private struct S {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        var generation = 0
    }
    private let s = Mutex(S())

    func signal() {
        let waiter = s.withLock { st -> CheckedContinuation<Void, Never>? in
            defer { st.waiter = nil }
            if st.waiter == nil { st.pending = true }
            return st.waiter
        }
        waiter?.resume()
    }

    func wait(upTo limit: Duration) async {
        if Task.isCancelled { return }
        let generation = s.withLock { st -> Int? in
            if st.pending { st.pending = false; return nil }
            st.generation += 1
            return st.generation
        }
        guard let generation else { return }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: limit)
            self?.timeout(generation)
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = s.withLock { st -> Bool in
                if st.pending || st.generation != generation { st.pending = false; return true }
                st.waiter = c
                return false
            }
            if resumeNow { c.resume() }
        }
        timer.cancel()
    }

    private func timeout(_ generation: Int) {
        let waiter = s.withLock { st -> CheckedContinuation<Void, Never>? in
            guard st.generation == generation, let w = st.waiter else {
                if st.generation == generation { st.generation += 1 }
                return nil
            }
            st.waiter = nil
            return w
        }
        waiter?.resume()
    }
}
