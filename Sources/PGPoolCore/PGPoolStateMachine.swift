/// A connection pool's logic with no I/O: events in, actions out. It knows nothing of
/// Postgres; it counts connections, queues requests fairly (FIFO) and asks for timers.
/// Its owner (an actor) runs the actions and feeds back what happened. Unknown or late events
/// (an id it no longer knows, a timer that was cancelled) are ignored, never a crash.
///
/// ```swift
/// var machine = PGPoolStateMachine(configuration: .init(minimumConnections: 1), clock: ContinuousClock())
/// run(machine.startRequested())                   // [.createConnection(c0)]
/// run(machine.connectionCreated(c0))              // [.scheduleTimer(.idleTimeout(c0), ...), .poolReady]
/// run(machine.leaseRequested(PGPoolRequestID(1))) // [.cancelTimer(.idleTimeout(c0)), .leaseConnection(c0, to: r1)]
/// run(machine.connectionReleased(c0, request: PGPoolRequestID(1)))
/// run(machine.shutdownRequested(gracePeriod: .seconds(5)))
/// ```
public struct PGPoolStateMachine<Clock: _Concurrency.Clock>: Sendable where Clock.Duration == Duration {
    enum Lifecycle: Hashable, Sendable { case running, shuttingDown, shutDown }

    enum RequestState: Hashable, Sendable {
        case waiting
        case awaitingPing(PGPoolConnectionID)
        case leased(PGPoolConnectionID)
    }

    struct Connection: Sendable {
        enum Phase: Hashable, Sendable {
            case connecting
            case open
            /// Being health-checked, on behalf of the request (nil once that request left).
            case pinging(PGPoolRequestID?)
            case closing
        }

        var phase: Phase = .connecting
        /// Lease holders and when each lease began.
        var leases: [PGPoolRequestID: Clock.Instant] = [:]
        /// When the connection last had no lease (nil while leased or not open).
        var idleSince: Clock.Instant?
        /// Past its lifetime: lent no more, closed when its last lease ends.
        var retiring = false
        /// Whether the connection ever opened (a closing attempt may still report a failure).
        var opened = false
    }

    /// The configuration in use (normalized).
    public let configuration: PGPoolConfiguration
    /// The clock every deadline is read from.
    public let clock: Clock

    var random: PGPoolRandom
    var connections: [PGPoolConnectionID: Connection] = [:]
    var nextConnectionID = 0
    /// Requests not yet served, in arrival order: waiting, or waiting on a health check (they
    /// keep their place, so a failed check does not cost them their turn).
    var waiters: [PGPoolRequestID] = []
    /// Every request the machine knows: waiting, waiting on a ping, or holding a lease.
    var requests: [PGPoolRequestID: RequestState] = [:]
    /// Pending timers and their deadlines; a fire before its recorded deadline is stale.
    var timers: [PGPoolTimerID: Clock.Instant] = [:]
    var consecutiveCreationFailures = 0
    var backingOff = false
    var lifecycle = Lifecycle.running
    var started = false
    var readyReported = false

    /// Makes an idle pool; nothing happens until the first event.
    ///
    /// ```swift
    /// let machine = PGPoolStateMachine(configuration: config, clock: ContinuousClock(), random: PGPoolRandom(seed: 7))
    /// ```
    public init(configuration: PGPoolConfiguration, clock: Clock, random: PGPoolRandom = PGPoolRandom()) {
        self.configuration = configuration.normalized
        self.clock = clock
        self.random = random
    }

    /// Whether warm-up finished (`poolReady` was sent).
    ///
    /// ```swift
    /// if machine.isReady { ... }
    /// ```
    public var isReady: Bool { readyReported }

    /// Whether shutdown finished (`shutdownComplete` was sent).
    ///
    /// ```swift
    /// if machine.isShutDown { return }
    /// ```
    public var isShutDown: Bool { lifecycle == .shutDown }

    // MARK: - Events

    /// The pool starts: opens the minimum number of connections and sends `poolReady` once they
    /// are open (at once when the minimum is 0). A second call does nothing.
    ///
    /// ```swift
    /// run(machine.startRequested())   // minimumConnections × .createConnection
    /// ```
    public mutating func startRequested() -> [Action] {
        guard lifecycle == .running, !started else { return [] }
        started = true
        var actions: [Action] = []
        fillDemand(into: &actions)
        checkReady(into: &actions)
        return actions
    }

    /// A caller wants a connection. Served at once when a connection is free and nobody waits
    /// ahead; otherwise queued (FIFO) with an acquire timeout (`timeout`, else the
    /// configuration's), and a connection is opened if the pool may grow. Ids must be unique; a
    /// duplicate of a live request is ignored.
    ///
    /// ```swift
    /// run(machine.leaseRequested(PGPoolRequestID(1), timeout: .seconds(2)))
    /// ```
    public mutating func leaseRequested(_ request: PGPoolRequestID, timeout: Duration? = nil) -> [Action] {
        guard lifecycle == .running else { return [.failRequest(request, .poolShutDown)] }
        guard requests[request] == nil else { return [] }
        let now = clock.now
        var actions: [Action] = []
        let timeout = timeout ?? configuration.acquireTimeout
        if firstWaiting() == nil, let connection = availableConnection() {
            // A health check may fail and send the request back to the queue: give it a deadline.
            if needsHealthCheck(connection, now: now), let timeout {
                schedule(.acquireTimeout(request), at: now.advanced(by: timeout), into: &actions)
            }
            assign(request, to: connection, now: now, into: &actions)
            if requests[request] == .awaitingPing(connection) { waiters.append(request) }
            return actions
        }
        if let limit = configuration.maximumWaiters, waiters.count >= limit {
            return [.failRequest(request, .poolExhausted)]
        }
        waiters.append(request)
        requests[request] = .waiting
        if let timeout {
            schedule(.acquireTimeout(request), at: now.advanced(by: timeout), into: &actions)
        }
        fillDemand(into: &actions)
        return actions
    }

    /// The caller of a waiting request gave up (task cancelled). The machine forgets the request
    /// and sends nothing for it but a timer cancellation; the runner fails its own waiter.
    /// A request already served is not affected: release its lease instead.
    ///
    /// ```swift
    /// run(machine.requestCancelled(id)); waiters.removeValue(forKey: id)?.resume(throwing: CancellationError())
    /// ```
    public mutating func requestCancelled(_ request: PGPoolRequestID) -> [Action] {
        var actions: [Action] = []
        switch requests[request] {
        case .waiting:
            waiters.removeAll { $0 == request }
            requests[request] = nil
            cancel(.acquireTimeout(request), into: &actions)
        case .awaitingPing(let connection):
            waiters.removeAll { $0 == request }
            requests[request] = nil
            connections[connection]?.phase = .pinging(nil)
            cancel(.acquireTimeout(request), into: &actions)
        case .leased, nil:
            break
        }
        return actions
    }

    /// A connection the machine asked for is open. It serves waiters at once, else goes idle.
    /// An id the machine does not know gets `.closeConnection` so it cannot leak.
    ///
    /// ```swift
    /// run(machine.connectionCreated(id))
    /// ```
    public mutating func connectionCreated(_ id: PGPoolConnectionID) -> [Action] {
        guard let connection = connections[id] else { return [.closeConnection(id)] }
        guard connection.phase == .connecting else { return [] }
        var actions: [Action] = []
        consecutiveCreationFailures = 0
        if backingOff {
            backingOff = false
            cancel(.connectionBackoff, into: &actions)
        }
        guard lifecycle == .running else {
            close(id, into: &actions)
            return actions
        }
        let now = clock.now
        connections[id]?.phase = .open
        connections[id]?.opened = true
        if let lifetime = configuration.maximumLifetime {
            schedule(.maximumLifetime(id), at: now.advanced(by: jitteredLifetime(lifetime)), into: &actions)
        }
        connectionAvailable(id, now: now, into: &actions)
        fillDemand(into: &actions)
        checkReady(into: &actions)
        return actions
    }

    /// An attempt to open a connection failed. The machine backs off (exponentially, with
    /// jitter) before trying again, and fails every waiter when no open connection or other
    /// attempt could serve them.
    ///
    /// ```swift
    /// run(machine.connectionCreationFailed(id)); lastConnectError = error
    /// ```
    public mutating func connectionCreationFailed(_ id: PGPoolConnectionID) -> [Action] {
        guard let connection = connections[id], !connection.opened,
              connection.phase == .connecting || connection.phase == .closing
        else { return [] }
        let wasAttempt = connection.phase == .connecting
        connections[id] = nil
        var actions: [Action] = []
        guard lifecycle == .running else {
            checkShutdownComplete(into: &actions)
            return actions
        }
        guard wasAttempt else { return actions }
        consecutiveCreationFailures += 1
        let canServe = connections.values.contains { $0.phase == .connecting || (($0.phase == .open || $0.isPinging) && !$0.retiring) }
        if !canServe { failAllWaiters(with: .connectionCreationFailed, into: &actions) }
        if !backingOff {
            backingOff = true
            schedule(.connectionBackoff, at: clock.now.advanced(by: backoffDelay()), into: &actions)
        }
        return actions
    }

    /// A lease ended. The connection serves the next waiter, goes idle, or closes (retired, or
    /// the pool is shutting down). A lease the machine does not know is ignored.
    ///
    /// ```swift
    /// run(machine.connectionReleased(connection, request: id))
    /// ```
    public mutating func connectionReleased(_ id: PGPoolConnectionID, request: PGPoolRequestID) -> [Action] {
        guard requests[request] == .leased(id), connections[id]?.leases[request] != nil else { return [] }
        requests[request] = nil
        connections[id]?.leases[request] = nil
        var actions: [Action] = []
        cancel(.leakWarning(request), into: &actions)
        connectionAvailable(id, now: clock.now, into: &actions)
        fillDemand(into: &actions)
        checkShutdownComplete(into: &actions)
        return actions
    }

    /// A connection is gone: closed at the machine's request, or died. Its leases are forgotten
    /// (their holders see the dead connection), a request waiting on its ping goes back to the
    /// head of the queue, and a replacement is opened when below the minimum or waiters remain.
    ///
    /// ```swift
    /// run(machine.connectionClosed(id))
    /// ```
    public mutating func connectionClosed(_ id: PGPoolConnectionID) -> [Action] {
        guard let connection = connections.removeValue(forKey: id) else { return [] }
        var actions: [Action] = []
        cancel(.idleTimeout(id), into: &actions)
        cancel(.maximumLifetime(id), into: &actions)
        for request in connection.leases.keys.sorted() {
            requests[request] = nil
            cancel(.leakWarning(request), into: &actions)
        }
        if case .pinging(let request?) = connection.phase { requests[request] = .waiting }
        serveWaiters(into: &actions)
        fillDemand(into: &actions)
        checkShutdownComplete(into: &actions)
        return actions
    }

    /// The health check passed: the connection goes to the oldest request still waiting (the one
    /// it was checked for, unless an older one lost its own connection meanwhile), then serves
    /// others or goes idle.
    ///
    /// ```swift
    /// run(machine.pingSucceeded(id))
    /// ```
    public mutating func pingSucceeded(_ id: PGPoolConnectionID) -> [Action] {
        guard case .pinging(let request)? = connections[id]?.phase else { return [] }
        var actions: [Action] = []
        connections[id]?.phase = .open
        let now = clock.now
        if let request, requests[request] == .awaitingPing(id) {
            requests[request] = .waiting
            if lifecycle == .running, connections[id]?.retiring == false, let oldest = firstWaiting() {
                lease(oldest, on: id, now: now, into: &actions)
            }
        }
        connectionAvailable(id, now: now, into: &actions)
        serveWaiters(into: &actions)
        fillDemand(into: &actions)
        return actions
    }

    /// The health check failed: the connection is closed and the request it was checked for
    /// waits again, in its old place.
    ///
    /// ```swift
    /// run(machine.pingFailed(id))
    /// ```
    public mutating func pingFailed(_ id: PGPoolConnectionID) -> [Action] {
        guard case .pinging(let request)? = connections[id]?.phase else { return [] }
        var actions: [Action] = []
        if let request, requests[request] == .awaitingPing(id) { requests[request] = .waiting }
        close(id, into: &actions)
        serveWaiters(into: &actions)
        fillDemand(into: &actions)
        return actions
    }

    /// The counts right now.
    ///
    /// ```swift
    /// print(machine.metrics)   // open=2 (idle=1 leased=1 pinging=0) connecting=0 ...
    /// ```
    public var metrics: PGPoolMetrics {
        var m = PGPoolMetrics(waiters: waiters.count)
        for connection in connections.values {
            switch connection.phase {
            case .connecting: m.connecting += 1
            case .closing: m.closing += 1
            case .pinging: m.pinging += 1
            case .open:
                if connection.leases.isEmpty { m.idle += 1 } else { m.leased += 1 }
            }
            m.leases += connection.leases.count
        }
        return m
    }
}

extension PGPoolStateMachine.Connection {
    var isPinging: Bool {
        if case .pinging = phase { return true }
        return false
    }
}
