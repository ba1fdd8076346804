import CTuskShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A resolved address to connect to.
public enum PGSocketAddress: Sendable, CustomStringConvertible {
    /// An IPv4 or IPv6 address.
    case inet(family: Int32, bytes: [UInt8], description: String)
    /// A Unix-domain socket path.
    case unix(path: String)

    public var description: String {
        switch self {
        case .inet(_, _, let d): d
        case .unix(let p): p
        }
    }
}

/// Non-blocking socket primitives. All descriptors are non-blocking and close-on-exec.
public enum PGSocket {
    /// Resolves `host` (a name or a literal address) for TCP. Blocking (getaddrinfo): call off the event loop.
    public static func resolve(host: String, port: Int) throws -> [PGSocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        hints.ai_protocol = Int32(IPPROTO_TCP)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &result)
        guard rc == 0, let first = result else {
            throw PGTransportError.resolve(host: host, message: String(cString: gai_strerror(rc)))
        }
        defer { freeaddrinfo(first) }
        var out: [PGSocketAddress] = []
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let ai = p {
            let len = Int(ai.pointee.ai_addrlen)
            let bytes = [UInt8](UnsafeRawBufferPointer(start: ai.pointee.ai_addr, count: len))
            var hostBuf = [CChar](repeating: 0, count: 64)
            _ = getnameinfo(ai.pointee.ai_addr, ai.pointee.ai_addrlen, &hostBuf, 64, nil, 0, NI_NUMERICHOST)
            let numeric = String(decoding: hostBuf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let desc = ai.pointee.ai_family == AF_INET6 ? "[\(numeric)]:\(port)" : "\(numeric):\(port)"
            out.append(.inet(family: ai.pointee.ai_family, bytes: bytes, description: desc))
            p = ai.pointee.ai_next
        }
        return out
    }

    /// Creates a non-blocking socket and starts connecting. Returns the descriptor and whether the connect is
    /// still in progress (wait for writability, then check `pendingError`).
    public static func startConnect(to address: PGSocketAddress) throws -> (fd: Int32, inProgress: Bool) {
        let family: Int32
        switch address {
        case .inet(let f, _, _): family = f
        case .unix: family = AF_UNIX
        }
        #if canImport(Glibc)
        let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(family, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw PGTransportError.system("socket", errno: errno) }
        guard ctusk_set_nonblocking(fd) == 0 else {
            let e = errno
            close(fd)
            throw PGTransportError.system("fcntl", errno: e)
        }
        let rc: Int32
        switch address {
        case .inet(_, let bytes, _):
            _ = ctusk_set_nodelay(fd)
            rc = bytes.withUnsafeBytes { raw in
                systemConnect(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(bytes.count))
            }
        case .unix(let path):
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let utf8 = Array(path.utf8)
            let capacity = MemoryLayout.size(ofValue: addr.sun_path)
            guard utf8.count < capacity else {
                close(fd)
                throw PGTransportError.system("connect (socket path longer than \(capacity - 1) bytes)", errno: ENAMETOOLONG)
            }
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                raw.copyBytes(from: utf8)
                raw[utf8.count] = 0
            }
            rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    systemConnect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
        }
        if rc == 0 { return (fd, false) }
        let e = errno
        if e == EINPROGRESS || e == EAGAIN { return (fd, true) }
        close(fd)
        throw PGTransportError.system("connect to \(address)", errno: e)
    }

    /// The pending error of a socket whose connect finished (0 when connected).
    public static func pendingError(_ fd: Int32) -> Int32 {
        ctusk_socket_error(fd)
    }

    /// Outcome of a non-blocking read or write.
    public enum IOResult: Sendable, Equatable {
        case bytes(Int)
        case wouldBlock
        case endOfStream
        case error(Int32)
    }

    /// Reads into `buffer`.
    @inlinable
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawPointer, capacity: Int) -> IOResult {
        while true {
            let n = recv(fd, buffer, capacity, 0)
            if n > 0 { return .bytes(n) }
            if n == 0 { return .endOfStream }
            let e = errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            return .error(e)
        }
    }

    /// Writes from `buffer` (MSG_NOSIGNAL: a closed peer is an error, not a signal).
    @inlinable
    public static func write(_ fd: Int32, from buffer: UnsafeRawPointer, count: Int) -> IOResult {
        while true {
            let n = ctusk_send(fd, buffer, UInt(count))
            if n >= 0 { return .bytes(n) }
            let e = ctusk_errno()
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            return .error(e)
        }
    }

    /// Closes a descriptor.
    public static func close(_ fd: Int32) {
        #if canImport(Glibc)
        _ = Glibc.close(fd)
        #else
        _ = Darwin.close(fd)
        #endif
    }

    /// Turns TCP keepalives on for a TCP socket, with the idle time and interval (whole seconds) and probe
    /// count that are given (the system's defaults for the others). Throws the errno on failure.
    ///
    /// ```swift
    /// try PGSocket.setKeepalive(fd, idle: .seconds(30), interval: .seconds(10), count: 3)
    /// ```
    public static func setKeepalive(_ fd: Int32, idle: Duration?, interval: Duration?, count: Int?) throws(PGTransportError) {
        func seconds(_ d: Duration?) -> Int32 { d.map { Int32(clamping: max($0.components.seconds, 1)) } ?? 0 }
        guard ctusk_set_keepalive(fd, seconds(idle), seconds(interval), Int32(clamping: count ?? 0)) == 0 else {
            throw .system("setsockopt(SO_KEEPALIVE)", errno: ctusk_errno())
        }
    }

    /// Sets `TCP_USER_TIMEOUT`: how long sent data may stay unacknowledged before the kernel drops the
    /// connection. Throws the errno on failure.
    public static func setUserTimeout(_ fd: Int32, _ timeout: Duration) throws(PGTransportError) {
        let (s, a) = timeout.components
        let ms = UInt32(clamping: max(0, s) * 1000 + max(0, a) / 1_000_000_000_000_000)
        guard ctusk_set_user_timeout(fd, ms) == 0 else {
            throw .system("setsockopt(TCP_USER_TIMEOUT)", errno: ctusk_errno())
        }
    }

    /// A description of an errno value.
    public static func errorDescription(_ e: Int32) -> String {
        String(cString: strerror(e))
    }

    /// Connects asynchronously on `loop`, failing after `timeout`. Cancelling the task abandons the attempt.
    public static func connect(to address: PGSocketAddress, on loop: PGEventLoop, timeout: Duration) async throws -> Int32 {
        let (fd, inProgress) = try startConnect(to: address)
        if !inProgress { return fd }
        let waiter = ConnectWaiter(fd: fd, loop: loop)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Int32, any Error>) in
                loop.execute { waiter.start(cont, timeout: timeout) }
            }
        } onCancel: {
            loop.execute { waiter.finish(.failure(CancellationError())) }
        }
    }
}

private final class ConnectWaiter: PGEventHandler, @unchecked Sendable {
    let fd: Int32
    let loop: PGEventLoop
    var continuation: CheckedContinuation<Int32, any Error>?
    var timer: UInt64?
    var done = false

    init(fd: Int32, loop: PGEventLoop) {
        self.fd = fd
        self.loop = loop
    }

    func start(_ cont: CheckedContinuation<Int32, any Error>, timeout: Duration) {
        if done {
            // Cancelled before we started.
            PGSocket.close(fd)
            cont.resume(throwing: CancellationError())
            return
        }
        continuation = cont
        do {
            try loop.register(fd: fd, handler: self)
        } catch {
            finish(.failure(error))
            return
        }
        loop.setInterest(fd: fd, read: false, write: true)
        timer = loop.scheduleTimer(after: timeout) { [self] in finish(.failure(PGTransportError.timeout)) }
    }

    func finish(_ result: Result<Int32, any Error>) {
        guard !done else { return }
        done = true
        guard let cont = continuation else { return } // start() will see `done`
        continuation = nil
        if let t = timer { loop.cancelTimer(t) }
        loop.deregister(fd: fd)
        switch result {
        case .success(let fd): cont.resume(returning: fd)
        case .failure(let e):
            PGSocket.close(fd)
            cont.resume(throwing: e)
        }
    }

    func eventLoopWritable() {
        let e = PGSocket.pendingError(fd)
        if e == 0 { finish(.success(fd)) } else { finish(.failure(PGTransportError.system("connect", errno: e))) }
    }

    func eventLoopReadable() { eventLoopWritable() }
    func eventLoopFlush() {}
}

@inline(__always)
private func systemConnect(_ fd: Int32, _ addr: UnsafePointer<sockaddr>, _ len: socklen_t) -> Int32 {
    #if canImport(Glibc)
    Glibc.connect(fd, addr, len)
    #else
    Darwin.connect(fd, addr, len)
    #endif
}
