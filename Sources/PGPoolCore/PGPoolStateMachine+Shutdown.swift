extension PGPoolStateMachine {
    /// Graceful shutdown: lend nothing more, fail waiting and future requests with
    /// `poolShutDown`, close idle connections at once, let leases finish until the grace period
    /// ends, then force-close what is left. `shutdownComplete` follows the last
    /// `connectionClosed`. A second call does nothing.
    ///
    /// ```swift
    /// run(machine.shutdownRequested(gracePeriod: .seconds(10)))
    /// // ... later, once every connection is reported closed: [.shutdownComplete]
    /// ```
    public mutating func shutdownRequested(gracePeriod: Duration) -> [Action] {
        guard lifecycle == .running else { return [] }
        lifecycle = .shuttingDown
        var actions: [Action] = []
        backingOff = false
        cancel(.connectionBackoff, into: &actions)
        failAllWaiters(with: .poolShutDown, into: &actions)
        for id in connections.keys.sorted() {
            guard let connection = connections[id] else { continue }
            switch connection.phase {
            case .open where connection.leases.isEmpty, .pinging:
                close(id, into: &actions)
            case .open, .connecting, .closing:
                break
            }
        }
        if gracePeriod <= .zero {
            shutdownDeadlinePassed(into: &actions)
        } else if !connections.isEmpty {
            schedule(.shutdownDeadline, at: clock.now.advanced(by: gracePeriod), into: &actions)
        }
        checkShutdownComplete(into: &actions)
        return actions
    }

    /// Force-closes every connection still leased or still being opened.
    mutating func shutdownDeadlinePassed(into actions: inout [Action]) {
        guard lifecycle == .shuttingDown else { return }
        for id in connections.keys.sorted() {
            guard let connection = connections[id], connection.phase != .closing else { continue }
            for request in connection.leases.keys.sorted() {
                requests[request] = nil
                cancel(.leakWarning(request), into: &actions)
            }
            connections[id]?.leases = [:]
            connections[id]?.phase = .closing
            cancel(.idleTimeout(id), into: &actions)
            cancel(.maximumLifetime(id), into: &actions)
            actions.append(.forceCloseConnection(id))
        }
    }

    mutating func checkShutdownComplete(into actions: inout [Action]) {
        guard lifecycle == .shuttingDown, connections.isEmpty else { return }
        lifecycle = .shutDown
        cancel(.shutdownDeadline, into: &actions)
        actions.append(.shutdownComplete)
    }
}
