#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension PGTLSSession {
    /// How TLS starts on a freshly connected socket.
    public enum Negotiation: Sendable {
        /// Send PostgreSQL's SSLRequest and start the handshake when the server answers "S".
        case sslRequest
        /// Start the handshake at once (PostgreSQL 17's `sslnegotiation=direct`; ALPN `postgresql`).
        case direct
    }

    /// Starts TLS on a connected, non-blocking socket and completes the handshake, waiting on `loop`.
    ///
    /// Returns nil when the server answered the SSLRequest with "N" (no TLS; the socket is still usable for a
    /// plain session). Throws ``PGTLSError`` (what failed), `PGTransportError.timeout`, or `CancellationError`.
    /// The socket is never closed here.
    ///
    /// ```swift
    /// let fd = try await PGSocket.connect(to: address, on: loop, timeout: .seconds(10))
    /// let context = try PGTLSContext.cached(.init(verifyPeer: true, rootCertificates: .system))
    /// if let session = try await PGTLSSession.establish(
    ///     fd: fd, on: loop, context: context, negotiation: .sslRequest,
    ///     serverName: "db.internal", verifyHost: "db.internal", timeout: .seconds(10)) {
    ///     // encrypted: read and write through `session`
    /// }
    /// ```
    public static func establish(
        fd: Int32, on loop: PGEventLoop, context: PGTLSContext, negotiation: Negotiation,
        serverName: String?, verifyHost: String?, timeout: Duration
    ) async throws -> PGTLSSession? {
        let session = try PGTLSSession(context: context, fd: fd, serverName: serverName, verifyHost: verifyHost)
        let waiter = HandshakeWaiter(fd: fd, loop: loop, session: session, negotiation: negotiation)
        let established = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Bool, any Error>) in
                loop.execute { waiter.start(cont, timeout: timeout) }
            }
        } onCancel: {
            loop.execute { waiter.finish(.failure(CancellationError())) }
        }
        if !established { return nil }
        if negotiation == .direct, session.selectedALPN != "postgresql" {
            throw PGTLSError(.handshakeFailed, "the server did not select the ALPN protocol \"postgresql\" in a direct TLS handshake")
        }
        return session
    }
}

/// Drives SSLRequest and the handshake on the event loop.
private final class HandshakeWaiter: PGEventHandler, @unchecked Sendable {
    enum Step { case awaitingResponse, handshaking }

    let fd: Int32
    let loop: PGEventLoop
    let session: PGTLSSession
    let negotiation: PGTLSSession.Negotiation
    var step: Step
    var continuation: CheckedContinuation<Bool, any Error>?
    var timer: UInt64?
    var done = false
    var registered = false

    init(fd: Int32, loop: PGEventLoop, session: PGTLSSession, negotiation: PGTLSSession.Negotiation) {
        self.fd = fd
        self.loop = loop
        self.session = session
        self.negotiation = negotiation
        self.step = negotiation == .direct ? .handshaking : .awaitingResponse
    }

    func start(_ cont: CheckedContinuation<Bool, any Error>, timeout: Duration) {
        if done {
            cont.resume(throwing: CancellationError())
            return
        }
        continuation = cont
        do {
            try loop.register(fd: fd, handler: self)
            registered = true
        } catch {
            finish(.failure(error))
            return
        }
        timer = loop.scheduleTimer(after: timeout) { [self] in finish(.failure(PGTransportError.timeout)) }
        switch step {
        case .awaitingResponse:
            // SSLRequest: Int32 length 8, Int32 code 80877103. 8 bytes always fit an empty socket buffer.
            let request: [UInt8] = [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]
            let result = request.withUnsafeBytes { PGSocket.write(fd, from: $0.baseAddress!, count: 8) }
            guard result == .bytes(8) else {
                finish(.failure(PGTLSError(.io, "could not send the SSLRequest: \(result)")))
                return
            }
            loop.setInterest(fd: fd, read: true, write: false)
        case .handshaking:
            advance()
        }
    }

    func finish(_ result: Result<Bool, any Error>) {
        guard !done else { return }
        done = true
        guard let cont = continuation else { return }
        continuation = nil
        if let t = timer { loop.cancelTimer(t) }
        if registered { loop.deregister(fd: fd) }
        cont.resume(with: result)
    }

    func advance() {
        do {
            switch try session.handshake() {
            case .done: finish(.success(true))
            case .wantRead: loop.setInterest(fd: fd, read: true, write: false)
            case .wantWrite: loop.setInterest(fd: fd, read: false, write: true)
            }
        } catch {
            var error = error
            if negotiation == .direct, error.kind == .handshakeFailed {
                error.message += "; sslnegotiation=direct needs a server that accepts direct TLS (PostgreSQL 17 or later)"
            }
            finish(.failure(error))
        }
    }

    func eventLoopReadable() {
        guard !done else { return }
        switch step {
        case .handshaking:
            advance()
        case .awaitingResponse:
            // Exactly one byte: anything after it belongs to the TLS handshake, never to us (CVE-2021-23222).
            var byte: UInt8 = 0
            switch PGSocket.read(fd, into: &byte, capacity: 1) {
            case .wouldBlock:
                return
            case .bytes:
                switch byte {
                case UInt8(ascii: "S"):
                    step = .handshaking
                    advance()
                case UInt8(ascii: "N"):
                    finish(.success(false))
                case UInt8(ascii: "E"):
                    finish(.failure(PGTLSError(.serverDoesNotSupportTLS, "the server answered the SSLRequest with an error (it does not support TLS)")))
                default:
                    finish(.failure(PGTLSError(.handshakeFailed, "the server sent an invalid answer to the SSLRequest (byte \(byte))")))
                }
            case .endOfStream:
                finish(.failure(PGTLSError(.io, "the server closed the connection after the SSLRequest")))
            case .error(let e):
                finish(.failure(PGTLSError(.io, "reading the answer to the SSLRequest failed: \(PGSocket.errorDescription(e))")))
            }
        }
    }

    func eventLoopWritable() {
        guard !done else { return }
        advance()
    }

    func eventLoopFlush() {}
}
