extension PGPoolStateMachine {
    /// What the runner must do after an event. Actions carry ids, never continuations; run them
    /// in order.
    ///
    /// ```swift
    /// for action in machine.leaseRequested(id) {
    ///     switch action {
    ///     case .createConnection(let c): startConnecting(c)
    ///     case .leaseConnection(let c, let r): waiters.removeValue(forKey: r)?.resume(returning: c)
    ///     case .failRequest(let r, let e): waiters.removeValue(forKey: r)?.resume(throwing: e)
    ///     case .scheduleTimer(let t, let d): schedule(t, at: d)
    ///     case .cancelTimer(let t): cancel(t)
    ///     default: ...
    ///     }
    /// }
    /// ```
    public enum Action: Hashable, Sendable {
        /// Open a new connection; report `connectionCreated` or `connectionCreationFailed`.
        case createConnection(PGPoolConnectionID)
        /// Hand the connection to the request; later report `connectionReleased(_:request:)`.
        case leaseConnection(PGPoolConnectionID, to: PGPoolRequestID)
        /// Fail the request (the machine forgets it).
        case failRequest(PGPoolRequestID, PGPoolError)
        /// Health-check the idle connection; report `pingSucceeded` or `pingFailed`.
        case pingConnection(PGPoolConnectionID)
        /// Close the connection politely (it has no lease); report `connectionClosed`.
        case closeConnection(PGPoolConnectionID)
        /// Close the connection now, even though it is leased or still connecting (shutdown
        /// deadline); report `connectionClosed` (or `connectionCreationFailed` for an attempt).
        case forceCloseConnection(PGPoolConnectionID)
        /// Call `timerFired` with this id once the clock reaches the deadline. Replaces any
        /// pending timer with the same id.
        case scheduleTimer(PGPoolTimerID, deadline: Clock.Instant)
        /// The timer is no longer wanted (a late fire is ignored anyway).
        case cancelTimer(PGPoolTimerID)
        /// The lease has been held longer than the leak-warning threshold: log it.
        case warnLeak(PGPoolConnectionID, request: PGPoolRequestID, heldFor: Duration)
        /// Warm-up finished: the minimum number of connections is open. Sent once.
        case poolReady
        /// Every connection is closed after a shutdown. Sent once; the machine then only fails
        /// requests.
        case shutdownComplete
    }
}
