import PGStoreSupport
import Synchronization

/// Per key, at most one rate statement of this limiter in flight in this process; requests that arrive
/// meanwhile queue here, and the first of them leads the next statement for all of them.
final class PGRateBatcher: Sendable {
    struct Waiter: Sendable {
        let cost: Int
        /// nil for a leader that took the turn at once.
        let continuation: CheckedContinuation<Turn, Never>?
    }

    enum Turn: Sendable {
        /// Run the statement for this batch; the first waiter is the caller itself.
        case lead([Waiter])
        case decided(Result<PGRateLimiter.RateAnswer, PGStoreError>)
    }

    /// How many requests one statement decides at most.
    static let maximumBatch = 512

    private struct Queue {
        var waiting: [Waiter] = []
    }

    private let queues = Mutex<[String: Queue]>([:])

    /// Leads at once when no statement for `key` is in flight; otherwise waits for a batch's answer or the lead.
    func turn(key: String, cost: Int) async -> Turn {
        await withCheckedContinuation { (cont: CheckedContinuation<Turn, Never>) in
            let leads = queues.withLock { q -> Bool in
                if q[key] != nil {
                    q[key]!.waiting.append(Waiter(cost: cost, continuation: cont))
                    return false
                }
                q[key] = Queue()
                return true
            }
            if leads { cont.resume(returning: .lead([Waiter(cost: cost, continuation: nil)])) }
        }
    }

    /// A statement for `key` ended: the requests queued meanwhile become the next batch, led by the first.
    func next(key: String) {
        let batch = queues.withLock { q -> [Waiter]? in
            guard var queue = q[key], !queue.waiting.isEmpty else {
                q[key] = nil
                return nil
            }
            let n = min(queue.waiting.count, Self.maximumBatch)
            let batch = Array(queue.waiting.prefix(n))
            queue.waiting.removeFirst(n)
            q[key] = queue
            return batch
        }
        if let batch, let first = batch.first {
            first.continuation?.resume(returning: .lead(batch))
        }
    }
}
