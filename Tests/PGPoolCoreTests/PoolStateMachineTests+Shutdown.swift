import PGPoolCore
import Testing

/// Graceful shutdown: nothing more is lent, idle connections close at once, leases finish until
/// the deadline, then everything left is force-closed.
@Suite struct ShutdownTests {
    @Test func leasesFinishThenTheDeadlineForceClosesTheRest() {
        var p = Pool(quiet(min: 2, max: 3, acquireTimeout: .seconds(5)))
        p.warmedUp()
        #expect(p.machine.leaseRequested(r(1)) == [.leaseConnection(c(0), to: r(1))])
        #expect(p.machine.leaseRequested(r(2)) == [.leaseConnection(c(1), to: r(2))])
        #expect(p.machine.leaseRequested(r(3)) == [.scheduleTimer(.acquireTimeout(r(3)), deadline: t(5)), .createConnection(c(2))])
        #expect(p.machine.shutdownRequested(gracePeriod: .seconds(10)) == [
            .cancelTimer(.acquireTimeout(r(3))), .failRequest(r(3), .poolShutDown),
            .scheduleTimer(.shutdownDeadline, deadline: t(10)),
        ])
        #expect(p.machine.leaseRequested(r(4)) == [.failRequest(r(4), .poolShutDown)])
        #expect(p.machine.connectionCreated(c(2)) == [.closeConnection(c(2))], "an attempt that lands late is closed")
        #expect(p.machine.connectionReleased(c(0), request: r(1)) == [.closeConnection(c(0))])
        #expect(p.machine.connectionClosed(c(0)) == [])
        #expect(p.machine.connectionClosed(c(2)) == [])
        #expect(p.machine.metrics == PGPoolMetrics(leased: 1, leases: 1))
        p.advance(10)
        #expect(p.machine.timerFired(.shutdownDeadline) == [.forceCloseConnection(c(1))])
        #expect(p.machine.connectionReleased(c(1), request: r(2)) == [], "a force-closed lease is forgotten")
        #expect(!p.machine.isShutDown)
        #expect(p.machine.connectionClosed(c(1)) == [.shutdownComplete])
        #expect(p.machine.isShutDown)
        #expect(p.machine.shutdownRequested(gracePeriod: .seconds(1)) == [])
        #expect(p.machine.leaseRequested(r(5)) == [.failRequest(r(5), .poolShutDown)])
        #expect(p.machine.startRequested() == [])
        #expect(p.machine.metrics == PGPoolMetrics())
    }

    @Test func idleConnectionsCloseAtOnceAndCompletionCancelsTheDeadline() {
        var p = Pool(quiet(min: 1, idleTimeout: .seconds(60)))
        p.warmedUp()
        #expect(p.machine.shutdownRequested(gracePeriod: .seconds(5)) == [
            .cancelTimer(.idleTimeout(c(0))), .closeConnection(c(0)),
            .scheduleTimer(.shutdownDeadline, deadline: t(5)),
        ])
        #expect(p.machine.connectionClosed(c(0)) == [.cancelTimer(.shutdownDeadline), .shutdownComplete])
    }

    @Test func anEmptyPoolShutsDownAtOnce() {
        var p = Pool(quiet())
        #expect(p.machine.shutdownRequested(gracePeriod: .seconds(5)) == [.shutdownComplete])
    }

    @Test func noGracePeriodForceClosesLeasesAndAttemptsAtOnce() {
        var p = Pool(quiet(max: 2, leakWarning: .seconds(30)))
        _ = p.machine.leaseRequested(r(1))
        _ = p.machine.connectionCreated(c(0))
        _ = p.machine.leaseRequested(r(2))
        #expect(p.machine.shutdownRequested(gracePeriod: .zero) == [
            .failRequest(r(2), .poolShutDown),
            .cancelTimer(.leakWarning(r(1))), .forceCloseConnection(c(0)),
            .forceCloseConnection(c(1)),
        ])
        #expect(p.machine.connectionClosed(c(0)) == [])
        #expect(p.machine.connectionCreationFailed(c(1)) == [.shutdownComplete])
    }

    @Test func shutdownStopsBackoffAndPings() {
        var p = Pool(quiet(min: 2, healthCheckAfterIdle: .seconds(1)))
        #expect(p.machine.startRequested() == [.createConnection(c(0)), .createConnection(c(1))])
        #expect(p.machine.connectionCreated(c(0)) == [])
        #expect(p.machine.connectionCreationFailed(c(1)) == [.scheduleTimer(.connectionBackoff, deadline: t(1))])
        p.advance(2)
        #expect(p.machine.leaseRequested(r(1)) == [.pingConnection(c(0))])
        #expect(p.machine.shutdownRequested(gracePeriod: .seconds(5)) == [
            .cancelTimer(.connectionBackoff), .failRequest(r(1), .poolShutDown),
            .closeConnection(c(0)), .scheduleTimer(.shutdownDeadline, deadline: t(7)),
        ])
        #expect(p.machine.pingSucceeded(c(0)) == [], "the ping answer comes after the close")
        #expect(p.machine.timerFired(.connectionBackoff) == [])
        #expect(p.machine.connectionClosed(c(0)) == [.cancelTimer(.shutdownDeadline), .shutdownComplete])
    }
}
