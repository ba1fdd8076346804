import PGPoolCore
import Testing

/// Idle timeout, maximum lifetime, health checks, replacement, back-off and leak warnings.
@Suite struct ConnectionLifecycleTests {
    @Test func idleConnectionsCloseAfterTheTimeoutButNeverBelowTheMinimum() {
        var p = Pool(quiet(min: 1, max: 3, idleTimeout: .seconds(60)))
        #expect(p.machine.startRequested() == [.createConnection(c(0))])
        #expect(p.machine.connectionCreated(c(0)) == [.scheduleTimer(.idleTimeout(c(0)), deadline: t(60)), .poolReady])
        #expect(p.machine.leaseRequested(r(1)) == [.cancelTimer(.idleTimeout(c(0))), .leaseConnection(c(0), to: r(1))])
        #expect(p.machine.leaseRequested(r(2)) == [.createConnection(c(1))])
        #expect(p.machine.connectionCreated(c(1)) == [.leaseConnection(c(1), to: r(2))])
        p.advance(10)
        #expect(p.machine.connectionReleased(c(0), request: r(1)) == [.scheduleTimer(.idleTimeout(c(0)), deadline: t(70))])
        #expect(p.machine.connectionReleased(c(1), request: r(2)) == [.scheduleTimer(.idleTimeout(c(1)), deadline: t(70))])
        p.advance(60)
        #expect(p.machine.timerFired(.idleTimeout(c(0))) == [.closeConnection(c(0))])
        #expect(p.machine.timerFired(.idleTimeout(c(1))) == [], "the minimum stays open")
        #expect(p.machine.metrics == PGPoolMetrics(idle: 1, closing: 1))
        #expect(p.machine.connectionClosed(c(0)) == [])
        #expect(p.machine.metrics == PGPoolMetrics(idle: 1))
    }

    @Test func aStaleIdleTimerDoesNotCloseAConnectionIdleAgain() {
        var p = Pool(quiet(max: 2, idleTimeout: .seconds(60)))
        _ = p.machine.leaseRequested(r(1))
        _ = p.machine.connectionCreated(c(0))
        #expect(p.machine.connectionReleased(c(0), request: r(1)) == [.scheduleTimer(.idleTimeout(c(0)), deadline: t(60))])
        p.advance(10)
        #expect(p.machine.leaseRequested(r(2)) == [.cancelTimer(.idleTimeout(c(0))), .leaseConnection(c(0), to: r(2))])
        p.advance(10)
        #expect(p.machine.connectionReleased(c(0), request: r(2)) == [.scheduleTimer(.idleTimeout(c(0)), deadline: t(80))])
        p.advance(40)
        #expect(p.machine.timerFired(.idleTimeout(c(0))) == [], "the fire for t60 arrives late, after a reschedule")
        p.advance(20)
        #expect(p.machine.timerFired(.idleTimeout(c(0))) == [.closeConnection(c(0))])
    }

    @Test func aConnectionPastItsLifetimeRetiresAfterItsLeaseAndIsReplaced() {
        var p = Pool(quiet(min: 1, lifetime: .seconds(100)))
        #expect(p.machine.startRequested() == [.createConnection(c(0))])
        #expect(p.machine.connectionCreated(c(0)) == [.scheduleTimer(.maximumLifetime(c(0)), deadline: t(100)), .poolReady])
        #expect(p.machine.leaseRequested(r(1)) == [.leaseConnection(c(0), to: r(1))])
        p.advance(100)
        #expect(p.machine.timerFired(.maximumLifetime(c(0))) == [.createConnection(c(1))], "replacement opens while the lease runs")
        #expect(p.machine.leaseRequested(r(2)) == [], "a retiring connection is not lent")
        #expect(p.machine.connectionReleased(c(0), request: r(1)) == [.closeConnection(c(0))])
        #expect(p.machine.connectionCreated(c(1)) == [.scheduleTimer(.maximumLifetime(c(1)), deadline: t(200)), .leaseConnection(c(1), to: r(2))])
        #expect(p.machine.connectionClosed(c(0)) == [])
        #expect(p.machine.metrics == PGPoolMetrics(leased: 1, leases: 1))
    }

    @Test func anIdleConnectionPastItsLifetimeClosesAtOnce() {
        var p = Pool(quiet(min: 1, lifetime: .seconds(100)))
        p.warmedUp()
        p.advance(100)
        #expect(p.machine.timerFired(.maximumLifetime(c(0))) == [.closeConnection(c(0)), .createConnection(c(1))])
    }

    @Test func lifetimeJitterIsBoundedAndDeterministicPerSeed() {
        func deadlines(seed: UInt64) -> [PGMockClock.Instant] {
            var p = Pool(quiet(min: 8, max: 8, lifetime: .seconds(100), lifetimeJitter: .seconds(10)), seed: seed)
            var result: [PGMockClock.Instant] = []
            for case .createConnection(let id) in p.machine.startRequested() {
                for case .scheduleTimer(.maximumLifetime, let deadline) in p.machine.connectionCreated(id) { result.append(deadline) }
            }
            return result
        }
        let a = deadlines(seed: 42)
        #expect(a.count == 8)
        #expect(a.allSatisfy { $0 >= t(90) && $0 <= t(100) })
        #expect(Set(a).count > 1, "connections opened together retire apart")
        #expect(a == deadlines(seed: 42))
        #expect(a != deadlines(seed: 43))
    }

    @Test func aConnectionIdleTooLongIsPingedBeforeItIsLent() {
        var p = Pool(quiet(min: 1, acquireTimeout: .seconds(5), healthCheckAfterIdle: .seconds(30)))
        p.warmedUp()
        p.advance(31)
        #expect(p.machine.leaseRequested(r(1)) == [.scheduleTimer(.acquireTimeout(r(1)), deadline: t(36)), .pingConnection(c(0))])
        #expect(p.machine.metrics == PGPoolMetrics(pinging: 1, waiters: 1))
        #expect(p.machine.pingSucceeded(c(0)) == [.cancelTimer(.acquireTimeout(r(1))), .leaseConnection(c(0), to: r(1))])
        #expect(p.machine.connectionReleased(c(0), request: r(1)) == [])
        p.advance(10)
        #expect(p.machine.leaseRequested(r(2)) == [.leaseConnection(c(0), to: r(2))], "recently used: no ping")
    }

    @Test func aFailedPingClosesTheConnectionAndTheRequestKeepsItsPlace() {
        var p = Pool(quiet(min: 1, max: 2, healthCheckAfterIdle: .seconds(30)))
        p.warmedUp()
        p.advance(31)
        #expect(p.machine.leaseRequested(r(1)) == [.pingConnection(c(0))])
        #expect(p.machine.leaseRequested(r(2)) == [.createConnection(c(1))])
        #expect(p.machine.pingFailed(c(0)) == [.closeConnection(c(0))], "a closing connection still counts against the maximum")
        #expect(p.machine.connectionCreated(c(1)) == [.leaseConnection(c(1), to: r(1))], "r1 is still first")
        #expect(p.machine.connectionClosed(c(0)) == [.createConnection(c(2))])
        #expect(p.machine.connectionCreated(c(2)) == [.leaseConnection(c(2), to: r(2))])
    }

    @Test func aRequestWhosePingFailedKeepsItsTurnOverYoungerOnes() {
        var p = Pool(quiet(min: 2, max: 3, healthCheckAfterIdle: .seconds(30)))
        p.warmedUp()
        p.advance(31)
        #expect(p.machine.leaseRequested(r(1)) == [.pingConnection(c(0))])
        #expect(p.machine.leaseRequested(r(2)) == [.pingConnection(c(1))])
        #expect(p.machine.pingFailed(c(0)) == [.closeConnection(c(0)), .createConnection(c(2))])
        #expect(p.machine.pingSucceeded(c(1)) == [.leaseConnection(c(1), to: r(1))], "r1 came first")
        #expect(p.machine.connectionCreated(c(2)) == [.leaseConnection(c(2), to: r(2))])
    }

    @Test func aRequestThatTimesOutDuringAPingLeavesTheConnectionIdle() {
        var p = Pool(quiet(min: 1, acquireTimeout: .seconds(5), idleTimeout: .seconds(60), healthCheckAfterIdle: .seconds(30)))
        p.warmedUp()
        p.advance(31)
        #expect(p.machine.leaseRequested(r(1)) == [.scheduleTimer(.acquireTimeout(r(1)), deadline: t(36)), .cancelTimer(.idleTimeout(c(0))), .pingConnection(c(0))])
        p.advance(5)
        #expect(p.machine.timerFired(.acquireTimeout(r(1))) == [.failRequest(r(1), .acquireTimedOut)])
        #expect(p.machine.pingSucceeded(c(0)) == [.scheduleTimer(.idleTimeout(c(0)), deadline: t(96))])
        #expect(p.machine.metrics == PGPoolMetrics(idle: 1))
    }

    @Test func aDeadConnectionIsReplacedWhenBelowTheMinimum() {
        var p = Pool(quiet(min: 2))
        p.warmedUp()
        #expect(p.machine.connectionClosed(c(1)) == [.createConnection(c(2))])
        #expect(p.machine.connectionCreated(c(2)) == [])
        #expect(p.machine.metrics == PGPoolMetrics(idle: 2))
    }

    @Test func aDeadLeasedConnectionIsReplacedForWaiters() {
        var p = Pool(quiet(max: 1))
        _ = p.machine.leaseRequested(r(1))
        _ = p.machine.connectionCreated(c(0))
        #expect(p.machine.leaseRequested(r(2)) == [])
        #expect(p.machine.connectionClosed(c(0)) == [.createConnection(c(1))])
        #expect(p.machine.connectionReleased(c(0), request: r(1)) == [], "the dead lease is forgotten")
        #expect(p.machine.connectionCreated(c(1)) == [.leaseConnection(c(1), to: r(2))])
    }

    @Test func aDeadIdleConnectionAboveTheMinimumIsNotReplaced() {
        var p = Pool(quiet(min: 0))
        _ = p.machine.leaseRequested(r(1))
        _ = p.machine.connectionCreated(c(0))
        _ = p.machine.connectionReleased(c(0), request: r(1))
        #expect(p.machine.connectionClosed(c(0)) == [])
        #expect(p.machine.metrics == PGPoolMetrics())
    }

    @Test func creationFailuresBackOffExponentiallyAndFailWaitersNobodyCanServe() {
        var p = Pool(quiet(min: 1, max: 2, acquireTimeout: .seconds(10), backoff: .seconds(1), backoffMaximum: .seconds(4)))
        #expect(p.machine.startRequested() == [.createConnection(c(0))])
        #expect(p.machine.leaseRequested(r(1)) == [.scheduleTimer(.acquireTimeout(r(1)), deadline: t(10))])
        #expect(p.machine.connectionCreationFailed(c(0)) == [
            .cancelTimer(.acquireTimeout(r(1))), .failRequest(r(1), .connectionCreationFailed),
            .scheduleTimer(.connectionBackoff, deadline: t(1)),
        ])
        #expect(p.machine.leaseRequested(r(2)) == [.scheduleTimer(.acquireTimeout(r(2)), deadline: t(10))], "no attempt while backing off")
        p.advance(1)
        #expect(p.machine.timerFired(.connectionBackoff) == [.createConnection(c(1))])
        #expect(p.machine.connectionCreationFailed(c(1)) == [
            .cancelTimer(.acquireTimeout(r(2))), .failRequest(r(2), .connectionCreationFailed),
            .scheduleTimer(.connectionBackoff, deadline: t(3)),
        ])
        p.advance(2)
        #expect(p.machine.timerFired(.connectionBackoff) == [.createConnection(c(2))])
        #expect(p.machine.connectionCreationFailed(c(2)) == [.scheduleTimer(.connectionBackoff, deadline: t(7))])
        p.advance(4)
        #expect(p.machine.timerFired(.connectionBackoff) == [.createConnection(c(3))])
        #expect(p.machine.connectionCreationFailed(c(3)) == [.scheduleTimer(.connectionBackoff, deadline: t(11))], "capped at 4 s")
        p.advance(4)
        #expect(p.machine.timerFired(.connectionBackoff) == [.createConnection(c(4))])
        #expect(p.machine.connectionCreated(c(4)) == [.poolReady])
        #expect(p.machine.connectionClosed(c(4)) == [.createConnection(c(5))])
        #expect(p.machine.connectionCreationFailed(c(5)) == [.scheduleTimer(.connectionBackoff, deadline: t(12))], "success reset the back-off")
    }

    @Test func waitersKeepWaitingWhenAnOpenConnectionCanServeThem() {
        var p = Pool(quiet(max: 2, acquireTimeout: .seconds(10)))
        _ = p.machine.leaseRequested(r(1))
        _ = p.machine.connectionCreated(c(0))
        #expect(p.machine.leaseRequested(r(2)) == [.scheduleTimer(.acquireTimeout(r(2)), deadline: t(10)), .createConnection(c(1))])
        #expect(p.machine.connectionCreationFailed(c(1)) == [.scheduleTimer(.connectionBackoff, deadline: t(1))])
        #expect(p.machine.connectionReleased(c(0), request: r(1)) == [.cancelTimer(.acquireTimeout(r(2))), .leaseConnection(c(0), to: r(2))])
    }

    @Test func backoffJitterIsBoundedAndSeeded() {
        func firstBackoff(seed: UInt64) -> PGMockClock.Instant? {
            var p = Pool(quiet(min: 1, backoff: .seconds(10), backoffMaximum: .seconds(60), backoffJitter: 0.5), seed: seed)
            _ = p.machine.startRequested()
            for case .scheduleTimer(.connectionBackoff, let deadline) in p.machine.connectionCreationFailed(c(0)) { return deadline }
            return nil
        }
        let deadline = firstBackoff(seed: 5)
        #expect(deadline.map { $0 >= t(5) && $0 <= t(10) } == true)
        #expect(deadline == firstBackoff(seed: 5))
    }

    @Test func aLeaseHeldTooLongIsReportedOnce() {
        var p = Pool(quiet(min: 1, leakWarning: .seconds(30)))
        p.warmedUp()
        #expect(p.machine.leaseRequested(r(1)) == [.leaseConnection(c(0), to: r(1)), .scheduleTimer(.leakWarning(r(1)), deadline: t(30))])
        p.advance(30)
        #expect(p.machine.timerFired(.leakWarning(r(1))) == [.warnLeak(c(0), request: r(1), heldFor: .seconds(30))])
        #expect(p.machine.connectionReleased(c(0), request: r(1)) == [])
        #expect(p.machine.leaseRequested(r(2)) == [.leaseConnection(c(0), to: r(2)), .scheduleTimer(.leakWarning(r(2)), deadline: t(60))])
        #expect(p.machine.connectionReleased(c(0), request: r(2)) == [.cancelTimer(.leakWarning(r(2)))])
    }
}
