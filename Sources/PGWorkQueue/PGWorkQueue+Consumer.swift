import Foundation
import Logging
import PGStoreSupport
import Synchronization

extension PGWorkQueue {
    /// Consumes the queue until the calling task is cancelled: leases up to `concurrency` items, runs
    /// `handler` for each, completes it when the handler returns and retries it with exponential backoff
    /// (`retryBackoff` × 2^(attempts−1), at most `maximumBackoff`) when it throws. While handlers run, one
    /// heartbeat statement every third of the lease timeout extends every held lease. Idle, it sleeps
    /// until a NOTIFY (or `pollInterval`, the safety poll). On cancellation it stops leasing, cancels the
    /// running handlers and puts their items straight back, so nothing stays leased.
    ///
    /// ```swift
    /// let consumer = Task { try await queue.run(concurrency: 8) { item in try await send(item.payload) } }
    /// // …
    /// consumer.cancel()
    /// ```
    /// - Throws: a ``PGStoreError`` when leasing fails (the database is unreachable past the statement
    ///   timeout); items held then return when their leases run out.
    public func run(concurrency: Int = 1, pollInterval: Duration = .seconds(1), retryBackoff: Duration = .seconds(1),
                    maximumBackoff: Duration = .seconds(300),
                    _ handler: @escaping @Sendable (PGLeasedItem) async throws -> Void) async throws(PGStoreError) {
        let limit = Swift.max(1, concurrency)
        let held = PGQueueHeld()
        let slotFreed = PGQueueWakeup()
        let heartbeatEvery = settings.leaseTimeout / 3
        do {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { [self] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: heartbeatEvery)
                        let items = Array(held.withLock { $0.values })
                        guard !items.isEmpty, !Task.isCancelled else { continue }
                        guard let outcomes = try? await self.extend(items) else { continue }
                        for (item, outcome) in zip(items, outcomes) where outcome == .fenced {
                            self.store.observability.logger.warning("lease on item \(item.id) of \(self.settings.name) was lost while its handler ran")
                        }
                    }
                }
                while !Task.isCancelled {
                    let free = limit - held.withLock { $0.count }
                    if free <= 0 {
                        await slotFreed.wait(timeout: pollInterval)
                        continue
                    }
                    let items = try await lease(max: free)
                    if items.isEmpty {
                        await waitForWork(timeout: pollInterval)
                        continue
                    }
                    held.withLock { h in for i in items { h[i.id] = i } }
                    for item in items {
                        group.addTask { [self] in
                            let outcome: Result<Void, any Error>
                            do { try await handler(item); outcome = .success(()) } catch { outcome = .failure(error) }
                            let cancelled = Task.isCancelled
                            // Settled in a task of its own: a cancelled consumer still puts its items back.
                            await Task { [self] in
                                switch outcome {
                                case .success:
                                    _ = try? await self.complete([item])
                                case .failure where cancelled:
                                    _ = try? await self.retry([item])
                                case .failure:
                                    _ = try? await self.retry([item], after: self.backoff(item.attempts, retryBackoff, maximumBackoff))
                                }
                            }.value
                            held.withLock { _ = $0.removeValue(forKey: item.id) }
                            slotFreed.signal()
                        }
                    }
                }
                group.cancelAll()
            }
        } catch let error as PGStoreError {
            await releaseAll(held.withLock { Array($0.values) })
            throw error
        } catch {
            // Cancellation: fall through and put back what is still held.
        }
        await releaseAll(held.withLock { Array($0.values) })
    }

    private func releaseAll(_ items: [PGLeasedItem]) async {
        guard !items.isEmpty else { return }
        _ = await Task { try? await self.retry(items) }.value
    }

    func backoff(_ attempts: Int, _ base: Duration, _ cap: Duration) -> Duration {
        let factor = 1 << Swift.min(Swift.max(attempts - 1, 0), 20)
        return Swift.min(cap, base * factor)
    }
}

/// The items a consumer holds (shared by its heartbeat and handler tasks).
final class PGQueueHeld: Sendable {
    private let m = Mutex<[String: PGLeasedItem]>([:])
    func withLock<T>(_ body: (inout [String: PGLeasedItem]) -> T) -> T { m.withLock { body(&$0) } }
}
