import CTuskOpenSSL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One TLS session (an OpenSSL `SSL`) over a non-blocking socket.
///
/// Every call returns at once: the handshake reports whether it must wait for the socket to become readable
/// or writable, and reads and writes report `.wouldBlock` the same way a plain socket does. Use it from one
/// thread at a time (the connection's event loop).
///
/// ```swift
/// let session = try PGTLSSession(context: context, fd: fd, serverName: "db.internal", verifyHost: "db.internal")
/// while true {
///     switch try session.handshake() {
///     case .done: break
///     case .wantRead, .wantWrite: continue // wait for the socket (see `PGTLSSession.establish`)
///     }
/// }
/// let hash = session.serverCertificateHash()  // for SCRAM tls-server-end-point
/// ```
public final class PGTLSSession: @unchecked Sendable {
    /// Progress of the handshake.
    ///
    /// ```swift
    /// if try session.handshake() == .wantRead { loop.setInterest(fd: fd, read: true, write: false) }
    /// ```
    public enum Progress: Sendable, Equatable {
        /// The handshake is complete (and the certificate verified, if the context asks for it).
        case done
        /// Call again when the socket is readable.
        case wantRead
        /// Call again when the socket is writable.
        case wantWrite
    }

    let ssl: OpaquePointer
    /// The context this session was made from (kept alive with it).
    public let context: PGTLSContext
    /// The last error of ``read(into:capacity:)`` or ``write(from:count:)`` that returned `.error`.
    public private(set) var lastError: String?

    nonisolated(unsafe) private static let bioMethod: OpaquePointer? = ctusk_socket_bio_method_new()

    /// A client session over `fd`. `serverName` is sent as SNI (omit for IP addresses); `verifyHost`, when
    /// set, must match the certificate's subjectAltName (DNS, then the CN when there is no DNS name) or, for an
    /// IP literal, its IP address entries. Host checks apply only when the context verifies the peer.
    public init(context: PGTLSContext, fd: Int32, serverName: String?, verifyHost: String?) throws(PGTLSError) {
        guard let ssl = SSL_new(context.ctx) else {
            throw PGTLSError(.handshakeFailed, "could not create a TLS session: \(PGTLSError.drainErrorQueue())")
        }
        self.ssl = ssl
        self.context = context
        guard let method = Self.bioMethod, let bio = ctusk_socket_bio_new(method, fd) else {
            throw PGTLSError(.handshakeFailed, "could not create a socket BIO")
        }
        SSL_set_bio(ssl, bio, bio)
        if let serverName, !serverName.isEmpty, !Self.isIPAddress(serverName) {
            _ = ctusk_ssl_set_sni(ssl, serverName)
        }
        if let host = verifyHost, context.configuration.verifyPeer {
            let param = SSL_get0_param(ssl)
            if Self.isIPAddress(host) {
                guard X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1 else {
                    throw PGTLSError(.handshakeFailed, "could not set the IP address \(host) for certificate verification")
                }
            } else {
                X509_VERIFY_PARAM_set_hostflags(param, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
                guard X509_VERIFY_PARAM_set1_host(param, host, 0) == 1 else {
                    throw PGTLSError(.handshakeFailed, "could not set the host name \(host) for certificate verification")
                }
            }
        }
    }

    deinit { SSL_free(ssl) }

    /// True for an IPv4 or IPv6 literal.
    public static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// Advances the handshake. Throws a ``PGTLSError`` whose kind says what failed (untrusted CA, host name…).
    public func handshake() throws(PGTLSError) -> Progress {
        ERR_clear_error()
        let rc = SSL_connect(ssl)
        if rc == 1 { return .done }
        let err = SSL_get_error(ssl, rc)
        switch err {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        default: break
        }
        let savedErrno = errno
        let queue = PGTLSError.drainErrorQueue()
        let verify = SSL_get_verify_result(ssl)
        if verify != X509_V_OK {
            let reason = String(cString: X509_verify_cert_error_string(verify))
            let kind: PGTLSFailureKind
            switch Int32(verify) {
            case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH, X509_V_ERR_EMAIL_MISMATCH:
                kind = .hostNameMismatch
            case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                 X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
                 X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, X509_V_ERR_CERT_UNTRUSTED:
                kind = .untrustedCertificate
            case X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_CERT_NOT_YET_VALID:
                kind = .certificateExpired
            default:
                kind = .certificateInvalid
            }
            let what: String
            switch kind {
            case .hostNameMismatch: what = "the server's certificate does not match the host name"
            case .untrustedCertificate: what = "the server's certificate is not signed by a trusted certificate authority"
            case .certificateExpired: what = "the server's certificate is expired or not yet valid"
            default: what = "the server's certificate could not be verified"
            }
            throw PGTLSError(kind, "\(what) (certificate verify failed: \(reason))")
        }
        if err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN || queue.contains("unexpected eof") {
            let detail = savedErrno != 0 && err == SSL_ERROR_SYSCALL ? ": \(String(cString: strerror(savedErrno)))" : ""
            throw PGTLSError(.handshakeFailed, "the server closed the connection during the TLS handshake\(detail)")
        }
        throw PGTLSError(.handshakeFailed, "TLS handshake failed: \(queue.isEmpty ? "SSL error \(err)" : queue)")
    }

    /// Reads decrypted bytes. `.wouldBlock` means: wait until the socket is readable.
    @inline(__always)
    public func read(into buffer: UnsafeMutableRawPointer, capacity: Int) -> PGSocket.IOResult {
        let n = SSL_read(ssl, buffer, Int32(clamping: capacity))
        if n > 0 { return .bytes(Int(n)) }
        return failure(n)
    }

    /// Writes bytes (encrypting them). `.wouldBlock` means: wait until the socket is writable, then call again
    /// with the same bytes (the buffer may move).
    @inline(__always)
    public func write(from buffer: UnsafeRawPointer, count: Int) -> PGSocket.IOResult {
        let n = SSL_write(ssl, buffer, Int32(clamping: count))
        if n > 0 { return .bytes(Int(n)) }
        return failure(n)
    }

    private func failure(_ rc: Int32) -> PGSocket.IOResult {
        let e = errno
        let err = SSL_get_error(ssl, rc)
        switch err {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .wouldBlock
        case SSL_ERROR_ZERO_RETURN:
            return .endOfStream
        case SSL_ERROR_SYSCALL:
            let queue = PGTLSError.drainErrorQueue()
            if queue.isEmpty && (e == 0 || rc == 0) { return .endOfStream }
            lastError = queue.isEmpty ? String(cString: strerror(e)) : queue
            return .error(e == 0 ? EPROTO : e)
        default:
            let queue = PGTLSError.drainErrorQueue()
            if queue.contains("unexpected eof") { return .endOfStream }
            lastError = "TLS error: \(queue.isEmpty ? "SSL error \(err)" : queue)"
            return .error(EPROTO)
        }
    }

    /// Decrypted bytes OpenSSL holds that the socket will not signal.
    public var pendingBytes: Int { Int(SSL_pending(ssl)) }

    /// Sends close_notify (once, without waiting for the peer's).
    public func shutdown() {
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    /// The negotiated protocol, e.g. "TLSv1.3".
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// The negotiated cipher, e.g. "TLS_AES_256_GCM_SHA384".
    public var cipher: String {
        guard let c = SSL_get_current_cipher(ssl) else { return "" }
        return String(cString: SSL_CIPHER_get_name(c))
    }

    /// The ALPN protocol the server selected, if any.
    public var selectedALPN: String? {
        var data: UnsafePointer<UInt8>?
        var len: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &len)
        guard let data, len > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(len)), as: UTF8.self)
    }

    /// The server certificate's hash for SCRAM's `tls-server-end-point` channel binding (RFC 5929 §4.1): the
    /// DER certificate hashed with its signature's hash algorithm, SHA-256 when that is MD5 or SHA-1. Nil when
    /// there is no certificate or its signature algorithm has no single hash (Ed25519).
    public func serverCertificateHash() -> [UInt8]? {
        guard let cert = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(cert) }
        var mdNID: Int32 = 0
        var pkNID: Int32 = 0
        guard OBJ_find_sigid_algs(X509_get_signature_nid(cert), &mdNID, &pkNID) == 1, mdNID != NID_undef else { return nil }
        if mdNID == NID_md5 || mdNID == NID_sha1 { mdNID = NID_sha256 }
        guard let md = EVP_get_digestbyname(OBJ_nid2sn(mdNID)) else { return nil }
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var len: UInt32 = 0
        guard X509_digest(cert, md, &out, &len) == 1 else { return nil }
        return Array(out.prefix(Int(len)))
    }
}

extension PGTLSSession {
    /// True when OpenSSL holds bytes (decrypted or not yet processed) that the socket will not signal again.
    public var hasBufferedData: Bool { SSL_has_pending(ssl) == 1 }
}
