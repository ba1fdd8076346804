import Foundation
@testable import PGClient
import PGTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// TCP keepalives and TCP_USER_TIMEOUT, as the configuration says, on the connection's own socket.
@Suite struct KeepaliveTests {
    /// The test server's configuration, which must be TCP (keepalives do not apply to Unix sockets).
    private func tcpConfiguration() async throws -> PGConnectionConfiguration {
        let config = try await TestDB.configuration()
        guard case .tcp = config.hosts.first else {
            throw PGError(code: .misuse, message: "KeepaliveTests need the test server over TCP, not a Unix socket")
        }
        return config
    }

    private func option(_ fd: Int32, _ level: Int32, _ name: Int32) -> Int32 {
        var value: Int32 = -1
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, level, name, &value, &length)
        return value
    }

    @Test func keepalivesAreOnByDefault() async throws {
        let c = try await PGConnection.connect(try await tcpConfiguration())
        let fd = await c.fd
        #expect(option(fd, SOL_SOCKET, SO_KEEPALIVE) == 1)
        await c.close()
    }

    @Test func keepaliveSettingsReachTheSocket() async throws {
        var config = try await tcpConfiguration()
        config.tcpKeepalive = .init(idle: .seconds(31), interval: .seconds(7), count: 4)
        config.tcpUserTimeout = .milliseconds(9_000)
        let c = try await PGConnection.connect(config)
        let fd = await c.fd
        #expect(option(fd, SOL_SOCKET, SO_KEEPALIVE) == 1)
        #expect(option(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE) == 31)
        #expect(option(fd, Int32(IPPROTO_TCP), TCP_KEEPINTVL) == 7)
        #expect(option(fd, Int32(IPPROTO_TCP), TCP_KEEPCNT) == 4)
        #expect(option(fd, Int32(IPPROTO_TCP), TCP_USER_TIMEOUT) == 9_000)
        #expect(try await c.queryOne("SELECT 1", as: Int.self) == 1)
        await c.close()
    }

    @Test func keepalivesCanBeTurnedOff() async throws {
        var config = try await tcpConfiguration()
        config.tcpKeepalive = nil
        let c = try await PGConnection.connect(config)
        let fd = await c.fd
        #expect(option(fd, SOL_SOCKET, SO_KEEPALIVE) == 0)
        await c.close()
    }
}
