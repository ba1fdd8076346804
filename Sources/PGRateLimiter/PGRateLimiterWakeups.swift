import Foundation

/// Waiters for a freed slot, by limiter and key: a NOTIFY from the releasing process wakes them; so does the
/// time by which a held lease would have expired, whichever comes first. Also a per-key turn, so that only
/// one waiting task per process asks the database at a time (the others wait here, not in a query loop).
actor PGRateLimiterWakeups {
    private var waiters: [String: [UInt64: CheckedContinuation<Void, Never>]] = [:]
    private var nextID: UInt64 = 0
    private var turns: [String: Turn] = [:]

    private struct Turn {
        var held = false
        var queue: [(UInt64, CheckedContinuation<Bool, Never>)] = []
    }

    /// Waits until `signal(key)` or `signalAll()` is called, or `limit` passes, or the task is cancelled.
    func wait(for key: String, upTo limit: Duration) async {
        nextID &+= 1
        let id = nextID
        let timer = Task { [weak self] in
            try? await Task.sleep(for: limit)
            await self?.wake(key, id)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
                waiters[key, default: [:]][id] = cont
            }
        } onCancel: {
            Task { await self.wake(key, id) }
        }
        timer.cancel()
    }

    private func wake(_ key: String, _ id: UInt64) {
        guard let cont = waiters[key]?.removeValue(forKey: id) else { return }
        if waiters[key]?.isEmpty == true { waiters[key] = nil }
        cont.resume()
    }

    /// Wakes every waiter of `key`.
    func signal(_ key: String) {
        guard let all = waiters.removeValue(forKey: key) else { return }
        for cont in all.values { cont.resume() }
    }

    /// Wakes every waiter (the listener reconnected, or the store is shutting down).
    func signalAll() {
        let all = waiters
        waiters = [:]
        for group in all.values { for cont in group.values { cont.resume() } }
    }

    /// Takes the turn for `key`, waiting for the tasks queued before; false if the task was cancelled first.
    /// Whoever gets the turn must hand it on with ``giveTurn(_:)``.
    func takeTurn(_ key: String) async -> Bool {
        if turns[key]?.held != true {
            turns[key, default: Turn()].held = true
            return true
        }
        if Task.isCancelled { return false }
        nextID &+= 1
        let id = nextID
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (cont: CheckedContinuation<Bool, Never>) in
                turns[key, default: Turn()].queue.append((id, cont))
            }
        } onCancel: {
            Task { await self.abandonTurn(key, id) }
        }
    }

    private func abandonTurn(_ key: String, _ id: UInt64) {
        guard var turn = turns[key], let i = turn.queue.firstIndex(where: { $0.0 == id }) else { return }
        let (_, cont) = turn.queue.remove(at: i)
        turns[key] = turn
        cont.resume(returning: false)
    }

    /// Hands the turn for `key` to the next task queued, or frees it.
    func giveTurn(_ key: String) {
        guard var turn = turns[key] else { return }
        if turn.queue.isEmpty {
            turns[key] = nil
            return
        }
        let (_, next) = turn.queue.removeFirst()
        turns[key] = turn
        next.resume(returning: true)   // the turn stays held: it is the next task's now
    }
}
