import Foundation
import PGClient
import PGTestSupport
import Testing

/// A private primary with a streaming replica, shared by the replica tests of this run.
enum ReplicaPair {
    struct Pair: Sendable {
        let primary: TemporaryPostgres
        let replica: TemporaryPostgres
    }
    static let pair = Task<Pair?, any Error> {
        let shared = try await TemporaryPostgres.shared()
        if shared.isExternal { return nil }
        let primary = try await TemporaryPostgres.start(options: .init(settings: ["wal_level": "replica", "max_wal_senders": "5"]))
        let replica = try await primary.startReplica()
        return Pair(primary: primary, replica: replica)
    }

    static func get() async throws -> Pair? { try await pair.value }
}

@Suite(.serialized) struct ReplicaTests {
    @Test func replicaIsAHotStandbyThatReplays() async throws {
        guard let pair = try await ReplicaPair.get() else { return }
        #expect(try await pair.replica.psql("select pg_is_in_recovery()") == "t")
        _ = try await pair.primary.psql("create table if not exists replicated(v int); insert into replicated values (1)")
        let deadline = ContinuousClock.now + .seconds(10)
        var seen = ""
        while ContinuousClock.now < deadline {
            seen = (try? await pair.replica.psql("select count(*) from replicated")) ?? ""
            if seen != "" && seen != "0" { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(seen != "" && seen != "0")
    }

    @Test(arguments: [
        ("any", 0), ("read-write", 0), ("primary", 0), ("read-only", 1), ("standby", 1), ("prefer-standby", 1),
    ])
    func targetSessionAttributesPickTheRightServer(attrs: String, expectedIndex: Int) async throws {
        guard let pair = try await ReplicaPair.get() else { return }
        let ports = [pair.primary.port, pair.replica.port]
        let config = try PGConnectionConfiguration(
            keywordValue: "host=127.0.0.1,127.0.0.1 port=\(ports[0]),\(ports[1]) user=tusk_trust dbname=tusk target_session_attrs=\(attrs)")
        let c = try await PGConnection.connect(config)
        let port = try await c.queryOne("SELECT current_setting('port')::int4", as: Int.self)
        #expect(port == ports[expectedIndex], "\(attrs)")
        await c.close()
        // Reversed order: the attribute, not the order, decides (except for any).
        if attrs != "any" {
            let reversed = try PGConnectionConfiguration(
                keywordValue: "host=127.0.0.1,127.0.0.1 port=\(ports[1]),\(ports[0]) user=tusk_trust dbname=tusk target_session_attrs=\(attrs)")
            let r = try await PGConnection.connect(reversed)
            #expect(try await r.queryOne("SELECT current_setting('port')::int4", as: Int.self) == ports[expectedIndex], "\(attrs) reversed")
            await r.close()
        }
    }

    @Test func noServerWithTheAttributesIsATypedError() async throws {
        guard let pair = try await ReplicaPair.get() else { return }
        let config = try PGConnectionConfiguration(
            keywordValue: "host=127.0.0.1 port=\(pair.primary.port) user=tusk_trust dbname=tusk target_session_attrs=standby")
        do {
            _ = try await PGConnection.connect(config)
            Issue.record("connected to a primary as a standby")
        } catch let e as PGError {
            #expect(e.code == .connectionFailed)
            #expect(e.message.contains("not a standby"))
        }
    }
}
