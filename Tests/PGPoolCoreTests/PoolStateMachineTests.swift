@testable import PGPoolCore

typealias Machine = PGPoolStateMachine<PGMockClock>
typealias Action = Machine.Action

func c(_ n: Int) -> PGPoolConnectionID { PGPoolConnectionID(n) }
func r(_ n: UInt64) -> PGPoolRequestID { PGPoolRequestID(n) }
/// The mock clock's instant `s` seconds after its origin.
func t(_ s: Int) -> PGMockClock.Instant { PGMockClock.Instant(offset: .seconds(s)) }

/// A configuration with every optional behaviour off and no back-off jitter, so transcripts show
/// only what a test turns on.
func quiet(
    min: Int = 0, max: Int = 4, perConnection: Int = 1, acquireTimeout: Duration? = nil,
    maximumWaiters: Int? = nil, idleTimeout: Duration? = nil, lifetime: Duration? = nil,
    lifetimeJitter: Duration = .zero, healthCheckAfterIdle: Duration? = nil, leakWarning: Duration? = nil,
    backoff: Duration = .seconds(1), backoffMaximum: Duration = .seconds(4), backoffJitter: Double = 0
) -> PGPoolConfiguration {
    PGPoolConfiguration(
        minimumConnections: min, maximumConnections: max, leasesPerConnection: perConnection,
        acquireTimeout: acquireTimeout, maximumWaiters: maximumWaiters, idleTimeout: idleTimeout,
        maximumLifetime: lifetime, maximumLifetimeJitter: lifetimeJitter,
        healthCheckAfterIdle: healthCheckAfterIdle, leakWarningThreshold: leakWarning,
        connectBackoffInitial: backoff, connectBackoffMaximum: backoffMaximum, connectBackoffJitter: backoffJitter
    )
}

/// A machine on a fresh mock clock.
struct Pool {
    let clock = PGMockClock()
    var machine: Machine

    init(_ configuration: PGPoolConfiguration, seed: UInt64 = 1) {
        machine = Machine(configuration: configuration, clock: clock, random: PGPoolRandom(seed: seed))
    }

    func advance(_ seconds: Int) { clock.advance(by: .seconds(seconds)) }

    /// Starts the pool and opens the connections warm-up asks for, dropping the actions.
    mutating func warmedUp() {
        for case .createConnection(let id) in machine.startRequested() { _ = machine.connectionCreated(id) }
    }
}
