import Foundation
import Logging
import PGTransport
import PGWire

// TLS for PGConnection: libpq's sslmode rules (with its prefer/allow retry), the TLS context settings, SCRAM
// channel binding, and reading/writing through the TLS session. The plain path never enters this file.

extension PGConnection {
    /// Whether TLS is tried on an attempt.
    enum TLSAttempt: Sendable, CustomStringConvertible {
        /// Plain TCP (or a Unix socket).
        case off
        /// SSLRequest; continue unencrypted when the server answers "N".
        case optional
        /// TLS or nothing.
        case required

        var description: String {
            switch self {
            case .off: "off"
            case .optional: "optional"
            case .required: "required"
            }
        }
    }

    /// A start-up failure, with whether that attempt ran over TLS (for the prefer/allow retry).
    struct StartupFailure: Error {
        var error: PGError
        var usedTLS: Bool
        /// The server asked for authentication before failing (a wrong password, not a pg_hba.conf rejection).
        var authenticationStarted: Bool
    }

    /// True when the connection is encrypted with TLS.
    ///
    /// ```swift
    /// let connection = try await PGConnection.connect(try PGConnectionConfiguration("postgres://app@db/orders?sslmode=require"))
    /// connection.isEncrypted  // true
    /// ```
    public nonisolated var isEncrypted: Bool { tls != nil }

    /// The TLS protocol version ("TLSv1.3") and cipher of an encrypted connection; nil for a plain one.
    ///
    /// ```swift
    /// if let (version, cipher) = await connection.tlsParameters { print(version, cipher) }
    /// ```
    public var tlsParameters: (version: String, cipher: String)? {
        guard let tls else { return nil }
        return (tls.protocolVersion, tls.cipher)
    }

    /// Rejects combinations libpq rejects, before any connection is made.
    static func checkTLSConfiguration(_ configuration: PGConnectionConfiguration) throws {
        if configuration.channelBinding == .require && configuration.sslMode == .disable {
            var error = PGError(code: .tls, message: "channel_binding=require needs TLS, but sslmode=disable")
            error.tlsFailure = .channelBindingUnavailable
            throw error
        }
        if configuration.sslNegotiation == .direct {
            switch configuration.sslMode {
            case .require, .verifyCA, .verifyFull: break
            default:
                throw PGError(
                    code: .invalidConfiguration,
                    message: "weak sslmode \"\(configuration.sslMode)\" may not be used with sslnegotiation=direct (use \"require\", \"verify-ca\", or \"verify-full\")")
            }
        }
    }

    /// One host address, with libpq's sslmode rules: `allow` tries without TLS first and retries with TLS when the
    /// server rejects the session before authentication (pg_hba.conf); `prefer` does the reverse; `require` and up never go without TLS. Unix sockets
    /// never use TLS (as libpq).
    static func connectNegotiatingTLS(
        to address: PGSocketAddress, host: String?, configuration: PGConnectionConfiguration, loop: PGEventLoop, logger: Logger
    ) async throws -> PGConnection {
        var password = configuration.password
        if password == nil {
            let pgpassHost: String
            switch address {
            case .unix(let path): pgpassHost = path
            case .inet: pgpassHost = host ?? "localhost"
            }
            var port = PGConnectionConfiguration.defaultPort
            for case .tcp(let h, let p) in configuration.hosts where h == host { port = p; break }
            if case .unix(let path) = address, let dot = path.range(of: ".s.PGSQL.", options: .backwards) {
                port = Int(path[dot.upperBound...]) ?? port
            }
            password = PGPassFile.password(
                path: configuration.passFile, host: pgpassHost, port: port, database: configuration.database,
                user: configuration.user, logger: logger)
        }
        let first: TLSAttempt
        let retry: TLSAttempt?
        if case .unix = address {
            if configuration.channelBinding == .require {
                var error = PGError(code: .tls, message: "channel_binding=require needs TLS, which is not used over a Unix socket")
                error.tlsFailure = .channelBindingUnavailable
                throw error
            }
            (first, retry) = (.off, nil)
        } else {
            switch configuration.sslMode {
            case .disable: (first, retry) = (.off, nil)
            case .allow: (first, retry) = (.off, .required)
            case .prefer: (first, retry) = (.optional, .off)
            case .require, .verifyCA, .verifyFull: (first, retry) = (.required, nil)
            }
        }
        do {
            return try await connect(
                to: address, host: host, configuration: configuration, password: password, tlsMode: first, loop: loop, logger: logger)
        } catch let failure as StartupFailure {
            // The server rejected the session before asking for credentials (pg_hba.conf has no line for this kind
            // of connection): retry once the other way. A failed authentication is final, so a password is never
            // offered twice, or again without TLS.
            let rejected = failure.error.serverInfo != nil && !failure.authenticationStarted
            guard let retry, rejected, (first == .off) != failure.usedTLS else { throw failure.error }
            logger.debug(
                "the server rejected the session; retrying \(retry == .off ? "without" : "with") TLS, as sslmode=\(configuration.sslMode) allows",
                metadata: ["pg.address": "\(address)", "error": "\(failure.error)"])
            do {
                return try await connect(
                    to: address, host: host, configuration: configuration, password: password, tlsMode: retry, loop: loop, logger: logger)
            } catch let failure as StartupFailure {
                throw failure.error
            }
        }
    }

    /// The TLS context settings libpq would use: verify the chain for verify-ca/verify-full, and for any mode when
    /// a root certificate file is given or `~/.postgresql/root.crt` exists; a client certificate from `sslcert` or
    /// `~/.postgresql/postgresql.crt` when the file exists.
    static func tlsContextConfiguration(_ configuration: PGConnectionConfiguration) throws -> PGTLSContext.Configuration {
        let home = ProcessInfo.processInfo.environment["HOME"].map { $0 + "/.postgresql/" }
        let fm = FileManager.default
        var result = PGTLSContext.Configuration()
        let verifying = configuration.sslMode == .verifyCA || configuration.sslMode == .verifyFull
        if configuration.sslRootCert == "system" {
            result.rootCertificates = .system
            result.verifyPeer = true
        } else if let root = configuration.sslRootCert ?? home.map({ $0 + "root.crt" }), fm.fileExists(atPath: root) {
            result.rootCertificates = .file(root)
            result.verifyPeer = true
        } else if verifying {
            let name = configuration.sslRootCert ?? home.map { $0 + "root.crt" } ?? "~/.postgresql/root.crt"
            var error = PGError(
                code: .tls,
                message: "root certificate file \"\(name)\" does not exist; either provide the file, use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification")
            error.tlsFailure = .certificateFile
            throw error
        }
        if let cert = configuration.sslCert ?? home.map({ $0 + "postgresql.crt" }), fm.fileExists(atPath: cert) {
            let key = configuration.sslKey ?? home.map { $0 + "postgresql.key" } ?? cert
            var st = stat()
            if stat(key, &st) == 0 {
                let ownedByRoot = st.st_uid == 0
                let allowed: mode_t = ownedByRoot ? (S_IRWXU | S_IRGRP) : S_IRWXU
                if st.st_mode & 0o777 & ~allowed != 0 {
                    var error = PGError(
                        code: .tls,
                        message: "private key file \"\(key)\" has group or world access; file must have permissions u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root")
                    error.tlsFailure = .certificateFile
                    throw error
                }
            }
            result.certificateFile = cert
            result.privateKeyFile = key
        }
        return result
    }

    /// SSLRequest (or direct TLS) and the handshake, as `mode` says. Nil: no TLS.
    static func negotiateTLS(
        fd: Int32, host: String?, configuration: PGConnectionConfiguration, mode: TLSAttempt, loop: PGEventLoop, timeout: Duration
    ) async throws -> PGTLSSession? {
        guard mode != .off else { return nil }
        do {
            let context = try PGTLSContext.cached(try tlsContextConfiguration(configuration))
            let session = try await PGTLSSession.establish(
                fd: fd, on: loop, context: context,
                negotiation: configuration.sslNegotiation == .direct ? .direct : .sslRequest,
                serverName: host, verifyHost: configuration.sslMode == .verifyFull ? host : nil, timeout: timeout)
            if session == nil && mode == .required {
                var error = PGError(
                    code: .tls, message: "the server does not support SSL, but sslmode=\(configuration.sslMode) requires it")
                error.tlsFailure = .serverDoesNotSupportTLS
                throw error
            }
            return session
        } catch let error as PGTLSError {
            var mapped = PGError(code: .tls, message: error.message)
            mapped.tlsFailure = PGError.TLSFailure(error.kind.rawValue)
            throw mapped
        } catch PGTransportError.timeout {
            throw PGError(code: .timeout, message: "the TLS handshake timed out after \(configuration.connectTimeout)", isSafeToRetry: true)
        } catch is CancellationError {
            throw PGError(code: .cancelled, message: "connecting was cancelled", isSafeToRetry: true)
        }
    }

    /// The start-up machine with the channel binding `channel_binding` asks for: SCRAM-SHA-256-PLUS with
    /// tls-server-end-point whenever TLS is on (unless `disable`); `require` fails any other path.
    static func makeStartupMachine(
        configuration: PGConnectionConfiguration, password: String?, tls: PGTLSSession?
    ) throws -> PGStartupStateMachine {
        var binding = PGSCRAMChannelBinding.notSupported
        if let tls, configuration.channelBinding != .disable {
            if let hash = tls.serverCertificateHash() {
                binding = .tlsServerEndPoint(certificateHash: hash)
            }
        }
        let require = configuration.channelBinding == .require
        if require {
            guard tls != nil else {
                var error = PGError(code: .tls, message: "channel_binding=require, but the connection is not encrypted (the server does not use TLS)")
                error.tlsFailure = .channelBindingUnavailable
                throw error
            }
            guard case .tlsServerEndPoint = binding else {
                var error = PGError(code: .tls, message: "channel_binding=require, but the server's certificate gives no hash for tls-server-end-point")
                error.tlsFailure = .channelBindingUnavailable
                throw error
            }
        }
        return PGStartupStateMachine(
            user: configuration.user, password: password, channelBinding: binding, requireChannelBinding: require)
    }

    // MARK: I/O through TLS

    func flushTLS(_ tls: PGTLSSession) {
        while outOffset < out.count {
            let offset = outOffset
            let result = out.bytes.withUnsafeBytes { raw in
                tls.write(from: raw.baseAddress! + offset, count: raw.count - offset)
            }
            switch result {
            case .bytes(let n):
                outOffset += n
                if cancelDeferredUnit != 0 { retryDeferredCancel() }
            case .wouldBlock:
                if !writeInterest {
                    writeInterest = true
                    eventLoop.setInterest(fd: fd, read: !readPaused, write: true)
                }
                return
            case .endOfStream, .error:
                var underlying = "write failed"
                if case .error(let e) = result { underlying = tls.lastError ?? PGSocket.errorDescription(e) }
                readable()
                if !fdClosed {
                    closeWithError(PGError(code: .connectionClosed, message: "the connection was closed while writing", underlying: underlying))
                }
                return
            }
        }
        outBase &+= out.count
        out.clear()
        outOffset = 0
        if !drainWaiters.isEmpty { resumeDrainWaiters() }
        if writeInterest {
            writeInterest = false
            eventLoop.setInterest(fd: fd, read: !readPaused, write: false)
        }
    }
}
