/// A snapshot of a pool's counts, cheap to take after every event.
///
/// ```swift
/// let m = machine.metrics
/// gauge("pool.open").record(m.open); gauge("pool.waiters").record(m.waiters)
/// ```
public struct PGPoolMetrics: Hashable, Sendable, CustomStringConvertible {
    /// Connections being opened.
    public var connecting: Int
    /// Open connections with no lease.
    public var idle: Int
    /// Open connections with at least one lease.
    public var leased: Int
    /// Open connections being health-checked before they are lent.
    public var pinging: Int
    /// Connections the runner was asked to close and has not yet reported closed.
    public var closing: Int
    /// Leases held (equals ``leased`` unless connections are multiplexed).
    public var leases: Int
    /// Requests waiting for a lease, including those whose connection is being health-checked.
    public var waiters: Int

    /// Open connections: idle, leased or pinging.
    public var open: Int { idle + leased + pinging }
    /// Every connection the pool holds a slot for; never above the configured maximum.
    public var total: Int { connecting + open + closing }

    /// Makes a snapshot (the state machine does this; tests may build one to compare).
    ///
    /// ```swift
    /// #expect(machine.metrics == PGPoolMetrics(idle: 2))
    /// ```
    public init(connecting: Int = 0, idle: Int = 0, leased: Int = 0, pinging: Int = 0,
                closing: Int = 0, leases: Int = 0, waiters: Int = 0) {
        self.connecting = connecting
        self.idle = idle
        self.leased = leased
        self.pinging = pinging
        self.closing = closing
        self.leases = leases
        self.waiters = waiters
    }

    public var description: String {
        "open=\(open) (idle=\(idle) leased=\(leased) pinging=\(pinging)) connecting=\(connecting) "
            + "closing=\(closing) leases=\(leases) waiters=\(waiters)"
    }
}
