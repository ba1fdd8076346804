import Foundation
import PGClient
import PGStoreSupport
import PGTestSupport
import Testing

/// Runs the built `tusk` executable as an OS process.
@Suite struct CommandLineTests {
    func log(_ name: String, _ r: TuskBinary.Result) {
        print("[tusk \(name)] exit \(r.status)\n  stdout: \(r.stdout.debugDescription)\n  stderr: \(r.stderr.debugDescription)")
    }

    func oneLine(_ r: TuskBinary.Result) -> String? {
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == 2, lines[1].isEmpty, lines[0].hasPrefix("tusk: ") else { return nil }
        return String(lines[0])
    }

    @Test func twoProcessesMigratingAtOnce() async throws {
        let schema = StoreTestServer.uniqueSchema("two")
        let url = try await StoreTestServer.ownerURL()
        let args = ["migrate", "apply", PGStoreDefinition.selfTest.name, "--test-store", "--schema", schema]
        async let a = TuskBinary.run(args, environment: ["DATABASE_URL": url])
        async let b = TuskBinary.run(args, environment: ["DATABASE_URL": url])
        let (ra, rb) = try await (a, b)
        log("migrate apply #1", ra)
        log("migrate apply #2", rb)
        #expect(ra.status == 0)
        #expect(rb.status == 0)
        let outputs = [ra.stdout, rb.stdout]
        #expect(outputs.filter { $0.hasPrefix("applied 3 migration(s)") }.count == 1)
        #expect(outputs.filter { $0.hasPrefix("nothing to do") }.count == 1)
        try await StoreTestServer.withConnection { c in
            let table = try PGQualifiedName(schema: PGStoreIdentifier(schema), name: PGStoreIdentifier("tusk_schema_migrations"))
            var counts: [String: Int64] = [:]
            for try await row in try await c.query(PGQuery(unsafeSQL: "SELECT store || ' ' || version, count(*) FROM \(table.quoted) GROUP BY 1")) {
                let (key, n) = try row.decode((String, Int64).self)
                counts[key] = n
            }
            #expect(counts == ["tusk 1": 1, "tusk_selftest 1": 1, "tusk_selftest 2": 1])
        }
    }

    @Test func wrongPasswordIsOneLine() async throws {
        let runtime = try await StoreTestServer.createRuntimeRole()
        let pg = try await StoreTestServer.server()
        let url = pg.url(user: runtime.name, password: "wrong-password") + "?sslmode=disable"
        let r = try await TuskBinary.run(["setup", "all", "--yes", "--url", url])
        log("wrong password", r)
        #expect(r.status == 1)
        let line = try #require(oneLine(r))
        #expect(line.contains("password authentication failed for user \"\(runtime.name)\""))
        #expect(line.contains("check the user and password"))
        #expect(!r.stderr.contains("wrong-password"))
    }

    @Test func unreachableServerIsOneLine() async throws {
        // A port nothing listens on: bind one, note it, close it.
        let port = try closedPort()
        let r = try await TuskBinary.run(["setup", "all", "--yes", "--url", "postgres://app:s3cret@127.0.0.1:\(port)/app"])
        log("unreachable", r)
        #expect(r.status == 1)
        let line = try #require(oneLine(r))
        #expect(line.hasPrefix("tusk: cannot reach the database: "))
        #expect(line.contains("127.0.0.1:\(port)"))
        #expect(line.contains("Connection refused"))
        #expect(!r.stderr.contains("s3cret"))
    }

    @Test func roleWithoutCreateIsOneLineNamingTheGrant() async throws {
        let runtime = try await StoreTestServer.createRuntimeRole()
        let schema = StoreTestServer.uniqueSchema()
        let r = try await TuskBinary.run(["setup", "all", "--yes", "--schema", schema], environment: ["DATABASE_URL": runtime.url])
        log("role without CREATE", r)
        #expect(r.status == 1)
        let line = try #require(oneLine(r))
        #expect(line == "tusk: role \"\(runtime.name)\" may not create schema \"\(schema)\": it lacks CREATE on database \"tusk\"; "
                + "as the database owner run `GRANT CREATE ON DATABASE \"tusk\" TO \"\(runtime.name)\";` or run setup as a role that has it")
        #expect(!r.stderr.contains(runtime.password))
        #expect(r.stdout.isEmpty, "refused before asking or listing anything")
    }

    @Test func invalidSchemaNamesAreOneLine() async throws {
        let long = try await TuskBinary.run(["setup", "all", "--dry-run", "--schema", String(repeating: "s", count: 70)])
        log("schema too long", long)
        #expect(long.status == 1)
        #expect(oneLine(long) == "tusk: the schema name \"ssssssssssssssssssss…\" is 70 bytes long; PostgreSQL names hold at most 63 bytes")
        let empty = try await TuskBinary.run(["setup", "all", "--dry-run", "--schema", ""])
        log("schema empty", empty)
        #expect(empty.status == 1)
        #expect(oneLine(empty) == "tusk: the schema name is empty; give a name of 1 to 63 bytes")
        let store = try await TuskBinary.run(["setup", "nope", "--dry-run"])
        log("unknown store", store)
        #expect(store.status == 1)
        #expect(oneLine(store) == "tusk: unknown store \"nope\"; choose one of ratelimit, breaker, queue, actors, all")
    }

    @Test func dryRunPrintsSectionsAndChangesNothing() async throws {
        let schema = StoreTestServer.uniqueSchema()
        let url = try await StoreTestServer.ownerURL()
        let r = try await TuskBinary.run(["setup", "all", "--dry-run", "--schema", schema], environment: ["DATABASE_URL": url])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("-- schema \"\(schema)\"\nBEGIN;\nSELECT pg_advisory_xact_lock("))
        for store in ["ratelimit", "breaker", "queue", "actors"] {
            #expect(r.stdout.contains("\n-- \(store) ("), "\(store)")
        }
        // Every store is built now: each section has its first migration.
        for store in ["ratelimit", "breaker", "queue", "actors"] { #expect(r.stdout.contains("\n-- \(store) 1: "), "\(store)") }
        #expect(r.stdout.hasSuffix("COMMIT;\n"))
        try await StoreTestServer.withConnection { c in
            let n = try await c.queryOne("SELECT count(*) FROM pg_namespace WHERE nspname = \(schema)", as: Int64.self)
            #expect(n == 0)
        }
    }

    @Test func setupAsksUnlessYes() async throws {
        let schema = StoreTestServer.uniqueSchema()
        let url = try await StoreTestServer.ownerURL()
        let no = try await TuskBinary.run(["setup", "all", "--schema", schema], environment: ["DATABASE_URL": url], input: "n\n")
        log("setup answered n", no)
        #expect(no.status == 1)
        #expect(no.stdout.contains("Proceed? [y/N]"))
        #expect(oneLine(no) == "tusk: aborted; nothing was changed (pass --yes to skip this question)")
        let yes = try await TuskBinary.run(["setup", "all", "--schema", schema], environment: ["DATABASE_URL": url], input: "y\n")
        log("setup answered y", yes)
        #expect(yes.status == 0)
        // The support objects first, then every store built so far (the rate limiter and the breaker).
        #expect(yes.stdout.contains("migration(s) to schema \"\(schema)\":\n  tusk 1: clock and fencing sequence\n"))
        #expect(yes.stdout.contains("  ratelimit 1: limiter state and concurrency slots\n"))
        #expect(yes.stdout.contains("  queue 1: "))
        #expect(yes.stdout.contains("  actors 1: "))
        let again = try await TuskBinary.run(["setup", "all", "--yes", "--schema", schema], environment: ["DATABASE_URL": url])
        #expect(again.status == 0)
        #expect(again.stdout.contains("is up to date; nothing to apply"))
        let status = try await TuskBinary.run(["migrate", "status", "--schema", schema], environment: ["DATABASE_URL": url])
        log("migrate status", status)
        #expect(status.status == 0)
        #expect(status.stdout.contains("  tusk          1 applied, 0 pending\n"))
        #expect(status.stdout.contains("  ratelimit     1 applied, 0 pending\n"))
        let grants = try await TuskBinary.run(["grants", "queue", "--role", "app", "--schema", schema])
        #expect(grants.status == 0)
        #expect(grants.stdout.contains("GRANT USAGE ON SCHEMA \"\(schema)\" TO \"app\";"))
        #expect(grants.stdout.contains("-- queue"))
        #expect(grants.stdout.contains("tusk_queues"))
        let testGrants = try await TuskBinary.run(["grants", "tusk_selftest", "--test-store", "--role", "app", "--schema", schema])
        #expect(testGrants.stdout.hasSuffix("\n-- tusk_selftest\nGRANT SELECT, INSERT, UPDATE ON TABLE \"\(schema)\".\"selftest_items\" TO \"app\";\n"))
        #expect(testGrants.stdout.components(separatedBy: "GRANT USAGE ON SCHEMA").count == 2, "schema USAGE printed once")
    }

    @Test func helpReadsLikeAManPage() async throws {
        let r = try await TuskBinary.run(["setup", "--help"])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("OVERVIEW: Create or upgrade a store's tables in a schema."))
        #expect(r.stdout.contains("advisory lock"))
        #expect(r.stdout.contains("--dry-run"))
        #expect(!r.stdout.contains("--test-store"))
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago (bound, then closed).
    func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PGStoreError(code: .unavailable, message: "socket failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        guard bound == 0 else { throw PGStoreError(code: .unavailable, message: "bind failed") }
        let got = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        guard got == 0 else { throw PGStoreError(code: .unavailable, message: "getsockname failed") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
