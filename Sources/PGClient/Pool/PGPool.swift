import Logging
import Metrics
import PGPoolCore
import PGTransport
import PGWire
import ServiceLifecycle

/// A pool of connection actors: min/max connections, FIFO waiters with an acquire timeout, idle timeout,
/// maximum lifetime with jitter, health checks, replacement of connections that die, leak warnings,
/// graceful shutdown, metrics and session settings applied on connect.
///
/// The pool's logic is `PGPoolStateMachine` (PGPoolCore); this actor runs its actions.
///
/// ```swift
/// let pool = PGPool(configuration: try PGConnectionConfiguration("postgres://app@db/app"),
///                   options: .init(pool: .init(minimumConnections: 2, maximumConnections: 8)))
/// try await pool.start()                                  // or run it as a Service
/// let count = try await pool.queryOne("SELECT count(*) FROM users", as: Int.self)
/// try await pool.withTransaction { tx in try await tx.execute("UPDATE …") }
/// await pool.shutdown()
/// ```
public actor PGPool: Service {
    /// Pool settings beyond the connection's own.
    public struct Options: Sendable {
        /// Sizes, timeouts, lifetimes and health checks (see `PGPoolConfiguration`).
        public var pool: PGPoolConfiguration
        /// Settings applied with `SET` on every new connection (poolers reject them as startup options).
        public var session: SessionSettings
        /// A label for metrics and logs ("writer", "reader", …).
        public var role: String
        /// How long `run()`'s graceful shutdown lets leases finish before closing them.
        public var shutdownGracePeriod: Duration

        public init(pool: PGPoolConfiguration = PGPoolConfiguration(), session: SessionSettings = SessionSettings(),
                    role: String = "primary", shutdownGracePeriod: Duration = .seconds(10)) {
            self.pool = pool
            self.session = session
            self.role = role
            self.shutdownGracePeriod = shutdownGracePeriod
        }
    }

    /// Session settings applied on connect.
    public struct SessionSettings: Sendable, Hashable {
        public var statementTimeout: Duration?
        public var idleInTransactionSessionTimeout: Duration?
        public var applicationName: String?
        /// Schemas, in order; each is quoted.
        public var searchPath: [String]?

        public init(statementTimeout: Duration? = nil, idleInTransactionSessionTimeout: Duration? = nil,
                    applicationName: String? = nil, searchPath: [String]? = nil) {
            self.statementTimeout = statementTimeout
            self.idleInTransactionSessionTimeout = idleInTransactionSessionTimeout
            self.applicationName = applicationName
            self.searchPath = searchPath
        }

        /// The SET statements (one simple query).
        var statements: String? {
            var parts: [String] = []
            func ms(_ d: Duration) -> Int64 { d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000 }
            if let t = statementTimeout { parts.append("SET statement_timeout = \(ms(t))") }
            if let t = idleInTransactionSessionTimeout { parts.append("SET idle_in_transaction_session_timeout = \(ms(t))") }
            if let a = applicationName { parts.append("SET application_name = " + Self.literal(a)) }
            if let path = searchPath, !path.isEmpty {
                parts.append("SET search_path = " + path.map(PGIdentifier.quote).joined(separator: ", "))
            }
            return parts.isEmpty ? nil : parts.joined(separator: "; ")
        }

        /// A standard-conforming string literal ('' doubles quotes; no backslash escapes).
        static func literal(_ s: String) -> String {
            var out = "'"
            for c in s where c != "\0" { out += c == "'" ? "''" : String(c) }
            return out + "'"
        }
    }

    typealias Machine = PGPoolStateMachine<ContinuousClock>

    public nonisolated let configuration: PGConnectionConfiguration
    public nonisolated let options: Options
    let logger: Logger
    var machine: Machine
    var connections: [PGPoolConnectionID: PGConnection] = [:]
    var waiters: [PGPoolRequestID: CheckedContinuation<PGConnection, any Error>] = [:]
    var leaseConnection: [PGPoolRequestID: PGPoolConnectionID] = [:]
    var waitStarted: [PGPoolRequestID: ContinuousClock.Instant] = [:]
    var timers: [PGPoolTimerID: Task<Void, Never>] = [:]
    var nextRequest: UInt64 = 0
    var started = false
    var readyWaiters: [CheckedContinuation<Void, Never>] = []
    var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
    var isShutdownComplete = false
    var lastConnectError: (any Error)?
    var listener: PGListener?
    let metrics: PoolMetrics
    nonisolated let shared = PGSharedConnections()

    /// Creates a pool; no connection is opened until `start()`, `run()` or the first lease.
    public init(configuration: PGConnectionConfiguration, options: Options = Options(),
                logger: Logger = Logger(label: "tusk.pg.pool")) {
        self.configuration = configuration
        self.options = options
        var logger = logger
        logger[metadataKey: "pg.pool.role"] = "\(options.role)"
        logger[metadataKey: "pg.pool.host"] = "\(configuration.hosts.first.map { "\($0)" } ?? "")"
        self.logger = logger
        self.machine = Machine(configuration: options.pool, clock: ContinuousClock())
        self.metrics = PoolMetrics(role: options.role, host: configuration.hosts.first.map { "\($0)" } ?? "")
    }

    // MARK: Lifecycle

    /// Opens the minimum number of connections and returns when they are open (or at once when the
    /// minimum is 0), or when opening one has failed with no connection open (a wrong password, a server
    /// that is down): the pool keeps retrying with backoff in the background, and a lease meanwhile fails
    /// with the reason (`statistics.open` says how many are open).
    public func start() async {
        startIfNeeded()
        if machine.isReady { return }
        await withCheckedContinuation { readyWaiters.append($0) }
    }

    /// Runs the pool as a swift-service-lifecycle `Service`: opens the minimum, serves until graceful
    /// shutdown is requested, then stops handing out connections, lets leases finish for
    /// `options.shutdownGracePeriod` and closes everything.
    public func run() async throws {
        await start()
        try? await gracefulShutdown()
        await shutdown(gracePeriod: options.shutdownGracePeriod)
    }

    /// Stops handing out connections (waiters and new requests fail with `.poolShutDown`), lets leased
    /// connections finish for `gracePeriod`, then closes everything. Returns when all are closed.
    public func shutdown(gracePeriod: Duration = .seconds(10)) async {
        if isShutdownComplete { return }
        if let listener { await listener.shutdown() }
        listener = nil
        started = true
        perform(machine.shutdownRequested(gracePeriod: gracePeriod))
        if isShutdownComplete { return }
        await withCheckedContinuation { shutdownWaiters.append($0) }
    }

    /// Counts: connecting, idle, leased, waiters.
    public var statistics: PGPoolMetrics { machine.metrics }

    /// The event loops the pool's connections live on. A task that prefers one of them as its executor runs
    /// its single statements (`query`, `execute`, `queryOne`) on a connection of that loop, started in place with
    /// no thread hop either way: the cheapest way to drive a pool from many tasks.
    ///
    /// ```swift
    /// let loops = pool.eventLoops
    /// await withTaskGroup(of: Void.self) { group in
    ///     for t in 0..<64 {
    ///         group.addTask(executorPreference: loops[t % loops.count]) {
    ///             _ = try? await pool.queryOne("SELECT \(t) + 1", as: Int.self)
    ///         }
    ///     }
    /// }
    /// ```
    public nonisolated var eventLoops: [PGEventLoop] { PGEventLoopGroup.shared.loops }

    func startIfNeeded() {
        guard !started else { return }
        started = true
        perform(machine.startRequested())
    }

    // MARK: Leasing

    /// Leases a connection for `body`, returning it afterwards (rolled back first if `body` left a
    /// transaction open). Waiters are served first come, first served; a task cancelled while waiting
    /// leaves the queue. Throws `.poolExhausted` after the acquire timeout.
    ///
    /// ```swift
    /// let n = try await pool.withConnection { c in try await c.execute("DELETE FROM sessions WHERE expired") }
    /// ```
    public nonisolated func withConnection<T>(_ body: (PGConnection) async throws -> T) async throws -> T {
        let (connection, request) = try await lease()
        do {
            let result = try await body(connection)
            await release(connection, request: request)
            return result
        } catch {
            await release(connection, request: request)
            throw error
        }
    }

    func lease() async throws -> (PGConnection, PGPoolRequestID) {
        startIfNeeded()
        nextRequest += 1
        let id = PGPoolRequestID(nextRequest)
        waitStarted[id] = .now
        let connection = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<PGConnection, any Error>) in
                waiters[id] = continuation
                perform(machine.leaseRequested(id))
            }
        } onCancel: {
            Task { await self.cancel(id) }
        }
        return (connection, id)
    }

    func release(_ connection: PGConnection, request: PGPoolRequestID) async {
        guard let id = leaseConnection.removeValue(forKey: request) else { return }
        if connection.isClosed {
            connections[id] = nil
            _ = shared.remove(id)
            perform(machine.connectionClosed(id))
            return
        }
        if await connection.transactionStatus != .idle {
            // A lease ended inside a transaction: roll it back so the next holder starts clean.
            let rolledBack = await Task { try? await connection.simpleQuery("ROLLBACK") }.value
            if rolledBack == nil || connection.isClosed {
                connections[id] = nil
                _ = shared.remove(id)
                await connection.close()
                perform(machine.connectionClosed(id))
                return
            }
        }
        _ = shared.setExclusive(id, false)
        perform(machine.connectionReleased(id, request: request))
    }

    func cancel(_ request: PGPoolRequestID) {
        guard let continuation = waiters.removeValue(forKey: request) else { return }
        waitStarted[request] = nil
        perform(machine.requestCancelled(request))
        continuation.resume(throwing: PGError(code: .cancelled, message: "waiting for a pooled connection was cancelled", isSafeToRetry: true))
    }

    // MARK: Running the machine's actions

    func perform(_ actions: [Machine.Action]) {
        for action in actions {
            switch action {
            case .createConnection(let id):
                metrics.connecting()
                Task { await self.createConnection(id) }
            case .leaseConnection(let id, let request):
                guard let continuation = waiters.removeValue(forKey: request), let connection = connections[id] else {
                    // The waiter left (cancelled) between the machine's decision and now: give it back.
                    if waiters[request] == nil { perform(machine.connectionReleased(id, request: request)) }
                    continue
                }
                leaseConnection[request] = id
                if let started = waitStarted.removeValue(forKey: request) { metrics.acquired(after: .now - started) }
                if shared.setExclusive(id, true) {
                    Task { [shared] in
                        await shared.waitForSends(id)
                        continuation.resume(returning: connection)
                    }
                } else {
                    continuation.resume(returning: connection)
                }
            case .failRequest(let request, let error):
                waitStarted[request] = nil
                waiters.removeValue(forKey: request)?.resume(throwing: mapError(error))
            case .pingConnection(let id):
                guard let connection = connections[id] else {
                    perform(machine.pingFailed(id))
                    continue
                }
                Task {
                    let ok = (try? await connection.simpleQuery("SELECT 1")) != nil
                    self.pingFinished(id, ok: ok)
                }
            case .closeConnection(let id):
                _ = shared.remove(id)
                guard let connection = connections.removeValue(forKey: id) else {
                    Task { self.connectionGone(id) }
                    continue
                }
                Task { [shared] in
                    // Shared statements may still be in flight on an "idle" connection: let them finish.
                    await shared.waitForSends(id)
                    await connection.closeAfterPendingRequests()
                    self.connectionGone(id)
                }
            case .forceCloseConnection(let id):
                _ = shared.remove(id)
                guard let connection = connections.removeValue(forKey: id) else {
                    Task { self.connectionGone(id) }
                    continue
                }
                Task {
                    await connection.close()
                    self.connectionGone(id)
                }
            case .scheduleTimer(let timer, let deadline):
                timers[timer]?.cancel()
                timers[timer] = Task {
                    do { try await Task.sleep(until: deadline, tolerance: .milliseconds(5), clock: .continuous) } catch { return }
                    self.timerFired(timer)
                }
            case .cancelTimer(let timer):
                timers.removeValue(forKey: timer)?.cancel()
            case .warnLeak(let id, _, let heldFor):
                logger.warning("a pooled connection has been leased for a long time; was it returned?",
                               metadata: ["pg.pool.connection": "\(id.rawValue)", "pg.pool.held_for": "\(heldFor)"])
            case .poolReady:
                let waiting = readyWaiters
                readyWaiters.removeAll()
                for w in waiting { w.resume() }
                logger.debug("pool ready", metadata: ["pg.pool.open": "\(machine.metrics.open)"])
            case .shutdownComplete:
                isShutdownComplete = true
                for (_, t) in timers { t.cancel() }
                timers.removeAll()
                let waiting = shutdownWaiters + readyWaiters
                shutdownWaiters.removeAll()
                readyWaiters.removeAll()
                for w in waiting { w.resume() }
                logger.debug("pool shut down")
            }
        }
        metrics.update(machine.metrics)
    }

    func mapError(_ error: PGPoolError) -> PGError {
        let m = machine.metrics
        switch error.code {
        case .acquireTimedOut, .poolExhausted:
            return PGError(code: .poolExhausted,
                           message: "no pooled connection became available: \(m.leased) of at most \(options.pool.maximumConnections) connections are leased and \(m.waiters) requests are waiting (\(error.code))",
                           isSafeToRetry: true)
        case .poolShutDown:
            return PGError(code: .poolShutDown, message: "the pool is shut down", isSafeToRetry: true)
        default:
            var e = PGError(code: .connectionFailed, message: "the pool could not open a connection", isSafeToRetry: true)
            if let pg = lastConnectError as? PGError {
                e.message += ": " + pg.description
                e.serverInfo = pg.serverInfo
                if pg.code == .authenticationFailed { e.code = .authenticationFailed }
            } else if let other = lastConnectError {
                e.underlying = "\(other)"
            }
            return e
        }
    }

    func createConnection(_ id: PGPoolConnectionID) async {
        do {
            let connection = try await PGConnection.connect(configuration, logger: logger)
            if let settings = options.session.statements {
                do {
                    try await connection.simpleQuery(settings)
                } catch {
                    await connection.close()
                    throw error
                }
            }
            connections[id] = connection
            shared.add(id, connection)
            metrics.connected()
            perform(machine.connectionCreated(id))
            Task { [weak connection] in
                await connection?.waitUntilClosed()
                self.connectionDied(id, connection)
            }
        } catch {
            lastConnectError = error
            metrics.connectFailed()
            logger.warning("could not open a pooled connection", metadata: ["error": "\(error)"])
            perform(machine.connectionCreationFailed(id))
            if machine.metrics.open == 0, !readyWaiters.isEmpty {
                // start() does not wait for a server that refuses: the retries go on in the background.
                let waiting = readyWaiters
                readyWaiters.removeAll()
                for w in waiting { w.resume() }
            }
        }
    }

    /// A connection closed by itself (killed backend, server restart, network): tell the machine, unless it
    /// is leased — then its holder's release reports it.
    func connectionDied(_ id: PGPoolConnectionID, _ connection: PGConnection?) {
        guard let current = connections[id], current === connection else { return }
        if leaseConnection.values.contains(id) { return }
        connections[id] = nil
        _ = shared.remove(id)
        logger.debug("a pooled connection closed", metadata: ["pg.pool.connection": "\(id.rawValue)"])
        perform(machine.connectionClosed(id))
    }

    func connectionGone(_ id: PGPoolConnectionID) {
        connections[id] = nil
        _ = shared.remove(id)
        perform(machine.connectionClosed(id))
    }

    func pingFinished(_ id: PGPoolConnectionID, ok: Bool) {
        perform(ok ? machine.pingSucceeded(id) : machine.pingFailed(id))
    }

    func timerFired(_ timer: PGPoolTimerID) {
        timers[timer] = nil
        perform(machine.timerFired(timer))
    }

    // MARK: Notifications

    /// Notifications on `channel`, served by one dedicated listening connection for the whole pool, which
    /// reconnects with backoff and tells subscribers `.reconnected` (see `PGListener`).
    ///
    /// ```swift
    /// for await event in try await pool.notifications(on: "jobs") { … }
    /// ```
    public func notifications(on channel: String) async throws -> AsyncStream<PGListenerEvent> {
        if listener == nil { listener = PGListener(configuration: configuration, logger: logger) }
        guard let listener else { throw PGError(code: .poolShutDown, message: "the pool is shut down") }
        return try await listener.notifications(on: channel)
    }
}

/// The pool's swift-metrics instruments, labelled with host and role.
struct PoolMetrics: Sendable {
    let open: Gauge
    let idle: Gauge
    let leased: Gauge
    let waiters: Gauge
    let acquireTime: Metrics.Timer
    let connectionErrors: Counter
    let connectionsOpened: Counter

    init(role: String, host: String) {
        let dims = [("role", role), ("host", host)]
        open = Gauge(label: "pg_pool_connections_open", dimensions: dims)
        idle = Gauge(label: "pg_pool_connections_idle", dimensions: dims)
        leased = Gauge(label: "pg_pool_connections_leased", dimensions: dims)
        waiters = Gauge(label: "pg_pool_waiters", dimensions: dims)
        acquireTime = Metrics.Timer(label: "pg_pool_acquire_duration", dimensions: dims)
        connectionErrors = Counter(label: "pg_pool_connection_errors", dimensions: dims)
        connectionsOpened = Counter(label: "pg_pool_connections_opened", dimensions: dims)
    }

    func update(_ m: PGPoolMetrics) {
        open.record(m.open)
        idle.record(m.idle)
        leased.record(m.leased)
        waiters.record(m.waiters)
    }

    func connecting() {}
    func connected() { connectionsOpened.increment() }
    func connectFailed() { connectionErrors.increment() }
    func acquired(after d: Duration) {
        acquireTime.recordNanoseconds(d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000)
    }
}
