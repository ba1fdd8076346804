import Foundation
import Synchronization

/// A fake PostgreSQL server on 127.0.0.1 that plays a script: for tests of how the client copes with a broken,
/// hostile or silent server. Not a mock of Postgres behaviour: it sends exactly the bytes it is given.
///
/// ```swift
/// let backend = try ScriptedBackend { conn in
///     _ = try conn.readStartup()
///     try conn.send(ScriptedBackend.authenticationOk + ScriptedBackend.readyForQuery)
///     _ = try conn.readMessage()                       // the client's first query
///     try conn.send(ScriptedBackend.message("D", [0, 1, 0, 0, 0, 1, 0x31])) // DataRow before RowDescription
/// }
/// // connect to backend.port …
/// ```
public final class ScriptedBackend: Sendable {
    /// The port it listens on.
    public let port: Int
    private let fd: Int32
    private final class Flag: Sendable {
        let value = Atomic<Bool>(false)
        /// True once the accepting thread closed the listening socket (guarded: stop() must not touch it after).
        let socketClosed = Mutex(false)
    }
    private let closed = Flag()

    /// One accepted client connection (blocking I/O on a background thread).
    public final class Connection: @unchecked Sendable {
        let fd: Int32
        private let isClosed = Atomic<Bool>(false)
        init(fd: Int32) { self.fd = fd }

        /// Sends raw bytes.
        public func send(_ bytes: [UInt8]) throws {
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { throw PGScriptError.closed }
                offset += n
            }
        }

        func readExactly(_ count: Int) throws -> [UInt8] {
            var out = [UInt8](repeating: 0, count: count)
            var got = 0
            while got < count {
                let n = out[got...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, count - got, 0) }
                if n <= 0 { throw PGScriptError.closed }
                got += n
            }
            return out
        }

        /// Reads the StartupMessage (answering an SSLRequest with 'N' first). Returns its bytes.
        public func readStartup() throws -> [UInt8] {
            while true {
                let header = try readExactly(4)
                let length = Int(UInt32(header[0]) << 24 | UInt32(header[1]) << 16 | UInt32(header[2]) << 8 | UInt32(header[3]))
                let body = try readExactly(length - 4)
                if length == 8 && body == [0x04, 0xD2, 0x16, 0x2F] {
                    try send([UInt8(ascii: "N")])
                    continue
                }
                return body
            }
        }

        /// Reads one frontend message; returns its type and body.
        public func readMessage() throws -> (type: UInt8, body: [UInt8]) {
            let header = try readExactly(5)
            let length = Int(UInt32(header[1]) << 24 | UInt32(header[2]) << 16 | UInt32(header[3]) << 8 | UInt32(header[4]))
            return (header[0], try readExactly(length - 4))
        }

        /// Reads messages until a Sync or a simple Query (one request).
        public func readRequest() throws {
            while true {
                let (type, _) = try readMessage()
                if type == UInt8(ascii: "S") || type == UInt8(ascii: "Q") { return }
            }
        }

        /// Closes the connection (once: a second close could hit a descriptor number reused by another socket).
        public func close() {
            if isClosed.exchange(true, ordering: .acquiringAndReleasing) { return }
            shutdown(fd, Int32(SHUT_RDWR))
            Glibc.close(fd)
        }
    }

    /// Errors of the script.
    public enum PGScriptError: Error { case closed, listen }

    /// Starts listening; `script` runs on a background thread for each accepted connection.
    public init(script: @escaping @Sendable (Connection) throws -> Void) throws {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, len) } }
        guard rc == 0, listen(s, 8) == 0 else {
            Glibc.close(s)
            throw PGScriptError.listen
        }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
        fd = s
        port = Int(UInt16(bigEndian: addr.sin_port))
        let closed = self.closed
        // Only this thread closes the listening socket: if stop() closed it, a socket opened meanwhile could reuse
        // the descriptor number and have its connections accepted here.
        Thread.detachNewThread {
            defer {
                closed.socketClosed.withLock { done in
                    Glibc.close(s)
                    done = true
                }
            }
            while !closed.value.load(ordering: .relaxed) {
                let c = accept(s, nil, nil)
                if c < 0 { return }
                if closed.value.load(ordering: .acquiring) {
                    Glibc.close(c)
                    return
                }
                let conn = Connection(fd: c)
                Thread.detachNewThread {
                    try? script(conn)
                    // Keep the socket open briefly so the client reads everything, then close.
                    usleep(200_000)
                    conn.close()
                }
            }
        }
    }

    /// Stops listening.
    public func stop() {
        if closed.value.exchange(true, ordering: .relaxed) { return }
        closed.socketClosed.withLock { done in
            if !done { shutdown(fd, Int32(SHUT_RDWR)) }  // wakes accept(); the accepting thread closes the socket
        }
    }

    deinit { stop() }

    // MARK: Message builders

    /// A backend message with the given type and body.
    public static func message(_ type: Character, _ body: [UInt8]) -> [UInt8] {
        let length = UInt32(body.count + 4)
        return [type.asciiValue!, UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)] + body
    }
    /// AuthenticationOk.
    public static let authenticationOk = message("R", [0, 0, 0, 0])
    /// ReadyForQuery (idle).
    public static let readyForQuery = message("Z", [UInt8(ascii: "I")])
    /// BackendKeyData with pid 1 and key 2.
    public static let backendKeyData = message("K", [0, 0, 0, 1, 0, 0, 0, 2])
    /// ParseComplete.
    public static let parseComplete = message("1", [])
    /// BindComplete.
    public static let bindComplete = message("2", [])
    /// A RowDescription of one int4 column named "x".
    public static let rowDescriptionInt4 = message("T", [0, 1] + Array("x".utf8) + [0] + [0, 0, 0, 0, 0, 0, 0, 0, 0, 23, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0])
    /// ParameterDescription with no parameters.
    public static let noParameters = message("t", [0, 0])
    /// A DataRow with one int4 value 1 in binary.
    public static let dataRowInt4 = message("D", [0, 1, 0, 0, 0, 4, 0, 0, 0, 1])
    /// CommandComplete "SELECT 1".
    public static let selectOne = message("C", Array("SELECT 1".utf8) + [0])
    /// The messages that complete a startup with trust authentication.
    public static let startupOk = authenticationOk + backendKeyData + readyForQuery
}
