import Foundation
import Logging
import PGClient
import PGTestSupport
import Testing

@Suite(.serialized) struct ConnectionTests {
    @Test func authenticatesWithEveryMethod() async throws {
        let pg = try await TestDB.server()
        try #require(pg.hasAuthRoles, "the server has no auth-method roles")
        // Over TLS (sslmode=prefer, the default), SCRAM binds the channel.
        let scram = pg.isTLSEnabled ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256"
        let expected = ["tusk_trust": "trust", "tusk_password": "password", "tusk_md5": "md5",
                        "tusk_scram": scram, "tusk_scram_utf8": scram]
        for role in TemporaryPostgres.roles {
            let c = try await TestDB.connect(user: role.name, password: role.password)
            #expect(await c.authenticationMethod == expected[role.name], "\(role)")
            let rows = try await c.query("SELECT current_user").collect()
            #expect(try rows.first?.decode(String.self, column: 0) == role.name)
            await c.close()
        }
    }

    @Test func wrongPasswordIsRefusedWithATypedError() async throws {
        let pg = try await TestDB.server()
        try #require(pg.hasAuthRoles)
        for role in TemporaryPostgres.roles where role.password != nil {
            do {
                let c = try await TestDB.connect(user: role.name, password: "wrong-" + (role.password ?? ""))
                await c.close()
                Issue.record("\(role) accepted a wrong password")
            } catch let error as PGError {
                #expect(error.code == .authenticationFailed, "\(role): \(error)")
                #expect(error.sqlState == .invalidPassword, "\(role): \(error)")
                #expect(!error.description.contains(role.password!), "password leaked in \(error)")
                #expect(!error.debugDescription.contains(role.password!), "password leaked in debugDescription")
            }
        }
    }

    @Test func missingPasswordIsATypedError() async throws {
        let pg = try await TestDB.server()
        try #require(pg.hasAuthRoles)
        await #expect(throws: PGError.self) { _ = try await TestDB.connect(user: "tusk_scram", password: nil) }
    }

    @Test func connectsOverAUnixSocket() async throws {
        let pg = try await TestDB.server()
        let dir = try #require(pg.socketDirectory, "no socket directory (external server)")
        let config = try PGConnectionConfiguration(keywordValue: "host=\(dir) port=\(pg.port) user=tusk_scram password=tusk_scram_pw dbname=tusk")
        let c = try await PGConnection.connect(config)
        let rows = try await c.query("SELECT inet_client_addr() IS NULL").collect()
        #expect(try rows[0].decode(Bool.self, column: 0) == true) // NULL client address: a Unix socket
        await c.close()
    }

    @Test func refusedConnectionIsATypedError() async throws {
        // Port 1 on loopback: nothing listens there.
        let config = try PGConnectionConfiguration(url: "postgres://u@127.0.0.1:1/db?connect_timeout=2")
        do {
            _ = try await PGConnection.connect(config)
            Issue.record("connected to a closed port")
        } catch let error as PGError {
            #expect(error.code == .connectionFailed)
            #expect(error.isSafeToRetry)
        }
    }

    @Test func silentServerTimesOut() async throws {
        let silent = try SilentListener()
        defer { silent.close() }
        let config = try PGConnectionConfiguration(url: "postgres://u@127.0.0.1:\(silent.port)/db?connect_timeout=1")
        let start = ContinuousClock.now
        do {
            _ = try await PGConnection.connect(config)
            Issue.record("connected to a silent server")
        } catch let error as PGError {
            #expect(error.code == .timeout)
        }
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func startupParametersAndBackendKeyAreRecorded() async throws {
        try await TestDB.withConnection { c in
            let params = await c.serverParameters
            #expect(params["server_version"] != nil)
            #expect(params["client_encoding"] == "UTF8")
            #expect(await c.backendProcessID > 0)
            let pid = try await c.query("SELECT pg_backend_pid()").collect()[0].decode(Int32.self, column: 0)
            #expect(pid == (await c.backendProcessID))
        }
    }

    @Test func closeIsCleanAndLaterQueriesFailAtOnce() async throws {
        let c = try await TestDB.connect()
        await c.close()
        #expect(c.isClosed)
        await c.close() // idempotent
        let start = ContinuousClock.now
        do {
            _ = try await c.query("SELECT 1")
            Issue.record("query on a closed connection succeeded")
        } catch let error as PGError {
            #expect(error.code == .connectionClosed)
        }
        #expect(ContinuousClock.now - start < Promptly.bound)
    }
}

/// A TCP listener that accepts connections and never answers.
final class SilentListener: @unchecked Sendable {
    let fd: Int32
    let port: Int
    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        guard rc == 0, listen(fd, 16) == 0 else { throw PGError(code: .connectionFailed, message: "listen failed") }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = Int(UInt16(bigEndian: addr.sin_port))
    }
    func close() { _ = Glibc.close(fd) }
}
