import Foundation
import PGClient
import PGPoolCore
import PGTestSupport
import Testing

@Suite(.serialized) struct ClusterTests {
    func inRecovery(_ c: PGConnection) async throws -> Bool {
        try await c.queryOne("SELECT pg_is_in_recovery()", as: Bool.self)
    }

    @Test func writesGoToTheWriterAndReadsToTheReader() async throws {
        guard let pair = try await ReplicaPair.get() else { return }
        for routing in [PGCluster.Routing.random, .roundRobin, .leastBusy] {
            let cluster = try PGCluster(writer: pair.primary.url(), readers: [pair.replica.url()], options: .init(routing: routing))
            await cluster.start()
            #expect(try await cluster.write { try await inRecovery($0) } == false)
            for _ in 0..<5 { #expect(try await cluster.read { try await inRecovery($0) } == true, "\(routing)") }
            await cluster.shutdown()
        }
    }

    @Test func anUnhealthyReaderIsSkippedAndTheWriterIsTheFallback() async throws {
        guard let pair = try await ReplicaPair.get() else { return }
        let dead = "postgres://tusk_trust@127.0.0.1:1/tusk?connect_timeout=1"
        let cluster = try PGCluster(writer: pair.primary.url(), readers: [dead, pair.replica.url()],
                                    options: .init(healthCheckInterval: .milliseconds(100)))
        await cluster.start()
        let states = await cluster.readerStates
        #expect(states[0].healthy == false)
        #expect(states[0].lastError != nil)
        #expect(states[1].healthy == true)
        for _ in 0..<6 { #expect(try await cluster.read { try await inRecovery($0) } == true) }
        // Backoff grows for the dead reader.
        try await Task.sleep(for: .milliseconds(700))
        #expect(await cluster.readerStates[0].consecutiveFailures >= 2)
        await cluster.shutdown()

        let onlyDead = try PGCluster(writer: pair.primary.url(), readers: [dead])
        await onlyDead.start()
        #expect(try await onlyDead.read { try await inRecovery($0) } == false) // the writer served
        await onlyDead.shutdown()

        let strict = try PGCluster(writer: pair.primary.url(), readers: [dead], options: .init(fallBackToWriter: false))
        await strict.start()
        await #expect(throws: PGError.self) { try await strict.read { try await inRecovery($0) } }
        await strict.shutdown()
    }

    @Test func readYourWrites() async throws {
        guard let pair = try await ReplicaPair.get() else { return }
        let cluster = try PGCluster(writer: pair.primary.url(), readers: [pair.replica.url()],
                                    options: .init(readYourWritesTimeout: .milliseconds(500)))
        await cluster.start()
        _ = try await cluster.write { c in try await c.execute("CREATE TABLE IF NOT EXISTS ryw(v int)") }
        let marker = Int32.random(in: 1...1_000_000)
        _ = try await cluster.write { c in try await c.execute("INSERT INTO ryw VALUES (\(marker))") }
        let token = try await cluster.writePosition()
        let seen = try await cluster.read(atLeast: token) { c in
            (try await c.queryOne("SELECT count(*)::int8 FROM ryw WHERE v = \(marker)", as: Int.self), try await inRecovery(c))
        }
        #expect(seen.0 == 1)

        // Replay paused: the reader cannot catch up, so the read falls back to the writer after the bound.
        _ = try await pair.replica.psql("select pg_wal_replay_pause()")
        let paused: Result<Void, any Error>
        do {
            let second = Int32.random(in: 1_000_001...2_000_000)
            _ = try await cluster.write { c in try await c.execute("INSERT INTO ryw VALUES (\(second))") }
            let token2 = try await cluster.writePosition()
            let start = ContinuousClock.now
            let fallback = try await cluster.read(atLeast: token2) { c in
                (try await c.queryOne("SELECT count(*)::int8 FROM ryw WHERE v = \(second)", as: Int.self), try await inRecovery(c))
            }
            #expect(fallback.0 == 1)
            #expect(fallback.1 == false, "read-your-writes read on a reader that had not replayed")
            #expect(ContinuousClock.now - start < .seconds(3))
            paused = .success(())
        } catch {
            paused = .failure(error)
        }
        _ = try await pair.replica.psql("select pg_wal_replay_resume()")
        await cluster.shutdown()
        try paused.get()
    }

    @Test func laggingReadersAreSkipped() async throws {
        guard let pair = try await ReplicaPair.get() else { return }
        let cluster = try PGCluster(writer: pair.primary.url(), readers: [pair.replica.url()],
                                    options: .init(healthCheckInterval: .milliseconds(100), maximumReplicationLag: .milliseconds(300)))
        await cluster.start()
        _ = try await pair.replica.psql("select pg_wal_replay_pause()")
        _ = try await cluster.write { c in try await c.execute("CREATE TABLE IF NOT EXISTS lag_t(v int)") }
        for i in 0..<5 {
            _ = try await cluster.write { c in try await c.execute("INSERT INTO lag_t VALUES (\(Int32(i)))") }
            try await Task.sleep(for: .milliseconds(200))
        }
        let lagging = await cluster.readerStates[0]
        let servedByWriter = try await cluster.read { try await inRecovery($0) } == false
        _ = try await pair.replica.psql("select pg_wal_replay_resume()")
        #expect(servedByWriter, "a lagging reader served a read")
        #expect(lagging.lag.map { $0 > .milliseconds(300) } == true, "lag \(String(describing: lagging.lag))")
        await cluster.shutdown()
    }

    @Test func discoverFindsThePrimaryInAMultiHostString() async throws {
        guard let pair = try await ReplicaPair.get() else { return }
        let cluster = try await PGCluster.discover(
            "host=127.0.0.1,127.0.0.1 port=\(pair.replica.port),\(pair.primary.port) user=tusk_trust dbname=tusk")
        #expect(cluster.readers.count == 1)
        await cluster.start()
        #expect(try await cluster.write { try await inRecovery($0) } == false)
        #expect(try await cluster.read { try await inRecovery($0) } == true)
        await cluster.shutdown()
    }
}
