import Logging
import PGPoolCore
import PGWire
import ServiceLifecycle

/// One writer and any number of readers, each a `PGPool`: writes go to the writer, reads to a healthy reader
/// (random, round-robin or least busy), falling back to the writer when no reader is healthy. Readers are
/// health-checked in the background; a failing one is taken out and retried with exponential backoff and
/// jitter, and one lagging beyond `maximumReplicationLag` is skipped. Read-your-writes: after a write, take
/// `writePosition()` and read with `atLeast:` to get a reader that has replayed that far.
///
/// ```swift
/// let cluster = try PGCluster(writer: "postgres://app@primary/app", readers: ["postgres://app@replica1/app"])
/// try await cluster.start()
/// try await cluster.write { c in try await c.execute("INSERT INTO t VALUES (\(1))") }
/// let token = try await cluster.writePosition()
/// let n = try await cluster.read(atLeast: token) { c in try await c.queryOne("SELECT count(*) FROM t", as: Int.self) }
/// ```
public actor PGCluster: Service {
    /// How a reader is chosen among the healthy ones.
    public enum Routing: Sendable, Hashable {
        case random
        case roundRobin
        case leastBusy
    }

    /// Cluster settings.
    public struct Options: Sendable {
        public var routing: Routing
        /// Read on the writer when no reader is healthy (otherwise throw).
        public var fallBackToWriter: Bool
        /// How often readers are checked.
        public var healthCheckInterval: Duration
        /// Backoff for a failing reader: first delay and cap (jittered).
        public var unhealthyBackoffInitial: Duration
        public var unhealthyBackoffMaximum: Duration
        /// Readers whose replay lags the writer by more than this are skipped (nil: no bound).
        public var maximumReplicationLag: Duration?
        /// How long `read(atLeast:)` waits for a reader to catch up before reading on the writer.
        public var readYourWritesTimeout: Duration
        /// Options of the writer's and the readers' pools (role labels are set by the cluster).
        public var writerPool: PGPool.Options
        public var readerPool: PGPool.Options
        /// How many times a read whose connection failed before anything reached the server is retried elsewhere.
        public var readRetries: Int

        public init(routing: Routing = .roundRobin, fallBackToWriter: Bool = true, healthCheckInterval: Duration = .seconds(1),
                    unhealthyBackoffInitial: Duration = .milliseconds(200), unhealthyBackoffMaximum: Duration = .seconds(30),
                    maximumReplicationLag: Duration? = nil, readYourWritesTimeout: Duration = .seconds(1),
                    writerPool: PGPool.Options = .init(), readerPool: PGPool.Options = .init(), readRetries: Int = 2) {
            self.routing = routing
            self.fallBackToWriter = fallBackToWriter
            self.healthCheckInterval = healthCheckInterval
            self.unhealthyBackoffInitial = unhealthyBackoffInitial
            self.unhealthyBackoffMaximum = unhealthyBackoffMaximum
            self.maximumReplicationLag = maximumReplicationLag
            self.readYourWritesTimeout = readYourWritesTimeout
            self.writerPool = writerPool
            self.readerPool = readerPool
            self.readRetries = readRetries
        }
    }

    /// What the cluster knows of a reader.
    public struct ReaderState: Sendable {
        public var healthy: Bool
        public var replayPosition: PGLSN?
        public var lag: Duration?
        public var consecutiveFailures: Int
        public var nextCheck: ContinuousClock.Instant
        public var lastError: String?
    }

    /// The writer's pool.
    public nonisolated let writer: PGPool
    /// The readers' pools, in the order given.
    public nonisolated let readers: [PGPool]
    public nonisolated let options: Options
    var states: [ReaderState]
    var roundRobin = 0
    var monitor: Task<Void, Never>?
    let logger: Logger

    /// A cluster from separate configurations.
    public init(writer: PGConnectionConfiguration, readers: [PGConnectionConfiguration], options: Options = Options(),
                logger: Logger = Logger(label: "tusk.pg.cluster")) {
        var writerOptions = options.writerPool
        writerOptions.role = "writer"
        var readerOptions = options.readerPool
        readerOptions.role = "reader"
        self.writer = PGPool(configuration: writer, options: writerOptions, logger: logger)
        self.readers = readers.map { PGPool(configuration: $0, options: readerOptions, logger: logger) }
        self.options = options
        self.logger = logger
        // Readers start unhealthy until their first check passes.
        self.states = readers.map { _ in ReaderState(healthy: false, consecutiveFailures: 0, nextCheck: .now) }
        self.busy = readers.map { _ in 0 }
    }

    /// A cluster from URLs or keyword/value strings.
    public init(writer: String, readers: [String], options: Options = Options()) throws {
        self.init(writer: try PGConnectionConfiguration(writer), readers: try readers.map { try PGConnectionConfiguration($0) }, options: options)
    }

    /// A cluster from one libpq multi-host string (`host=a,b,c port=…`): each host is probed once; the one
    /// that is not in recovery is the writer, the others are readers. Throws when no host is a primary.
    ///
    /// ```swift
    /// let cluster = try await PGCluster.discover("host=db1,db2,db3 dbname=app user=app")
    /// ```
    public static func discover(_ multiHost: String, options: Options = Options()) async throws -> PGCluster {
        let config = try PGConnectionConfiguration(multiHost)
        var primary: PGConnectionConfiguration?
        var standbys: [PGConnectionConfiguration] = []
        var lastError: (any Error)?
        for endpoint in config.hosts {
            var single = config
            single.hosts = [endpoint]
            single.targetSessionAttributes = .any
            do {
                let c = try await PGConnection.connect(single)
                let inRecovery = try await c.queryOne("SELECT pg_is_in_recovery()", as: Bool.self)
                await c.close()
                if inRecovery { standbys.append(single) } else if primary == nil { primary = single } else { standbys.append(single) }
            } catch {
                lastError = error
            }
        }
        guard let primary else {
            throw PGError(code: .connectionFailed, message: "no host of the list is a primary (read-write) server",
                          isSafeToRetry: true, underlying: lastError.map { "\($0)" })
        }
        return PGCluster(writer: primary, readers: standbys, options: options)
    }

    // MARK: Lifecycle

    /// Starts the pools and the reader health checks; returns when the writer's minimum is open and every
    /// reader has been checked once.
    public func start() async {
        await writer.start()
        await checkReaders(force: true)
        if monitor == nil {
            monitor = Task { [weak self] in
                while !Task.isCancelled {
                    guard let self else { return }
                    try? await Task.sleep(for: self.options.healthCheckInterval)
                    await self.checkReaders(force: false)
                }
            }
        }
    }

    /// Runs as a swift-service-lifecycle `Service`: starts, serves until graceful shutdown, shuts down.
    public func run() async throws {
        await start()
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Stops health checks and shuts every pool down.
    public func shutdown() async {
        monitor?.cancel()
        monitor = nil
        await writer.shutdown(gracePeriod: options.writerPool.shutdownGracePeriod)
        for r in readers { await r.shutdown(gracePeriod: options.readerPool.shutdownGracePeriod) }
    }

    /// The readers' states, in order.
    public var readerStates: [ReaderState] { states }

    // MARK: Routing

    /// Runs `body` on the writer.
    public nonisolated func write<T>(_ body: (PGConnection) async throws -> T) async throws -> T {
        try await writer.withConnection(body)
    }

    /// Runs `body` on a reader (or the writer when none is healthy and fallback is on). A connection failure
    /// before anything reached the server is retried on another pool with backoff.
    public nonisolated func read<T>(_ body: (PGConnection) async throws -> T) async throws -> T {
        var attempt = 0
        var delay = options.unhealthyBackoffInitial
        while true {
            let (pool, index) = try await pickReader(minimum: nil)
            let outcome: Result<T, any Error>
            do { outcome = .success(try await pool.withConnection(body)) } catch { outcome = .failure(error) }
            await readFinished(index)
            switch outcome {
            case .success(let value):
                return value
            case .failure(let error as PGError) where Self.isRetryable(error) && attempt < options.readRetries:
                attempt += 1
                if let index { await markFailed(index, error: error) }
                try await Task.sleep(for: delay * Double.random(in: 0.5...1.0))
                delay = min(delay * 2, options.unhealthyBackoffMaximum)
            case .failure(let error):
                throw error
            }
        }
    }

    /// Nothing reached the server: the same read may run elsewhere.
    static func isRetryable(_ error: PGError) -> Bool {
        error.isSafeToRetry && (error.code == .connectionFailed || error.code == .poolExhausted || error.code == .connectionClosed)
    }

    /// The writer's current WAL position: a token for `read(atLeast:)`.
    public nonisolated func writePosition() async throws -> PGLSN {
        // The insert position covers every commit made so far, even one whose WAL is not yet written out.
        try await writer.queryOne("SELECT pg_current_wal_insert_lsn()", as: PGLSN.self)
    }

    /// Read-your-writes: runs `body` on a reader that has replayed at least `position`, waiting up to
    /// `options.readYourWritesTimeout` for one to catch up, then on the writer.
    public nonisolated func read<T>(atLeast position: PGLSN, _ body: (PGConnection) async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + options.readYourWritesTimeout
        while true {
            if let (pool, _) = try await caughtUpReader(position) {
                return try await pool.withConnection(body)
            }
            if ContinuousClock.now >= deadline { return try await writer.withConnection(body) }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    // MARK: Internals

    func pickReader(minimum: PGLSN?) throws -> (PGPool, Int?) {
        let candidates = states.indices.filter { isUsable($0) }
        guard !candidates.isEmpty else {
            if options.fallBackToWriter || readers.isEmpty { return (writer, nil) }
            throw PGError(code: .connectionFailed, message: "no healthy reader (and fallback to the writer is off)", isSafeToRetry: true)
        }
        let chosen: Int
        switch options.routing {
        case .random:
            chosen = candidates.randomElement() ?? candidates[0]
        case .roundRobin:
            roundRobin &+= 1
            chosen = candidates[roundRobin % candidates.count]
        case .leastBusy:
            chosen = candidates.min { busy[$0] < busy[$1] } ?? candidates[0]
        }
        busy[chosen] += 1
        return (readers[chosen], chosen)
    }

    /// Reads in flight per reader (for least-busy routing).
    var busy: [Int] = []

    func readFinished(_ index: Int?) {
        if let index, busy.indices.contains(index) { busy[index] -= 1 }
    }

    func isUsable(_ i: Int) -> Bool {
        let s = states[i]
        guard s.healthy else { return false }
        if let bound = options.maximumReplicationLag, let lag = s.lag, lag > bound { return false }
        return true
    }

    /// A healthy reader whose replay position is at least `position`, asking the readers afresh.
    func caughtUpReader(_ position: PGLSN) async throws -> (PGPool, Int)? {
        for i in states.indices where states[i].healthy {
            if let known = states[i].replayPosition, known >= position { return (readers[i], i) }
        }
        for i in states.indices where states[i].healthy {
            let answer = try? await readers[i].queryOne("SELECT pg_last_wal_replay_lsn()", as: PGLSN?.self, timeout: .seconds(1))
            if let answer, let replayed = answer {
                states[i].replayPosition = replayed
                if replayed >= position { return (readers[i], i) }
            }
        }
        return nil
    }

    func markFailed(_ i: Int, error: any Error) {
        states[i].healthy = false
        states[i].consecutiveFailures += 1
        states[i].lastError = "\(error)"
        let exponent = min(states[i].consecutiveFailures - 1, 16)
        var delay = options.unhealthyBackoffInitial * (1 << exponent)
        if delay > options.unhealthyBackoffMaximum { delay = options.unhealthyBackoffMaximum }
        states[i].nextCheck = .now + delay * Double.random(in: 0.5...1.0)
        logger.warning("reader taken out", metadata: ["pg.reader": "\(i)", "error": "\(error)", "pg.retry_in": "\(delay)"])
    }

    func checkReaders(force: Bool) async {
        await withTaskGroup(of: (Int, Result<(Bool, PGLSN?, Double?), any Error>).self) { group in
            for i in readers.indices where force || states[i].nextCheck <= .now {
                let pool = readers[i]
                group.addTask {
                    do {
                        let row = try await pool.queryOne(
                            """
                            SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn(),
                                   CASE WHEN pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                                        ELSE extract(epoch FROM now() - coalesce(pg_last_xact_replay_timestamp(), pg_postmaster_start_time())) END::float8
                            """,
                            as: (Bool, PGLSN?, Double?).self, timeout: .seconds(2))
                        return (i, .success(row))
                    } catch {
                        return (i, .failure(error))
                    }
                }
            }
            for await (i, result) in group {
                switch result {
                case .success(let (inRecovery, lsn, lagSeconds)):
                    let wasHealthy = states[i].healthy
                    states[i].healthy = true
                    states[i].consecutiveFailures = 0
                    states[i].replayPosition = lsn
                    // 0 when everything received is replayed; otherwise the age of the last replayed commit.
                    states[i].lag = lagSeconds.map { .milliseconds(Int64(max(0, $0) * 1000)) }
                    states[i].nextCheck = .now + options.healthCheckInterval
                    states[i].lastError = nil
                    if !inRecovery {
                        logger.warning("a reader is not in recovery (promoted?); it still serves reads", metadata: ["pg.reader": "\(i)"])
                    }
                    if !wasHealthy { logger.info("reader healthy", metadata: ["pg.reader": "\(i)"]) }
                case .failure(let error):
                    markFailed(i, error: error)
                }
            }
        }
    }
}
