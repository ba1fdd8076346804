import PGPoolCore
import PGTransport
import PGWire
import Synchronization

/// The pool's open connections that are not exclusively leased: single statements (`pool.query`,
/// `execute`, `queryOne`) are pipelined onto them round-robin without an exclusive lease, read by any
/// thread under a lock. An exclusive lease first marks its connection, then waits for statements that
/// picked it a moment earlier to be queued, so none of them can land inside the holder's transaction.
final class PGSharedConnections: Sendable {
    struct Entry {
        let id: PGPoolConnectionID
        let connection: PGConnection
        var exclusive = false
        /// Statements that picked this connection and are not yet queued on it.
        var pendingSends = 0
        /// Open and not exclusively leased: a shared statement may go here.
        var isUsable: Bool { !exclusive && !connection.isClosed }
    }

    struct State {
        var entries: [Entry] = []
        var next = 0

        /// Entry `i` takes one more shared statement.
        mutating func claim(_ i: Int) -> (PGPoolConnectionID, PGConnection) {
            entries[i].pendingSends += 1
            return (entries[i].id, entries[i].connection)
        }
    }

    let state = PGLock(State())

    /// A connection for one shared statement, its pending-send count raised; nil when none is available.
    /// Load is a connection's requests in flight plus the statements on their way to it. In order: an idle
    /// connection on the caller's event loop (a task that prefers one of the pool's loops: its request starts
    /// without a thread hop); an idle one elsewhere, so a statement does not queue behind a long one while
    /// another connection has nothing to do; else the least loaded on the caller's loop; else the least loaded.
    /// Ties go round-robin.
    func pick() -> (PGPoolConnectionID, PGConnection)? {
        let thread = PGEventLoop.currentThreadID
        return state.withLock { s in
            let n = s.entries.count
            var chosen: Int?
            var idleElsewhere: Int?
            var bestHere: (index: Int, load: Int)?
            var bestElsewhere: (index: Int, load: Int)?
            for k in 0..<n {
                let i = (s.next &+ k) % n
                guard s.entries[i].isUsable else { continue }
                let connection = s.entries[i].connection
                let load = connection.requestsInFlight.load(ordering: .relaxed) &+ s.entries[i].pendingSends
                let here = connection.eventLoop.threadIDValue == thread
                if load == 0 {
                    if here {
                        chosen = i
                        break
                    }
                    if idleElsewhere == nil { idleElsewhere = i }
                } else if here {
                    if load < bestHere?.load ?? .max { bestHere = (i, load) }
                } else if load < bestElsewhere?.load ?? .max {
                    bestElsewhere = (i, load)
                }
            }
            guard let i = chosen ?? idleElsewhere ?? bestHere?.index ?? bestElsewhere?.index else { return nil }
            s.next = i &+ 1
            return s.claim(i)
        }
    }

    /// Connection `id` again for one shared statement, if it is still open and not exclusively leased.
    func pick(preferring id: PGPoolConnectionID) -> (PGPoolConnectionID, PGConnection)? {
        state.withLock { s in
            guard let i = s.entries.firstIndex(where: { $0.id == id }), s.entries[i].isUsable else { return nil }
            return s.claim(i)
        }
    }

    func sent(_ id: PGPoolConnectionID) {
        state.withLock { s in
            if let i = s.entries.firstIndex(where: { $0.id == id }) { s.entries[i].pendingSends -= 1 }
        }
    }

    func add(_ id: PGPoolConnectionID, _ connection: PGConnection) {
        state.withLock { s in
            if !s.entries.contains(where: { $0.id == id }) { s.entries.append(Entry(id: id, connection: connection)) }
        }
    }

    /// Marks a connection exclusive (or removes it) and says whether statements are still being queued on it.
    func setExclusive(_ id: PGPoolConnectionID, _ exclusive: Bool) -> Bool {
        state.withLock { s in
            guard let i = s.entries.firstIndex(where: { $0.id == id }) else { return false }
            s.entries[i].exclusive = exclusive
            return s.entries[i].pendingSends > 0
        }
    }

    func remove(_ id: PGPoolConnectionID) -> Bool {
        state.withLock { s in
            guard let i = s.entries.firstIndex(where: { $0.id == id }) else { return false }
            let pending = s.entries[i].pendingSends > 0
            s.entries.remove(at: i)
            return pending
        }
    }

    func pendingSends(_ id: PGPoolConnectionID) -> Int {
        state.withLock { s in s.entries.first(where: { $0.id == id })?.pendingSends ?? 0 }
    }

    /// Waits (briefly: a send is queued within one hop) until no statement is on its way to `id`.
    func waitForSends(_ id: PGPoolConnectionID) async {
        while pendingSends(id) > 0 { try? await Task.sleep(for: .microseconds(50)) }
    }
}
