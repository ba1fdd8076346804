import Foundation
import PGClient
import PGTestSupport
import Testing

/// A cluster whose reader sits behind a `PGFaultProxy`: when the reader's connections drop and new ones are
/// refused, reads move to the writer (the fallback) within a bound, the reader is marked unhealthy, and reads
/// return to it once it accepts connections again.
@Suite(.serialized) struct ClusterFaultTests {
    func inRecovery(_ c: PGConnection) async throws -> Bool {
        try await c.queryOne("SELECT pg_is_in_recovery()", as: Bool.self)
    }

    /// Reads until one is served by the wanted side (`true`: a reader in recovery, `false`: the writer), up to
    /// ``Promptly/bound``; failed reads (the drop itself) are counted, not fatal.
    func readUntil(_ cluster: PGCluster, servedByReader wanted: Bool) async throws -> (reached: Bool, failures: Int) {
        let deadline = ContinuousClock.now + Promptly.bound
        var failures = 0
        while ContinuousClock.now < deadline {
            do {
                if try await cluster.read({ try await inRecovery($0) }) == wanted { return (true, failures) }
            } catch is PGError {
                failures += 1
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return (false, failures)
    }

    @Test func aReaderThatDropsIsSkippedAndComesBack() async throws {
        guard let pair = try await ReplicaPair.get() else { return }
        let proxy = try PGFaultProxy(in: pair.replica)
        defer { proxy.stop() }
        let cluster = try PGCluster(writer: pair.primary.url(), readers: [proxy.url(for: pair.replica)],
                                    options: .init(healthCheckInterval: .milliseconds(100)))
        await cluster.start()
        for _ in 0..<3 { #expect(try await cluster.read { try await inRecovery($0) } == true) }
        #expect(proxy.statistics.accepted >= 1)

        // The reader goes away: its connections are reset and new ones refused.
        proxy.setAdmission(.reset)
        proxy.resetConnections()
        let fallback = try await readUntil(cluster, servedByReader: false)
        #expect(fallback.reached, "reads never reached the writer after the reader dropped")
        let deadline = ContinuousClock.now + Promptly.bound
        while await cluster.readerStates[0].healthy, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(await cluster.readerStates[0].healthy == false)
        #expect(proxy.statistics.reset >= 1, "the reader had no connection to lose: \(proxy.statistics)")

        // It is back: reads return to it.
        proxy.setAdmission(.accept)
        let back = try await readUntil(cluster, servedByReader: true)
        #expect(back.reached, "reads never returned to the reader")
        await cluster.shutdown()
    }
}
