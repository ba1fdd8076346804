import PGPoolCore
import Testing

/// Warm-up, leasing, the wait queue, acquire timeouts, cancellation and stray events.
@Suite struct LeaseTests {
    @Test func warmUpOpensTheMinimumAndReportsReadyOnce() {
        var p = Pool(quiet(min: 2))
        #expect(p.machine.startRequested() == [.createConnection(c(0)), .createConnection(c(1))])
        #expect(p.machine.metrics == PGPoolMetrics(connecting: 2))
        #expect(p.machine.connectionCreated(c(0)) == [])
        #expect(!p.machine.isReady)
        #expect(p.machine.connectionCreated(c(1)) == [.poolReady])
        #expect(p.machine.isReady)
        #expect(p.machine.metrics == PGPoolMetrics(idle: 2))
        #expect(p.machine.startRequested() == [])
    }

    @Test func warmUpWithNoMinimumIsReadyAtOnce() {
        var p = Pool(quiet(min: 0))
        #expect(p.machine.startRequested() == [.poolReady])
    }

    @Test func leaseAnIdleConnectionAndGiveItBack() {
        var p = Pool(quiet(min: 1))
        p.warmedUp()
        #expect(p.machine.leaseRequested(r(1)) == [.leaseConnection(c(0), to: r(1))])
        #expect(p.machine.metrics == PGPoolMetrics(leased: 1, leases: 1))
        #expect(p.machine.connectionReleased(c(0), request: r(1)) == [])
        #expect(p.machine.metrics == PGPoolMetrics(idle: 1))
    }

    @Test func growsOnDemandUpToTheMaximumAndServesWaitersFirstComeFirstServed() {
        var p = Pool(quiet(max: 2, acquireTimeout: .seconds(5)))
        #expect(p.machine.leaseRequested(r(1)) == [.scheduleTimer(.acquireTimeout(r(1)), deadline: t(5)), .createConnection(c(0))])
        #expect(p.machine.leaseRequested(r(2)) == [.scheduleTimer(.acquireTimeout(r(2)), deadline: t(5)), .createConnection(c(1))])
        #expect(p.machine.leaseRequested(r(3)) == [.scheduleTimer(.acquireTimeout(r(3)), deadline: t(5))])
        #expect(p.machine.metrics == PGPoolMetrics(connecting: 2, waiters: 3))
        // The second connection opens first: it still goes to the oldest waiter.
        #expect(p.machine.connectionCreated(c(1)) == [.cancelTimer(.acquireTimeout(r(1))), .leaseConnection(c(1), to: r(1))])
        #expect(p.machine.connectionCreated(c(0)) == [.cancelTimer(.acquireTimeout(r(2))), .leaseConnection(c(0), to: r(2))])
        #expect(p.machine.connectionReleased(c(1), request: r(1)) == [.cancelTimer(.acquireTimeout(r(3))), .leaseConnection(c(1), to: r(3))])
        #expect(p.machine.metrics == PGPoolMetrics(leased: 2, leases: 2))
    }

    @Test func aNewRequestDoesNotOvertakeTheQueue() {
        var p = Pool(quiet(max: 1))
        #expect(p.machine.leaseRequested(r(1)) == [.createConnection(c(0))])
        #expect(p.machine.leaseRequested(r(2)) == [])
        #expect(p.machine.connectionCreated(c(0)) == [.leaseConnection(c(0), to: r(1))])
        #expect(p.machine.leaseRequested(r(3)) == [])
        #expect(p.machine.connectionReleased(c(0), request: r(1)) == [.leaseConnection(c(0), to: r(2))])
        #expect(p.machine.connectionReleased(c(0), request: r(2)) == [.leaseConnection(c(0), to: r(3))])
    }

    @Test func acquireTimesOutWithATypedError() {
        var p = Pool(quiet(max: 1, acquireTimeout: .seconds(5)))
        _ = p.machine.leaseRequested(r(1))
        _ = p.machine.connectionCreated(c(0))
        #expect(p.machine.leaseRequested(r(2), timeout: .seconds(3)) == [.scheduleTimer(.acquireTimeout(r(2)), deadline: t(3))])
        p.advance(2)
        #expect(p.machine.timerFired(.acquireTimeout(r(2))) == [], "early fire is ignored")
        p.advance(1)
        #expect(p.machine.timerFired(.acquireTimeout(r(2))) == [.failRequest(r(2), .acquireTimedOut)])
        #expect(p.machine.timerFired(.acquireTimeout(r(2))) == [], "a second fire is ignored")
        #expect(p.machine.metrics.waiters == 0)
        #expect(p.machine.connectionReleased(c(0), request: r(1)) == [])
        #expect(PGPoolError.acquireTimedOut.code == .acquireTimedOut)
        #expect(PGPoolError.acquireTimedOut.isSafeToRetry)
    }

    @Test func aFullQueueFailsAtOnceAsExhausted() {
        var p = Pool(quiet(max: 1, maximumWaiters: 1))
        #expect(p.machine.leaseRequested(r(1)) == [.createConnection(c(0))])
        #expect(p.machine.leaseRequested(r(2)) == [.failRequest(r(2), .poolExhausted)])
        #expect(p.machine.metrics == PGPoolMetrics(connecting: 1, waiters: 1))
    }

    @Test func aCancelledWaiterLeavesCleanly() {
        var p = Pool(quiet(max: 1, acquireTimeout: .seconds(5)))
        _ = p.machine.leaseRequested(r(1))
        _ = p.machine.leaseRequested(r(2))
        #expect(p.machine.requestCancelled(r(1)) == [.cancelTimer(.acquireTimeout(r(1)))])
        #expect(p.machine.metrics.waiters == 1)
        #expect(p.machine.connectionCreated(c(0)) == [.cancelTimer(.acquireTimeout(r(2))), .leaseConnection(c(0), to: r(2))])
        #expect(p.machine.requestCancelled(r(2)) == [], "a served request is released, not cancelled")
        #expect(p.machine.requestCancelled(r(1)) == [])
        #expect(p.machine.timerFired(.acquireTimeout(r(1))) == [])
    }

    @Test func strayEventsAreIgnoredOrAnswered() {
        var p = Pool(quiet(min: 1))
        p.warmedUp()
        #expect(p.machine.connectionCreated(c(99)) == [.closeConnection(c(99))], "an unknown connection is closed, not leaked")
        #expect(p.machine.connectionCreated(c(0)) == [], "already open")
        #expect(p.machine.connectionCreationFailed(c(0)) == [])
        #expect(p.machine.connectionCreationFailed(c(99)) == [])
        #expect(p.machine.connectionReleased(c(0), request: r(9)) == [])
        #expect(p.machine.connectionClosed(c(99)) == [])
        #expect(p.machine.pingSucceeded(c(0)) == [])
        #expect(p.machine.pingFailed(c(99)) == [])
        #expect(p.machine.timerFired(.idleTimeout(c(0))) == [])
        #expect(p.machine.timerFired(.shutdownDeadline) == [])
        #expect(p.machine.timerFired(.connectionBackoff) == [])
        #expect(p.machine.leaseRequested(r(1)) == [.leaseConnection(c(0), to: r(1))])
        #expect(p.machine.leaseRequested(r(1)) == [], "a duplicate id is ignored")
        #expect(p.machine.connectionReleased(c(1), request: r(1)) == [], "wrong connection")
        #expect(p.machine.metrics == PGPoolMetrics(leased: 1, leases: 1))
    }

    @Test func configurationIsNormalized() {
        let c = PGPoolConfiguration(minimumConnections: 9, maximumConnections: 0, leasesPerConnection: 0,
                                    connectBackoffJitter: 7).normalized
        #expect(c.maximumConnections == 1)
        #expect(c.minimumConnections == 1)
        #expect(c.leasesPerConnection == 1)
        #expect(c.connectBackoffJitter == 1)
    }
}
