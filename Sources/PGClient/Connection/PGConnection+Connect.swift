import Logging
import PGCrypto
import PGTransport
import PGWire
import Synchronization

extension PGConnection {
    // MARK: Connecting

    /// Opens a connection: tries each host (and each address a name resolves to) in order, authenticates,
    /// and waits until the server is ready. `connectTimeout` bounds the whole attempt per host.
    ///
    /// TLS follows libpq's `sslmode` (default `prefer`: TLS when the server offers it; see
    /// `PGConnectionConfiguration.SSLMode`); over TLS, SCRAM binds the channel (SCRAM-SHA-256-PLUS) unless
    /// `channel_binding=disable`. Without a password, the password file (`~/.pgpass`, `PGPASSFILE`) is consulted.
    ///
    /// ```swift
    /// let config = try PGConnectionConfiguration(
    ///     "postgres://app@db.internal/orders?sslmode=verify-full&sslrootcert=/etc/ssl/pg-root.crt")
    /// let connection = try await PGConnection.connect(config)
    /// connection.isEncrypted  // true
    /// ```
    public static func connect(
        _ configuration: PGConnectionConfiguration,
        logger: Logger = Logger(label: "tusk.pg"),
        eventLoop: PGEventLoop? = nil
    ) async throws -> PGConnection {
        try checkTLSConfiguration(configuration)
        let loop: PGEventLoop
        do {
            loop = try eventLoop ?? PGEventLoopGroup.shared.next()
        } catch {
            throw PGError(code: .connectionFailed, message: "could not start an I/O event loop", isSafeToRetry: true, underlying: "\(error)")
        }
        var lastError: PGError?
        var endpoints = configuration.hosts
        if configuration.loadBalanceHosts == .random { endpoints.shuffle() }
        // prefer-standby: a first pass wants a standby; a second pass takes any server.
        let passes: [PGConnectionConfiguration.TargetSessionAttributes] =
            configuration.targetSessionAttributes == .preferStandby ? [.standby, .any] : [configuration.targetSessionAttributes]
        for wanted in passes {
            for endpoint in endpoints {
                var addresses: [PGSocketAddress]
                var hostName: String?
                switch endpoint {
                case .unixSocket(let path):
                    addresses = [.unix(path: path)]
                case .tcp(let host, let port):
                    hostName = host
                    do {
                        addresses = try PGSocket.resolve(host: host, port: port)
                    } catch {
                        lastError = PGError(code: .connectionFailed, message: "could not resolve \(host)", isSafeToRetry: true, underlying: "\(error)")
                        continue
                    }
                }
                if configuration.loadBalanceHosts == .random { addresses.shuffle() }
                for address in addresses {
                    do {
                        let connection = try await connectNegotiatingTLS(to: address, host: hostName, configuration: configuration, loop: loop, logger: logger)
                        if let mismatch = await connection.sessionMismatch(wanted) {
                            await connection.close()
                            lastError = PGError(code: .connectionFailed, message: "\(address) \(mismatch) (target_session_attrs=\(wanted))", isSafeToRetry: true)
                            continue
                        }
                        return connection
                    } catch let error as PGError {
                        lastError = error
                        // Authentication and server errors are final; only transport failures move on.
                        if error.code != .connectionFailed && error.code != .timeout { throw error }
                        logger.debug("connection attempt failed", metadata: ["pg.address": "\(address)", "error": "\(error)"])
                    }
                }
            }
        }
        throw lastError ?? PGError(code: .invalidConfiguration, message: "no host to connect to")
    }

    static func connect(
        to address: PGSocketAddress, host: String?, configuration: PGConnectionConfiguration, password: String?,
        tlsMode: TLSAttempt, loop: PGEventLoop, logger: Logger
    ) async throws -> PGConnection {
        let started = ContinuousClock.now
        let fd: Int32
        do {
            fd = try await PGSocket.connect(to: address, on: loop, timeout: configuration.connectTimeout)
        } catch is CancellationError {
            throw PGError(code: .cancelled, message: "connecting to \(address) was cancelled", isSafeToRetry: true)
        } catch PGTransportError.timeout {
            throw PGError(code: .timeout, message: "connecting to \(address) timed out after \(configuration.connectTimeout)", isSafeToRetry: true)
        } catch {
            throw PGError(code: .connectionFailed, message: "could not connect to \(address)", isSafeToRetry: true, underlying: "\(error)")
        }
        if case .inet = address {
            do {
                if let keepalive = configuration.tcpKeepalive {
                    try PGSocket.setKeepalive(fd, idle: keepalive.idle, interval: keepalive.interval, count: keepalive.count)
                }
                if let timeout = configuration.tcpUserTimeout { try PGSocket.setUserTimeout(fd, timeout) }
            } catch {
                PGSocket.close(fd)
                throw PGError(code: .connectionFailed, message: "could not set the TCP options on the socket to \(address)",
                              underlying: "\(error)")
            }
        }
        let tls: PGTLSSession?
        let startupMachine: PGStartupStateMachine
        do {
            tls = try await negotiateTLS(
                fd: fd, host: host, configuration: configuration, mode: tlsMode, loop: loop,
                timeout: configuration.connectTimeout - (ContinuousClock.now - started))
            startupMachine = try makeStartupMachine(configuration: configuration, password: password, tls: tls)
        } catch {
            PGSocket.close(fd)
            throw error
        }
        let connection = PGConnection(
            fd: fd, address: address, host: host, loop: loop, configuration: configuration, logger: logger, tls: tls,
            startup: startupMachine)
        let remaining = configuration.connectTimeout - (ContinuousClock.now - started)
        do {
            try await connection.startup(timeout: remaining)
        } catch let error as PGError {
            throw StartupFailure(error: error, usedTLS: tls != nil, authenticationStarted: await connection.authenticationMethod != nil)
        }
        return connection
    }

    func startup(timeout: Duration) async throws {
        do {
            try eventLoop.register(fd: fd, handler: self)
        } catch {
            PGSocket.close(fd)
            fdClosed = true
            closedFlag.store(true, ordering: .releasing)
            throw PGError(code: .connectionFailed, message: "could not register the socket", isSafeToRetry: true, underlying: "\(error)")
        }
        var params: [(String, String)] = [("user", configuration.user), ("database", configuration.database)]
        if let app = configuration.applicationName { params.append(("application_name", app)) }
        if let options = configuration.options { params.append(("options", options)) }
        params.append(("client_encoding", "UTF8"))
        // "ISO, MDY", the form the server reports back: a pooler (PgBouncer) that compares the two strings would
        // otherwise send `SET DateStyle` before every transaction (measured: twice the server CPU per query).
        params.append(("DateStyle", "ISO, MDY"))
        for (k, v) in configuration.extraStartupParameters.sorted(by: { $0.key < $1.key }) { params.append((k, v)) }
        PGFrontendEncoder.startup(parameters: params, into: &out)
        eventLoop.scheduleFlush(self)
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Void, any Error>) in
                if case .closed(let error) = phase {
                    cont.resume(throwing: error)
                    return
                }
                startupContinuation = cont
                startupTimer = eventLoop.scheduleTimer(after: timeout) { [self] in
                    onLoop((), LoopCall { c, _ in
                        c.startupTimer = nil
                        c.closeWithError(PGError(code: .timeout, message: "connection start-up timed out after \(c.configuration.connectTimeout)", isSafeToRetry: true))
                    })
                }
            }
        } onCancel: {
            eventLoop.execute { [self] in
                onLoop((), LoopCall { c, _ in c.closeWithError(PGError(code: .cancelled, message: "connecting was cancelled", isSafeToRetry: true)) })
            }
        }
        if let statementTimeout = configuration.statementTimeout {
            let ms = statementTimeout.components.seconds * 1000 + statementTimeout.components.attoseconds / 1_000_000_000_000_000
            _ = try await simpleQuery("SET statement_timeout = \(ms)")
        }
        if configuration.preparedStatements == .auto && !useUnnamedStatements {
            try await detectPooler()
        }
    }

    /// Asks which backend answers. Through a connection pooler it is not the one BackendKeyData named (the
    /// pooler makes up its own key for its clients), and a transaction-mode pooler may hand each transaction to
    /// another server session, where this connection's named statements do not exist: run unnamed ones.
    /// One round trip at connect.
    func detectPooler() async throws {
        let results = try await simpleQuery("SELECT pg_backend_pid()")
        let answered = results.first?.rows.first.flatMap { try? $0.decode(Int32.self, column: 0) }
        let pooled = answered != backendProcessID
        isBehindPooler = pooled
        if pooled {
            switchToUnnamedStatements(
                because: "a connection pooler answers for the server (backend \(answered.map(String.init) ?? "?") is not "
                    + "\(backendProcessID) of BackendKeyData); set prepared_statements=named if it keeps prepared statements",
                level: .debug)
        }
    }

    /// Why this session does not have the wanted attributes (nil when it does). PostgreSQL 14+ reports
    /// `in_hot_standby` and `default_transaction_read_only` at startup; older servers are asked.
    func sessionMismatch(_ wanted: PGConnectionConfiguration.TargetSessionAttributes) async -> String? {
        if wanted == .any || wanted == .preferStandby { return nil }
        func flag(_ parameter: String, _ query: PGQuery) async -> Bool? {
            if let v = serverParameters[parameter] { return v == "on" }
            guard let rows = try? await self.query(query).collect(), let row = rows.first,
                  let value = try? row.decode(String.self, column: 0) else { return nil }
            return value == "on" || value == "t" || value == "true"
        }
        switch wanted {
        case .readWrite, .readOnly:
            let standby = await flag("in_hot_standby", "SELECT CASE WHEN pg_is_in_recovery() THEN 'on' ELSE 'off' END")
            let readOnlyDefault = await flag("default_transaction_read_only", "SHOW default_transaction_read_only")
            let readOnly = (standby ?? false) || (readOnlyDefault ?? false)
            if wanted == .readWrite && readOnly { return "is read-only" }
            if wanted == .readOnly && !readOnly { return "is not read-only" }
            return nil
        case .primary, .standby:
            let standby = await flag("in_hot_standby", "SELECT CASE WHEN pg_is_in_recovery() THEN 'on' ELSE 'off' END") ?? false
            if wanted == .primary && standby { return "is a standby" }
            if wanted == .standby && !standby { return "is not a standby" }
            return nil
        case .any, .preferStandby:
            return nil
        }
    }
}
