import Foundation
import PGClient
import PGTestSupport
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A cancel request carries the session's secret key: over an encrypted session it must go encrypted too.
@Suite(.serialized) struct CancelOverTLSTests {
    /// Cancels `SELECT pg_sleep(10)` through a relay that records how each connection to the server opens: the
    /// cancel connection must open with an SSLRequest (then TLS), never a plain CancelRequest.
    @Test(arguments: ["require", "verify-full", "disable"])
    func cancelRequestsUseTheSessionsEncryption(sslmode: String) async throws {
        let pg = try await TLSTestDB.server()
        let relay = try RecordingRelay(to: UInt16(pg.port))
        defer { relay.stop() }
        var config = try TLSTestDB.config(pg, host: "localhost", "sslmode=\(sslmode)")
        config.hosts = [.tcp(host: "localhost", port: Int(relay.port))]
        config.sslRootCert = try TLSTestDB.tls("ca.crt")
        let c = try await PGConnection.connect(config)
        #expect(c.isEncrypted == (sslmode != "disable"))
        _ = try await c.execute("SELECT pg_sleep($1)", [0.0])
        let task = Task { try await c.execute("SELECT pg_sleep($1)", [Promptly.sleepSeconds]) }
        try await Task.sleep(for: .milliseconds(300))
        let started = ContinuousClock.now
        task.cancel()
        do {
            _ = try await task.value
            Issue.record("the sleep was not cancelled")
        } catch let e as PGError {
            #expect(e.code == .cancelled, "\(e)")
        }
        #expect(ContinuousClock.now - started < Promptly.bound, "cancelled after \(ContinuousClock.now - started)")
        #expect(try await c.queryOne("SELECT 1", as: Int.self) == 1)
        await c.close()
        let openings = relay.openings
        #expect(openings.count == 2, "connections through the relay: \(openings.count)")
        let sslRequest: [UInt8] = [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]
        let cancelRequest: [UInt8] = [0, 0, 0, 16, 0x04, 0xD2, 0x16, 0x2E]
        if sslmode == "disable" {
            #expect(openings.last == cancelRequest, "the cancel connection opened with \(openings.last ?? [])")
        } else {
            #expect(openings.allSatisfy { $0 == sslRequest }, "the connections opened with \(openings)")
        }
    }
}

/// A TCP relay on 127.0.0.1 in front of a server's port that records the first 8 bytes each client sends
/// (which message opens the connection). Blocking sockets, two threads per connection; for tests only.
final class RecordingRelay: Sendable {
    let port: UInt16
    private let listener: Int32
    private let recorded = Mutex<[[UInt8]]>([])
    private let sockets = Mutex<[Int32]>([])

    init(to target: UInt16) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
                bind(fd, a, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, a, &length) == 0
            }
        }
        guard fd >= 0, bound else { throw PGError(code: .connectionFailed, message: "the relay could not listen") }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        Thread.detachNewThread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 {
                    close(fd)
                    return
                }
                let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var to = Self.loopback(port: target)
                let ok = withUnsafePointer(to: &to) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                    }
                }
                guard ok else {
                    close(client)
                    close(server)
                    continue
                }
                sockets.withLock { $0 += [client, server] }
                let slot = recorded.withLock { r in r.append([]); return r.count - 1 }
                let ended = Mutex(0)
                let finish = { @Sendable in
                    // The second direction to end closes both descriptors.
                    if ended.withLock({ n in n += 1; return n }) == 2 {
                        // Out of the list first, so `stop` never shuts down a descriptor number reused elsewhere.
                        self.sockets.withLock { $0.removeAll { $0 == client || $0 == server } }
                        close(client)
                        close(server)
                    }
                }
                Thread.detachNewThread { self.pump(from: client, to: server, recordInto: slot); finish() }
                Thread.detachNewThread { self.pump(from: server, to: client, recordInto: nil); finish() }
            }
        }
    }

    /// The first bytes (up to 8) of each connection, in the order they were accepted.
    var openings: [[UInt8]] { recorded.withLock { $0 } }

    /// Stops accepting and ends every relayed connection (each pump closes its descriptors as it ends).
    func stop() {
        Glibc.shutdown(listener, Int32(SHUT_RDWR))
        sockets.withLock { for fd in $0 { Glibc.shutdown(fd, Int32(SHUT_RDWR)) } }
    }

    private func pump(from: Int32, to: Int32, recordInto slot: Int?) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            if let slot {
                recorded.withLock { r in
                    let missing = 8 - r[slot].count
                    if missing > 0 { r[slot] += buffer[0..<min(missing, n)] }
                }
            }
            var sent = 0
            while sent < n {
                let m = buffer.withUnsafeBytes { send(to, $0.baseAddress! + sent, n - sent, Int32(MSG_NOSIGNAL)) }
                if m <= 0 { break }
                sent += m
            }
        }
        Glibc.shutdown(to, Int32(SHUT_WR))
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return a
    }
}
