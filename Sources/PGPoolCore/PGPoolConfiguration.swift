/// What a pool may do: sizes, timeouts, health checks, back-off and leak warnings.
/// Every duration that can be turned off is optional (`nil` = off).
///
/// ```swift
/// var config = PGPoolConfiguration(minimumConnections: 2, maximumConnections: 8)
/// config.acquireTimeout = .seconds(5)
/// config.idleTimeout = .seconds(60)
/// config.maximumLifetime = .seconds(1800); config.maximumLifetimeJitter = .seconds(60)
/// config.healthCheckAfterIdle = .seconds(30)
/// config.leakWarningThreshold = .seconds(120)
/// ```
public struct PGPoolConfiguration: Hashable, Sendable {
    /// Connections opened at start and kept open (idle timeout never goes below this).
    public var minimumConnections: Int
    /// Connections never exceeded, counting those being opened and those being closed.
    public var maximumConnections: Int
    /// Leases one connection may serve at once (more than 1 for pipelining connections).
    public var leasesPerConnection: Int
    /// How long a request waits for a connection before failing with `acquireTimedOut`.
    public var acquireTimeout: Duration?
    /// Requests allowed to wait at once; one more fails at once with `poolExhausted`.
    public var maximumWaiters: Int?
    /// Idle connections older than this are closed, while more than the minimum are open.
    public var idleTimeout: Duration?
    /// Connections are retired this long after they open (less a random jitter).
    public var maximumLifetime: Duration?
    /// Up to this much is taken off each connection's lifetime, so connections opened together
    /// do not all retire together.
    public var maximumLifetimeJitter: Duration
    /// A connection idle for longer than this is pinged before it is lent.
    public var healthCheckAfterIdle: Duration?
    /// A lease held longer than this produces one `warnLeak` action.
    public var leakWarningThreshold: Duration?
    /// The back-off after the first failed connection attempt; it doubles per further failure.
    public var connectBackoffInitial: Duration
    /// The longest back-off between connection attempts.
    public var connectBackoffMaximum: Duration
    /// The fraction (0...1) of each back-off that is randomly taken off.
    public var connectBackoffJitter: Double

    /// Makes a configuration; the defaults suit a small service.
    ///
    /// ```swift
    /// let config = PGPoolConfiguration(minimumConnections: 1, maximumConnections: 4)
    /// ```
    public init(
        minimumConnections: Int = 0,
        maximumConnections: Int = 10,
        leasesPerConnection: Int = 1,
        acquireTimeout: Duration? = .seconds(30),
        maximumWaiters: Int? = nil,
        idleTimeout: Duration? = .seconds(60),
        maximumLifetime: Duration? = nil,
        maximumLifetimeJitter: Duration = .zero,
        healthCheckAfterIdle: Duration? = nil,
        leakWarningThreshold: Duration? = nil,
        connectBackoffInitial: Duration = .milliseconds(100),
        connectBackoffMaximum: Duration = .seconds(10),
        connectBackoffJitter: Double = 0.2
    ) {
        self.minimumConnections = minimumConnections
        self.maximumConnections = maximumConnections
        self.leasesPerConnection = leasesPerConnection
        self.acquireTimeout = acquireTimeout
        self.maximumWaiters = maximumWaiters
        self.idleTimeout = idleTimeout
        self.maximumLifetime = maximumLifetime
        self.maximumLifetimeJitter = maximumLifetimeJitter
        self.healthCheckAfterIdle = healthCheckAfterIdle
        self.leakWarningThreshold = leakWarningThreshold
        self.connectBackoffInitial = connectBackoffInitial
        self.connectBackoffMaximum = connectBackoffMaximum
        self.connectBackoffJitter = connectBackoffJitter
    }

    /// The configuration with out-of-range values brought into range: at least one connection
    /// and one lease per connection, the minimum no larger than the maximum, jitter in 0...1.
    ///
    /// ```swift
    /// PGPoolConfiguration(minimumConnections: 9, maximumConnections: 3).normalized.minimumConnections // 3
    /// ```
    public var normalized: PGPoolConfiguration {
        var c = self
        c.maximumConnections = max(1, c.maximumConnections)
        c.minimumConnections = min(max(0, c.minimumConnections), c.maximumConnections)
        c.leasesPerConnection = max(1, c.leasesPerConnection)
        if let w = c.maximumWaiters { c.maximumWaiters = max(0, w) }
        c.maximumLifetimeJitter = max(.zero, c.maximumLifetimeJitter)
        c.connectBackoffJitter = min(max(0, c.connectBackoffJitter.isNaN ? 0 : c.connectBackoffJitter), 1)
        c.connectBackoffInitial = max(.zero, c.connectBackoffInitial)
        c.connectBackoffMaximum = max(c.connectBackoffInitial, c.connectBackoffMaximum)
        return c
    }
}
