import Foundation
import Logging
import PGClient
import PGTestSupport
import PGWire
import Testing

/// TLS helpers: the shared (ssl on) server, private servers with ssl off or another certificate, fixture paths.
enum TLSTestDB {
    static func tls(_ name: String) throws -> String { try TemporaryPostgres.tlsFixturesDirectory() + "/" + name }

    /// The shared server, which must have TLS on and the TLS roles (skipped for external servers without them).
    static func server() async throws -> TemporaryPostgres {
        let pg = try await TemporaryPostgres.shared()
        try #require(pg.isTLSEnabled, "the test server does not have ssl on")
        try #require(pg.hasAuthRoles, "the test server has no auth-method roles")
        return pg
    }

    private static let plainTask = Mutex<Task<TemporaryPostgres, any Error>?>(nil)
    private static let wrongHostTask = Mutex<Task<TemporaryPostgres, any Error>?>(nil)
    private static let cnOnlyTask = Mutex<Task<TemporaryPostgres, any Error>?>(nil)

    /// A private server whose certificate has CN = localhost and no subjectAltName.
    static func cnOnlyServer() async throws -> TemporaryPostgres {
        try await once(cnOnlyTask) { try await TemporaryPostgres.start(options: .init(tlsCertificate: "cn-only")) }
    }

    /// A private server with ssl off (same roles), started once per test run.
    static func plainServer() async throws -> TemporaryPostgres {
        try await once(plainTask) { try await TemporaryPostgres.start(options: .init(tlsCertificate: nil)) }
    }

    /// A private server whose certificate is for wrong.example.com (signed by the trusted test CA).
    static func wrongHostServer() async throws -> TemporaryPostgres {
        try await once(wrongHostTask) { try await TemporaryPostgres.start(options: .init(tlsCertificate: "wrong-host")) }
    }

    private static func once(
        _ slot: borrowing Mutex<Task<TemporaryPostgres, any Error>?>, _ make: @escaping @Sendable () async throws -> TemporaryPostgres
    ) async throws -> TemporaryPostgres {
        let task = slot.withLock { t in
            if let t { return t }
            let made = Task { try await make() }
            t = made
            return made
        }
        return try await task.value
    }

    static func config(
        _ pg: TemporaryPostgres, role: TemporaryPostgres.Role = .scram, host: String? = nil,
        _ query: String = ""
    ) throws -> PGConnectionConfiguration {
        var url = pg.url(user: role.name, password: role.password)
        if let host { url = url.replacingOccurrences(of: "@127.0.0.1:", with: "@\(host):") }
        var config = try PGConnectionConfiguration(url: url + (query.isEmpty ? "" : "?" + query))
        config.connectTimeout = .seconds(10)
        return config
    }

    /// True when the server sees this session as encrypted (pg_stat_ssl).
    static func serverSeesTLS(_ c: PGConnection) async throws -> Bool {
        let rows = try await c.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").collect()
        return try rows[0].decode(Bool.self, column: 0)
    }

    static func expectTLSError(
        _ config: PGConnectionConfiguration, _ failure: PGError.TLSFailure, _ contains: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        do {
            let c = try await PGConnection.connect(config)
            await c.close()
            Issue.record("connected, expected \(failure)", sourceLocation: sourceLocation)
        } catch let error as PGError {
            #expect(error.code == .tls, "\(error)", sourceLocation: sourceLocation)
            #expect(error.tlsFailure == failure, "\(error)", sourceLocation: sourceLocation)
            if let contains { #expect(error.message.contains(contains), "\(error)", sourceLocation: sourceLocation) }
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    /// A copy of a key file with mode 0600 (git checks files out 0644, which libpq rules refuse).
    static func privateCopy(of name: String, mode: mode_t = 0o600) throws -> String {
        let path = NSTemporaryDirectory() + "tusk-\(UUID().uuidString)-\(name)"
        try FileManager.default.copyItem(atPath: try tls(name), toPath: path)
        chmod(path, mode)
        return path
    }
}

import Synchronization

@Suite(.serialized) struct TLSTests {
    @Test(arguments: PGConnectionConfiguration.SSLMode.allCases)
    func everySSLModeAgainstATLSServer(mode: PGConnectionConfiguration.SSLMode) async throws {
        let pg = try await TLSTestDB.server()
        var config = try TLSTestDB.config(pg)
        config.sslMode = mode
        config.sslRootCert = try TLSTestDB.tls("ca.crt")
        let c = try await PGConnection.connect(config)
        let encrypted = mode != .disable && mode != .allow
        #expect(c.isEncrypted == encrypted)
        #expect(try await TLSTestDB.serverSeesTLS(c) == encrypted)
        if encrypted {
            #expect(await c.tlsParameters?.version.hasPrefix("TLS") == true)
        }
        await c.close()
    }

    @Test(arguments: PGConnectionConfiguration.SSLMode.allCases)
    func everySSLModeAgainstAServerWithoutTLS(mode: PGConnectionConfiguration.SSLMode) async throws {
        let pg = try await TLSTestDB.plainServer()
        var config = try TLSTestDB.config(pg)
        config.sslMode = mode
        config.sslRootCert = try TLSTestDB.tls("ca.crt")
        switch mode {
        case .disable, .allow, .prefer:
            let c = try await PGConnection.connect(config)
            #expect(!c.isEncrypted)
            #expect(try await TLSTestDB.serverSeesTLS(c) == false)
            await c.close()
        case .require, .verifyCA, .verifyFull:
            await TLSTestDB.expectTLSError(config, .serverDoesNotSupportTLS, "does not support SSL")
        }
    }

    @Test func preferRetriesWithoutTLSWhenTheServerRejectsTheTLSSession() async throws {
        let pg = try await TLSTestDB.server()
        var config = try TLSTestDB.config(pg, role: .noSSL)
        config.sslMode = .prefer
        let c = try await PGConnection.connect(config)
        #expect(!c.isEncrypted)
        #expect(try await c.query("SELECT current_user").collect()[0].decode(String.self, column: 0) == "tusk_nossl")
        await c.close()
        // A failed authentication is final: the password is not offered again without TLS.
        let store = CapturingLogHandler.Store()
        var logger = Logger(label: "tusk.test.prefer") { _ in CapturingLogHandler(store: store) }
        logger.logLevel = .trace
        var wrong = try TLSTestDB.config(pg, role: .scram)
        wrong.sslMode = .prefer
        wrong.password = "wrong-password"
        do {
            _ = try await PGConnection.connect(wrong, logger: logger)
            Issue.record("connected with a wrong password")
        } catch let error as PGError {
            #expect(error.code == .authenticationFailed, "\(error)")
            #expect(error.sqlState == .invalidPassword, "\(error)")
        }
        #expect(!store.all.contains { $0.contains("retrying") }, "\(store.all)")
        // The retry itself is logged (without secrets).
        await (try await PGConnection.connect(config, logger: logger)).close()
        #expect(store.all.contains { $0.contains("retrying without TLS") }, "\(store.all)")
        // require does not retry: the server's rejection is the answer.
        config.sslMode = .require
        do {
            _ = try await PGConnection.connect(config)
            Issue.record("sslmode=require connected to a hostnossl-only role")
        } catch let error as PGError {
            #expect(error.code == .authenticationFailed || error.code == .server, "\(error)")
            #expect(error.serverInfo?.message.contains("SSL encryption") == true, "\(error)")
        }
    }

    @Test func allowRetriesWithTLSWhenTheServerRejectsThePlainSession() async throws {
        let pg = try await TLSTestDB.server()
        var config = try TLSTestDB.config(pg, role: .tls)
        config.sslMode = .allow
        let c = try await PGConnection.connect(config)
        #expect(c.isEncrypted)
        await c.close()
        config.sslMode = .disable
        await #expect(throws: PGError.self) { _ = try await PGConnection.connect(config) }
    }

    @Test func requireWithARootCertificateVerifiesTheChain() async throws {
        let pg = try await TLSTestDB.server()
        var config = try TLSTestDB.config(pg)
        config.sslMode = .require
        let unverified = try await PGConnection.connect(config)  // no root certificate: no verification
        #expect(unverified.isEncrypted)
        await unverified.close()
        config.sslRootCert = try TLSTestDB.tls("untrusted-ca.crt")
        await TLSTestDB.expectTLSError(config, .untrustedCertificate, "trusted certificate authority")
        config.sslRootCert = try TLSTestDB.tls("ca.crt")
        let verified = try await PGConnection.connect(config)
        #expect(verified.isEncrypted)
        await verified.close()
    }

    @Test func verifyFullChecksTheHostNameAndIPAddress() async throws {
        let pg = try await TLSTestDB.server()
        for host in ["localhost", "127.0.0.1"] {
            var config = try TLSTestDB.config(pg, host: host)
            config.sslMode = .verifyFull
            config.sslRootCert = try TLSTestDB.tls("ca.crt")
            let c = try await PGConnection.connect(config)
            #expect(c.isEncrypted, "\(host)")
            await c.close()
        }
    }

    @Test func verifyFullRejectsAnUntrustedCA() async throws {
        let pg = try await TLSTestDB.server()
        var config = try TLSTestDB.config(pg)
        config.sslMode = .verifyFull
        config.sslRootCert = try TLSTestDB.tls("untrusted-ca.crt")
        await TLSTestDB.expectTLSError(config, .untrustedCertificate, "not signed by a trusted certificate authority")
        config.sslMode = .verifyCA
        await TLSTestDB.expectTLSError(config, .untrustedCertificate)
    }

    @Test func verifyFullRejectsACertificateForAnotherHost() async throws {
        let pg = try await TLSTestDB.wrongHostServer()
        for host in ["127.0.0.1", "localhost"] {
            var config = try TLSTestDB.config(pg, host: host)
            config.sslMode = .verifyFull
            config.sslRootCert = try TLSTestDB.tls("ca.crt")
            await TLSTestDB.expectTLSError(config, .hostNameMismatch, "does not match the host name")
            // verify-ca checks the chain only: the same certificate is fine.
            config.sslMode = .verifyCA
            let c = try await PGConnection.connect(config)
            #expect(c.isEncrypted)
            await c.close()
        }
    }

    @Test func verifyFullFallsBackToTheCommonNameWithoutSubjectAltName() async throws {
        let pg = try await TLSTestDB.cnOnlyServer()
        var config = try TLSTestDB.config(pg, host: "localhost")
        config.sslMode = .verifyFull
        config.sslRootCert = try TLSTestDB.tls("ca.crt")
        let c = try await PGConnection.connect(config)
        #expect(c.isEncrypted)
        await c.close()
        // An IP address is never matched against the CN.
        config = try TLSTestDB.config(pg, host: "127.0.0.1")
        config.sslMode = .verifyFull
        config.sslRootCert = try TLSTestDB.tls("ca.crt")
        await TLSTestDB.expectTLSError(config, .hostNameMismatch)
    }

    @Test func verifyModesNeedARootCertificate() async throws {
        let pg = try await TLSTestDB.server()
        var config = try TLSTestDB.config(pg)
        config.sslMode = .verifyCA
        config.sslRootCert = "/nonexistent/root.crt"
        await TLSTestDB.expectTLSError(config, .certificateFile, "does not exist")
    }

    @Test func clientCertificateAuthentication() async throws {
        let pg = try await TLSTestDB.server()
        let key = try TLSTestDB.privateCopy(of: "client.key")
        defer { try? FileManager.default.removeItem(atPath: key) }
        var config = try TLSTestDB.config(pg, role: .cert)
        config.sslMode = .verifyFull
        config.sslRootCert = try TLSTestDB.tls("ca.crt")
        config.sslCert = try TLSTestDB.tls("client.crt")
        config.sslKey = key
        let c = try await PGConnection.connect(config)
        #expect(try await c.query("SELECT current_user").collect()[0].decode(String.self, column: 0) == "tusk_cert")
        let rows = try await c.query("SELECT client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()").collect()
        #expect(try rows[0].decode(String.self, column: 0).contains("CN=tusk_cert"))
        await c.close()

        // Without the certificate the server refuses.
        config.sslCert = "/nonexistent/client.crt"
        config.sslKey = nil
        do {
            _ = try await PGConnection.connect(config)
            Issue.record("cert authentication without a certificate succeeded")
        } catch let error as PGError {
            #expect(error.serverInfo != nil, "\(error)")
            #expect(error.description.contains("certificate"), "\(error)")
        }

        // A key others can read is refused before connecting, as libpq does.
        let open = try TLSTestDB.privateCopy(of: "client.key", mode: 0o644)
        defer { try? FileManager.default.removeItem(atPath: open) }
        config.sslCert = try TLSTestDB.tls("client.crt")
        config.sslKey = open
        await TLSTestDB.expectTLSError(config, .certificateFile, "group or world access")
    }

    @Test func scramUsesChannelBindingOverTLS() async throws {
        let pg = try await TLSTestDB.server()
        for role in [TemporaryPostgres.Role.scram, .tls] {
            var config = try TLSTestDB.config(pg, role: role)
            config.sslMode = .require
            let c = try await PGConnection.connect(config)
            #expect(await c.authenticationMethod == "SCRAM-SHA-256-PLUS", "\(role)")
            await c.close()

            config.channelBinding = .require
            let bound = try await PGConnection.connect(config)
            #expect(await bound.authenticationMethod == "SCRAM-SHA-256-PLUS", "\(role)")
            await bound.close()

            config.channelBinding = .disable
            let unbound = try await PGConnection.connect(config)
            #expect(await unbound.authenticationMethod == "SCRAM-SHA-256", "\(role)")
            await unbound.close()
        }
        // Plain TCP: plain SCRAM.
        var plain = try TLSTestDB.config(pg)
        plain.sslMode = .disable
        let c = try await PGConnection.connect(plain)
        #expect(await c.authenticationMethod == "SCRAM-SHA-256")
        await c.close()
    }

    @Test func channelBindingRequireRefusesPathsThatDoNotBind() async throws {
        let pg = try await TLSTestDB.server()
        // sslmode=disable: refused before connecting.
        var config = try TLSTestDB.config(pg)
        config.sslMode = .disable
        config.channelBinding = .require
        await TLSTestDB.expectTLSError(config, .channelBindingUnavailable)
        // Plain TCP after prefer's fallback (a server without TLS).
        let plainServer = try await TLSTestDB.plainServer()
        config = try TLSTestDB.config(plainServer)
        config.sslMode = .prefer
        config.channelBinding = .require
        await TLSTestDB.expectTLSError(config, .channelBindingUnavailable, "not encrypted")
        // TLS, but the server does not use SCRAM (trust, md5, password).
        for role in [TemporaryPostgres.Role.trust, .md5, .password] {
            config = try TLSTestDB.config(pg, role: role)
            config.sslMode = .require
            config.channelBinding = .require
            await TLSTestDB.expectTLSError(config, .channelBindingUnavailable)
        }
        // A Unix socket never uses TLS.
        if let dir = pg.socketDirectory {
            config = try PGConnectionConfiguration(
                keywordValue: "host=\(dir) port=\(pg.port) user=tusk_scram password=tusk_scram_pw dbname=tusk channel_binding=require")
            await TLSTestDB.expectTLSError(config, .channelBindingUnavailable)
        }
    }

    @Test func directNegotiationFailsClearlyAgainstAnOlderServer() async throws {
        let pg = try await TLSTestDB.server()
        try #require(pg.serverVersionNumber < 170000, "the server supports direct TLS")
        var config = try TLSTestDB.config(pg)
        config.sslMode = .require
        config.sslNegotiation = .direct
        await TLSTestDB.expectTLSError(config, .handshakeFailed, "PostgreSQL 17")
        config.sslMode = .prefer
        await #expect(throws: PGError.self) { _ = try await PGConnection.connect(config) }
    }

    @Test func largeResultsAndParametersOverTLS() async throws {
        let pg = try await TLSTestDB.server()
        var config = try TLSTestDB.config(pg)
        config.sslMode = .require
        let c = try await PGConnection.connect(config)
        let big = String(repeating: "abcdefghij", count: 200_000)  // 2 MB: many TLS records each way
        let echoed = try await c.query("SELECT $1::text", [big]).collect()[0].decode(String.self, column: 0)
        #expect(echoed == big)
        var count = 0
        var sum = 0
        for try await row in try await c.query("SELECT g, repeat('x', 100) FROM generate_series(1, 50000) g") {
            sum += try row.decode(Int.self, column: 0)
            count += 1
        }
        #expect(count == 50_000)
        #expect(sum == 50_000 * 50_001 / 2)
        // Pipelined queries over one TLS session.
        try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<200 {
                group.addTask { try await c.query("SELECT $1::int4 + 1", [i]).collect()[0].decode(Int.self, column: 0) - 1 - i }
            }
            for try await diff in group { #expect(diff == 0) }
        }
        await c.close()
    }

    @Test func unixSocketsNeverUseTLS() async throws {
        let pg = try await TLSTestDB.server()
        let dir = try #require(pg.socketDirectory, "no socket directory (external server)")
        // As libpq: sslmode does not apply to Unix-domain sockets.
        let config = try PGConnectionConfiguration(
            keywordValue: "host=\(dir) port=\(pg.port) user=tusk_scram password=tusk_scram_pw dbname=tusk sslmode=verify-full")
        let c = try await PGConnection.connect(config)
        #expect(!c.isEncrypted)
        #expect(await c.authenticationMethod == "SCRAM-SHA-256")
        await c.close()
    }

    @Test func bytesInjectedAfterTheSSLResponseAreNeverTrusted() async throws {
        // A man in the middle answers "S" followed by a plaintext AuthenticationOk + ReadyForQuery (CVE-2021-23222):
        // the client reads only the "S" and hands the rest to the TLS handshake, which rejects it.
        let server = try OneShotServer { fd in
            var request = [UInt8](repeating: 0, count: 8)
            _ = recv(fd, &request, 8, Int32(MSG_WAITALL))
            let injected: [UInt8] = [UInt8(ascii: "S")] + [UInt8(ascii: "R"), 0, 0, 0, 8, 0, 0, 0, 0]
                + [UInt8(ascii: "Z"), 0, 0, 0, 5, UInt8(ascii: "I")]
            _ = send(fd, injected, injected.count, Int32(MSG_NOSIGNAL))
            usleep(500_000)
        }
        defer { server.stop() }
        let config = try PGConnectionConfiguration(url: "postgres://u@127.0.0.1:\(server.port)/db?sslmode=require&connect_timeout=5")
        do {
            let c = try await PGConnection.connect(config)
            await c.close()
            Issue.record("connected on injected plaintext")
        } catch let error as PGError {
            #expect(error.code == .tls, "\(error)")
            #expect(error.tlsFailure == .handshakeFailed, "\(error)")
        }
    }

    @Test func manyTLSConnectionsInARow() async throws {
        let pg = try await TLSTestDB.server()
        var config = try TLSTestDB.config(pg, role: .scram)
        config.sslMode = .require
        let cfg = config
        for i in 0..<40 {
            _ = try await within(.seconds(10), "connection \(i)") {
                let c = try await PGConnection.connect(cfg)
                _ = try await c.simpleQuery("SELECT 1")
                await c.close()
                return 0
            }
        }
    }

    @Test func passwordsNeverAppearInLogsOrErrors() async throws {
        let pg = try await TLSTestDB.server()
        let store = CapturingLogHandler.Store()
        var logger = Logger(label: "tusk.test.tls") { _ in CapturingLogHandler(store: store) }
        logger.logLevel = .trace
        let secrets = ["tusk_scram_pw", "tusk_nossl_pw", "wrong-secret-1", "tusk_tls_pw"]
        var errors: [PGError] = []
        // Successful TLS + SCRAM-PLUS, prefer's retry, wrong passwords over TLS and plain, a TLS failure.
        for (role, password, query) in [
            (TemporaryPostgres.Role.scram, "tusk_scram_pw", "sslmode=require"),
            (.noSSL, "tusk_nossl_pw", "sslmode=prefer"),
            (.scram, "wrong-secret-1", "sslmode=require"),
            (.tls, "wrong-secret-1", "sslmode=allow"),
            (.tls, "tusk_tls_pw", "sslmode=verify-full&sslrootcert=/nonexistent"),
        ] {
            var config = try TLSTestDB.config(pg, role: role, query)
            config.password = password
            do {
                let c = try await PGConnection.connect(config, logger: logger)
                _ = try await c.query("SELECT 1").collect()
                await c.close()
            } catch let error as PGError {
                errors.append(error)
            }
        }
        #expect(errors.count == 3)
        #expect(!store.all.isEmpty)
        for secret in secrets {
            for line in store.all { #expect(!line.contains(secret), "password in log line: \(line)") }
            for error in errors {
                #expect(!error.description.contains(secret), "password in \(error)")
                #expect(!error.debugDescription.contains(secret), "password in debugDescription")
            }
        }
    }

    @Test func pgpassSuppliesThePasswordWhenItIsPrivate() async throws {
        let pg = try await TLSTestDB.server()
        let path = NSTemporaryDirectory() + "tusk-pgpass-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let text = "# comment\nother:*:*:*:nope\n127.0.0.1:\(pg.port):tusk:tusk_scram:tusk_scram_pw\n*:*:*:*:fallback\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
        var config = try TLSTestDB.config(pg)
        config.password = nil
        config.passFile = path
        let c = try await PGConnection.connect(config)
        #expect(await c.authenticationMethod == "SCRAM-SHA-256-PLUS")
        await c.close()

        // Readable by others: ignored with a warning, so the password is missing.
        chmod(path, 0o644)
        let store = CapturingLogHandler.Store()
        let logger = Logger(label: "tusk.test.pgpass") { _ in CapturingLogHandler(store: store) }
        do {
            _ = try await PGConnection.connect(config, logger: logger)
            Issue.record("a world-readable .pgpass was used")
        } catch let error as PGError {
            #expect(error.code == .authenticationFailed, "\(error)")
        }
        #expect(store.all.contains { $0.contains("group or world access") })
        #expect(!store.all.contains { $0.contains("tusk_scram_pw") })

        // PGPASSFILE from the environment.
        let env = try PGConnectionConfiguration(
            "postgres://tusk_scram@127.0.0.1:\(pg.port)/tusk", environment: ["PGPASSFILE": path, "PGSSLMODE": "require"])
        #expect(env.passFile == path)
        #expect(env.sslMode == .require)
    }

    @Test func pgpassLineMatching() {
        let text = #"""
            db\:1:5432:orders:app:pw\:with\\colon
            *:5433:*:app:any-db
            localhost:5432:*:*:local
            """#
        #expect(PGPassFile.lookup(text, host: "db:1", port: 5432, database: "orders", user: "app") == #"pw:with\colon"#)
        #expect(PGPassFile.lookup(text, host: "x", port: 5433, database: "z", user: "app") == "any-db")
        #expect(PGPassFile.lookup(text, host: "x", port: 5433, database: "z", user: "other") == nil)
        #expect(PGPassFile.lookup(text, host: "/var/run/postgresql/.s.PGSQL.5432", port: 5432, database: "d", user: "u") == "local")
        #expect(PGPassFile.lookup(text, host: "/tmp/x/.s.PGSQL.5432", port: 5432, database: "d", user: "u") == nil)
        #expect(PGPassFile.lookup("/tmp/x:5432:*:*:dir\n", host: "/tmp/x/.s.PGSQL.5432", port: 5432, database: "d", user: "u") == "dir")
        #expect(PGPassFile.lookup("h:1:d:u\n", host: "h", port: 1, database: "d", user: "u") == nil)
    }

    @Test func tlsEnvironmentVariables() throws {
        let config = try PGConnectionConfiguration.fromEnvironment([
            "PGHOST": "db", "PGUSER": "u", "PGSSLMODE": "verify-ca", "PGSSLROOTCERT": "/ca.crt",
            "PGSSLCERT": "/c.crt", "PGSSLKEY": "/c.key", "PGCHANNELBINDING": "require", "PGPASSFILE": "/pgpass",
        ])
        #expect(config.sslMode == .verifyCA)
        #expect(config.sslRootCert == "/ca.crt")
        #expect(config.sslCert == "/c.crt")
        #expect(config.sslKey == "/c.key")
        #expect(config.channelBinding == .require)
        #expect(config.passFile == "/pgpass")
    }
}

/// Accepts one TCP connection on 127.0.0.1 and runs `script` with its descriptor on a thread.
final class OneShotServer: @unchecked Sendable {
    let fd: Int32
    let port: Int
    /// True once the thread closed the listening socket; stop() must not touch the descriptor after that.
    let socketClosed = Mutex(false)
    init(_ script: @escaping @Sendable (Int32) -> Void) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        guard rc == 0, listen(fd, 4) == 0 else { throw PGError(code: .connectionFailed, message: "listen failed") }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = Int(UInt16(bigEndian: addr.sin_port))
        // Only this thread closes the listening socket: closing it from stop() could let a later socket reuse the
        // descriptor number while accept() is about to run on it (and steal another test's connection).
        Thread.detachNewThread {
            let c = accept(fd, nil, nil)
            self.socketClosed.withLock { done in
                _ = Glibc.close(fd)
                done = true
            }
            guard c >= 0 else { return }
            script(c)
            _ = Glibc.close(c)
        }
    }
    /// Stops listening (wakes the accepting thread, which closes the socket).
    func stop() {
        socketClosed.withLock { done in
            if !done { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }
}
