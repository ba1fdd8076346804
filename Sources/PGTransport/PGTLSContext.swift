import CTuskOpenSSL

/// Why a TLS operation failed, in terms a caller can act on.
///
/// ```swift
/// if error.kind == .hostNameMismatch { print("connect with the name on the certificate") }
/// ```
public enum PGTLSFailureKind: String, Sendable, Hashable {
    /// The server answered the SSLRequest with "N": it does not accept TLS.
    case serverDoesNotSupportTLS
    /// The server's certificate chain does not lead to a trusted root (unknown or untrusted CA, self-signed).
    case untrustedCertificate
    /// The certificate is trusted but names another host (or IP address).
    case hostNameMismatch
    /// The certificate is expired or not yet valid.
    case certificateExpired
    /// Another certificate verification failure.
    case certificateInvalid
    /// A certificate, key or CA file could not be read or does not fit.
    case certificateFile
    /// The handshake failed for another reason (protocol, cipher, the server closed the connection, …).
    case handshakeFailed
    /// Reading or writing the encrypted stream failed.
    case io
}

/// A TLS failure from the transport layer: a kind and a message that says what failed.
///
/// ```swift
/// do { _ = try PGTLSContext(.init(verifyPeer: true, rootCertificates: .file("/missing.crt"))) }
/// catch { print(error.kind) }  // certificateFile
/// ```
public struct PGTLSError: Error, Sendable, CustomStringConvertible {
    /// What failed.
    public var kind: PGTLSFailureKind
    /// A human-readable explanation, e.g. "certificate verify failed: unable to get local issuer certificate".
    public var message: String
    /// An error of `kind` explained by `message`.
    public init(_ kind: PGTLSFailureKind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { message }

    /// The OpenSSL error queue as one string (and clears it).
    static func drainErrorQueue() -> String {
        var parts: [String] = []
        while true {
            let e = ERR_get_error()
            if e == 0 { break }
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(e, &buf, buf.count)
            parts.append(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return parts.joined(separator: "; ")
    }
}

/// The settings shared by TLS sessions: trusted roots, client certificate, whether to verify the server.
/// Wraps an OpenSSL `SSL_CTX`; build one per configuration and reuse it (``cached(_:)``).
///
/// ```swift
/// let context = try PGTLSContext(.init(verifyPeer: true, rootCertificates: .file("/etc/pg/root.crt")))
/// let session = try PGTLSSession(context: context, fd: fd, serverName: "db.internal", verifyHost: "db.internal")
/// ```
public final class PGTLSContext: @unchecked Sendable {
    /// Where trusted root certificates come from.
    public enum RootCertificates: Sendable, Hashable {
        /// A PEM file of CA certificates.
        case file(String)
        /// The operating system's trust store (OpenSSL's default paths).
        case system
    }

    /// What goes into an `SSL_CTX`.
    public struct Configuration: Sendable, Hashable {
        /// Verify the server's certificate chain (libpq's verify-ca and verify-full).
        public var verifyPeer: Bool
        /// Trusted roots; needed when `verifyPeer` is true.
        public var rootCertificates: RootCertificates?
        /// A client certificate (PEM chain file) for the server's `cert` authentication.
        public var certificateFile: String?
        /// The client certificate's private key (PEM).
        public var privateKeyFile: String?
        /// ALPN protocols offered (`postgresql` for PostgreSQL 17's direct TLS).
        public var alpn: [String]

        public init(
            verifyPeer: Bool = false, rootCertificates: RootCertificates? = nil,
            certificateFile: String? = nil, privateKeyFile: String? = nil, alpn: [String] = ["postgresql"]
        ) {
            self.verifyPeer = verifyPeer
            self.rootCertificates = rootCertificates
            self.certificateFile = certificateFile
            self.privateKeyFile = privateKeyFile
            self.alpn = alpn
        }
    }

    /// The configuration this context was built from.
    public let configuration: Configuration
    let ctx: OpaquePointer

    /// Builds an `SSL_CTX`: TLS 1.2 or later, partial writes, the given roots and client certificate.
    public init(_ configuration: Configuration) throws(PGTLSError) {
        guard let ctx = SSL_CTX_new(TLS_client_method()) else {
            throw PGTLSError(.handshakeFailed, "could not create a TLS context: \(PGTLSError.drainErrorQueue())")
        }
        self.ctx = ctx
        self.configuration = configuration
        _ = ctusk_ssl_ctx_set_default_modes(ctx)
        _ = ctusk_ssl_ctx_set_min_tls12(ctx)
        ctusk_ssl_ctx_set_read_ahead(ctx)
        switch configuration.rootCertificates {
        case .file(let path):
            guard SSL_CTX_load_verify_locations(ctx, path, nil) == 1 else {
                throw PGTLSError(.certificateFile, "could not read root certificate file \"\(path)\": \(PGTLSError.drainErrorQueue())")
            }
        case .system:
            guard SSL_CTX_set_default_verify_paths(ctx) == 1 else {
                throw PGTLSError(.certificateFile, "could not load the system's trusted certificates: \(PGTLSError.drainErrorQueue())")
            }
        case nil:
            break
        }
        SSL_CTX_set_verify(ctx, configuration.verifyPeer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
        if let cert = configuration.certificateFile {
            guard SSL_CTX_use_certificate_chain_file(ctx, cert) == 1 else {
                throw PGTLSError(.certificateFile, "could not read client certificate file \"\(cert)\": \(PGTLSError.drainErrorQueue())")
            }
            let key = configuration.privateKeyFile ?? cert
            guard SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 else {
                throw PGTLSError(.certificateFile, "could not read private key file \"\(key)\": \(PGTLSError.drainErrorQueue())")
            }
            guard SSL_CTX_check_private_key(ctx) == 1 else {
                throw PGTLSError(.certificateFile, "certificate \"\(cert)\" does not match private key file \"\(key)\"")
            }
        }
        if !configuration.alpn.isEmpty {
            var wire: [UInt8] = []
            for p in configuration.alpn {
                wire.append(UInt8(p.utf8.count))
                wire += Array(p.utf8)
            }
            _ = SSL_CTX_set_alpn_protos(ctx, wire, UInt32(wire.count))
        }
    }

    deinit { SSL_CTX_free(ctx) }

    private static let cache = PGLock<[Configuration: PGTLSContext]>([:])

    /// A context for `configuration`, built once per process and reused (reading CA files costs more than a
    /// handshake). Files are read when first used: restart the process after replacing them.
    ///
    /// ```swift
    /// let context = try PGTLSContext.cached(.init())  // no verification, like sslmode=require
    /// ```
    public static func cached(_ configuration: Configuration) throws(PGTLSError) -> PGTLSContext {
        if let hit = cache.withLock({ $0[configuration] }) { return hit }
        let made = try PGTLSContext(configuration)
        return cache.withLock { c in
            if let existing = c[configuration] { return existing }
            c[configuration] = made
            return made
        }
    }
}
