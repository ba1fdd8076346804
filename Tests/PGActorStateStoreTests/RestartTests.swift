import Foundation
import PGActorStateStore
import PGClient
import PGStoreSupport
import PGTestSupport
import Synchronization
import Testing

extension ActorStateSuites {
/// A server of its own: the listener's backend is terminated, then the server restarted, while one writer saves at full speed and a subscriber follows: the
/// subscriber catches up after the restart and sees every committed sequence once, in order.
@Suite struct RestartTests {
    @Test func aServerRestartIsFollowedByCatchUp() async throws {
        let pg = try await TemporaryPostgres.start()
        var configuration = PGActorStateStore.Configuration(schemaName: "public", autoCreate: true)
        configuration.statementTimeout = .seconds(2)
        let writer = try PGActorStateStore(.url(pg.url()), configuration: configuration)
        try await writer.start()
        configuration.autoCreate = false
        let subscriber = try PGActorStateStore(.url(pg.url()), configuration: configuration)
        try await subscriber.start()
        let collector = Collector(try await subscriber.changes())
        let n = 5_000
        let failures = Mutex(0)
        let writes = Task {
            var i = 0
            while i < n {
                do {
                    try await writer.save(Counter(value: i), for: "w")
                    i += 1
                } catch {
                    // The server is restarting: retry (an ambiguous failure may have committed; the check
                    // below compares against the table's final sequence, not the loop's count).
                    failures.withLock { $0 += 1 }
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
        }
        #expect(await eventually(.seconds(30)) { collector.changes.count >= n / 3 })
        let admin = try await PGConnection.connect(try PGConnectionConfiguration(url: pg.url()))
        let terminated = try await admin.queryOne(
            "SELECT count(pg_terminate_backend(pid))::int8 FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query ILIKE '%LISTEN%actor_state_changes%'",
            as: Int64.self)
        await admin.close()
        #expect(await eventually(.seconds(30)) { collector.changes.count >= 2 * n / 3 })
        try await pg.restart()
        await writes.value
        let final = try await writer.sequenceNumber(for: "w")
        #expect(await eventually(.seconds(30)) { (collector.changes.last?.sequenceNumber ?? 0) >= final })
        try await Task.sleep(for: .milliseconds(200))
        let seqs = collector.changes.filter { $0.actorID == "w" }.map(\.sequenceNumber)
        #expect(seqs == Array(1...final), "\(seqs.count) delivered of \(final)")
        let interruptions = collector.events.withLock { $0.filter { if case .interrupted = $0 { true } else { false } }.count }
        print("actors: listener terminated (\(terminated)) and server restarted under a full-speed writer: \(seqs.count) of \(final) changes delivered in order, "
              + "\(failures.withLock { $0 }) failed writes retried, \(interruptions) interruption event(s)")
        collector.stop()
        await subscriber.shutdown()
        await writer.shutdown()
        await pg.stop()
    }
}
}
