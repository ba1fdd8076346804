import PGPoolCore
import Testing

/// Connections that pipeline serve several leases at once.
@Suite struct MultiplexingTests {
    @Test func aConnectionServesUpToItsCapacity() {
        var p = Pool(quiet(max: 2, perConnection: 2))
        #expect(p.machine.leaseRequested(r(1)) == [.createConnection(c(0))])
        #expect(p.machine.leaseRequested(r(2)) == [], "the attempt in flight will serve two")
        #expect(p.machine.leaseRequested(r(3)) == [.createConnection(c(1))])
        #expect(p.machine.connectionCreated(c(0)) == [.leaseConnection(c(0), to: r(1)), .leaseConnection(c(0), to: r(2))])
        #expect(p.machine.metrics == PGPoolMetrics(connecting: 1, leased: 1, leases: 2, waiters: 1))
        #expect(p.machine.connectionCreated(c(1)) == [.leaseConnection(c(1), to: r(3))])
        #expect(p.machine.leaseRequested(r(4)) == [.leaseConnection(c(1), to: r(4))])
        #expect(p.machine.leaseRequested(r(5)) == [])
        #expect(p.machine.connectionReleased(c(0), request: r(1)) == [.leaseConnection(c(0), to: r(5))])
        #expect(p.machine.metrics == PGPoolMetrics(leased: 2, leases: 4))
    }

    @Test func idleConnectionsArePreferredOverSharingOne() {
        var p = Pool(quiet(min: 2, max: 2, perConnection: 4))
        p.warmedUp()
        #expect(p.machine.leaseRequested(r(1)) == [.leaseConnection(c(0), to: r(1))])
        #expect(p.machine.leaseRequested(r(2)) == [.leaseConnection(c(1), to: r(2))])
        #expect(p.machine.leaseRequested(r(3)) == [.leaseConnection(c(0), to: r(3))])
        #expect(p.machine.connectionReleased(c(1), request: r(2)) == [])
        #expect(p.machine.metrics == PGPoolMetrics(idle: 1, leased: 1, leases: 2))
    }
}
