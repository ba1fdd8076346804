import Foundation
import PGTestSupport
import Testing

/// Smoke tests of the test server itself (psql only; no driver involved).
@Suite("TemporaryPostgres")
struct TemporaryPostgresTests {

    @Test func sharedServerAnswers() async throws {
        let pg = try await TemporaryPostgres.shared()
        #expect(try await pg.psql("select 1") == "1")
        #expect(pg.serverVersionNumber >= 130000 || pg.isExternal)
        if !pg.isExternal {
            #expect(pg.host == "127.0.0.1")
            #expect(pg.port > 0)
            #expect(pg.postmasterPID != nil)
            #expect(pg.socketDirectory != nil)
            #expect(try await pg.psql("show fsync") == "off")
            #expect(try await pg.psql("show max_connections") == "200")
            #expect(try await pg.psql("show wal_level") == "replica")
        }
    }

    @Test func sharedIsShared() async throws {
        async let a = TemporaryPostgres.shared()
        async let b = TemporaryPostgres.shared()
        let (x, y) = try await (a, b)
        #expect(x === y)
    }

    @Test(arguments: TemporaryPostgres.roles)
    func roleAuthenticatesWithItsMethod(role: TemporaryPostgres.Role) async throws {
        let pg = try await TemporaryPostgres.shared()
        try #require(pg.hasAuthRoles, "server has no Tusk auth roles (external server without Fixtures/setup.sql)")

        for useSocket in pg.socketDirectory == nil ? [false] : [false, true] {
            let ok = try await pg.runPsql(
                "select current_user", user: role.name, password: role.password, useSocket: useSocket)
            #expect(ok.succeeded, "\(role) socket=\(useSocket): \(ok.errorOutput)")
            #expect(ok.output == role.name)

            if role.password != nil {
                let bad = try await pg.runPsql(
                    "select 1", user: role.name, password: "wrong-password", useSocket: useSocket)
                #expect(!bad.succeeded, "\(role) accepted a wrong password")
                #expect(bad.errorOutput.contains("password authentication failed"), "\(bad.errorOutput)")
                if role.name != pg.defaultUser {  // nil would mean "the default user's password"
                    let none = try await pg.runPsql("select 1", user: role.name, password: nil, useSocket: useSocket)
                    #expect(!none.succeeded, "\(role) accepted no password")
                }
            }
        }

        // The pg_hba.conf rule that applies over TCP is the expected method (superuser only).
        guard try await isSuperuser(pg) else { return }
        let method = try await pg.psql(
            """
            select auth_method from pg_hba_file_rules
            where type = 'host' and '\(role.name)' = any(user_name) order by line_number limit 1
            """)
        #expect(method == role.method)
    }

    @Test func storedVerifiersMatchTheMethods() async throws {
        let pg = try await TemporaryPostgres.shared()
        try #require(pg.hasAuthRoles)
        guard try await isSuperuser(pg) else { return }
        let rows = try await pg.psql(
            """
            select rolname, coalesce(left(rolpassword, 13), '-') from pg_authid
            where rolname like 'tusk\\_%' order by rolname
            """)
        let verifiers = Dictionary(uniqueKeysWithValues: rows.split(separator: "\n").map {
            let f = $0.split(separator: "|", maxSplits: 1).map(String.init)
            return (f[0], f.count > 1 ? f[1] : "")
        })
        #expect(verifiers["tusk_md5"]?.hasPrefix("md5") == true)
        #expect(verifiers["tusk_scram"]?.hasPrefix("SCRAM-SHA-256") == true)
        #expect(verifiers["tusk_scram_utf8"]?.hasPrefix("SCRAM-SHA-256") == true)
        #expect(verifiers["tusk_trust"] == "-")
        // tusk_trust can terminate other sessions.
        #expect(try await pg.psql("select pg_has_role('tusk_trust', 'pg_signal_backend', 'member')") == "t")
        #expect(try await pg.psql("select pg_get_userbyid(datdba) from pg_database where datname = 'tusk'") == "tusk_trust")
    }

    @Test func connectionStrings() async throws {
        let pg = try await TemporaryPostgres.shared()
        guard !pg.isExternal else { return }
        #expect(pg.url() == "postgres://tusk_trust@127.0.0.1:\(pg.port)/tusk")
        #expect(pg.url(user: "tusk_scram_utf8", password: "pässwörd ✓")
            == "postgres://tusk_scram_utf8:p%C3%A4ssw%C3%B6rd%20%E2%9C%93@127.0.0.1:\(pg.port)/tusk")
        #expect(pg.socketURL() == "postgres://tusk_trust@/tusk?host=\(pg.socketDirectory!)&port=\(pg.port)")
        #expect(pg.keywordValue(user: "tusk_md5", password: "it's") == "host=127.0.0.1 port=\(pg.port) user=tusk_md5 password='it\\'s' dbname=tusk")

        // The strings work with psql (libpq).
        for conninfo in [pg.url(), pg.socketURL(), pg.url(user: "tusk_scram_utf8", password: "pässwörd ✓"),
                         pg.keywordValue(user: "tusk_scram", password: "tusk_scram_pw", useSocket: true)] {
            let out = try await runPsqlDirectly(pg: pg, conninfo: conninfo)
            #expect(out.hasPrefix("tusk_"), "\(conninfo): \(out)")
        }
    }

    @Test func privateClusterStopsAndRestarts() async throws {
        let shared = try await TemporaryPostgres.shared()
        guard !shared.isExternal else { return }
        let pg = try await TemporaryPostgres.start(options: .init(settings: ["max_connections": "20"]))
        #expect(pg.port != shared.port)
        #expect(try await pg.psql("show max_connections") == "20")
        let before = try #require(pg.postmasterPID)
        try await pg.restart()
        let after = try #require(pg.postmasterPID)
        #expect(before != after)
        #expect(try await pg.psql("select count(*) from pg_roles where rolname like 'tusk%' and rolcanlogin") == "\(TemporaryPostgres.roles.count + TemporaryPostgres.tlsRoles.count)")
        let dir = try #require(pg.temporaryDirectory)
        await pg.stop()
        await pg.stop()
        #expect(!pg.isRunning)
        #expect(!FileManager.default.fileExists(atPath: dir))
        #expect(kill(pid_t(after), 0) != 0 || isZombie(after))
        await #expect(throws: (any Error).self) { try await pg.restart() }
    }

    @Test func startFailureReportsTheServerLog() async throws {
        let shared = try await TemporaryPostgres.shared()
        guard !shared.isExternal else { return }
        // The shared cluster holds this port: the private one cannot bind it.
        do {
            let pg = try await TemporaryPostgres.start(options: .init(applyFixtures: false, port: shared.port))
            await pg.stop()
            Issue.record("start on a taken port succeeded")
        } catch let error as TemporaryPostgresError {
            #expect(error.description.contains("could not") || error.description.contains("in use"), "\(error)")
            #expect(error.description.contains("postgres.log (tail)"), "\(error)")
        }
        #expect(try await shared.psql("select 1") == "1")
    }

    /// False for an external server reached as an ordinary user (pg_authid and
    /// pg_hba_file_rules are then off limits).
    private func isSuperuser(_ pg: TemporaryPostgres) async throws -> Bool {
        try await pg.psql("select rolsuper from pg_roles where rolname = current_user") == "t"
    }

    private func isZombie(_ pid: Int) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        return stat.contains(") Z")
    }

    private func runPsqlDirectly(pg: TemporaryPostgres, conninfo: String) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(pg.binDirectory) + "/psql")
        process.arguments = ["-X", "-A", "-t", "-w", "-d", conninfo, "-c", "select current_user"]
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PG") }
        env["PGPASSFILE"] = "/nonexistent"
        process.environment = env
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
