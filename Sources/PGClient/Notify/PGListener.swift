import Logging
import PGWire

/// What a `PGListener` subscriber receives.
public enum PGListenerEvent: Sendable, Hashable {
    /// A notification on the subscribed channel.
    case notification(PGNotification)
    /// The listening connection was lost and is back, LISTENing again: notifications sent while it was down
    /// were missed, so resynchronise (re-read the state the notifications describe).
    case reconnected
}

/// One dedicated listening connection shared by every subscriber: one LISTEN per channel, UNLISTEN when the
/// last subscriber of a channel stops, and when the connection drops it reconnects with exponential backoff
/// and jitter, LISTENs again on every channel and tells each subscriber `.reconnected`.
///
/// ```swift
/// let listener = PGListener(configuration: config)
/// for await event in try await listener.notifications(on: "jobs") {
///     switch event {
///     case .notification(let n): print(n.payload)
///     case .reconnected: await resync()
///     }
/// }
/// ```
public actor PGListener {
    let configuration: PGConnectionConfiguration
    let logger: Logger
    let initialBackoff: Duration
    let maximumBackoff: Duration

    var connection: PGConnection?
    var connecting: Task<PGConnection, any Error>?
    var subscribers: [String: [UInt64: AsyncStream<PGListenerEvent>.Continuation]] = [:]
    var forwarders: [String: Task<Void, Never>] = [:]
    var nextID: UInt64 = 0
    var generation = 0
    var isShutDown = false
    var reconnectTask: Task<Void, Never>?

    /// Creates a listener; it connects on the first subscription.
    public init(configuration: PGConnectionConfiguration, logger: Logger = Logger(label: "tusk.pg.listener"),
                initialBackoff: Duration = .milliseconds(100), maximumBackoff: Duration = .seconds(10)) {
        self.configuration = configuration
        self.logger = logger
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
    }

    /// Subscribes to `channel`. The first call connects (and throws if that fails); later drops are healed in
    /// the background. The stream ends when the subscriber stops iterating or the listener shuts down.
    public func notifications(on channel: String) async throws -> AsyncStream<PGListenerEvent> {
        try PGIdentifier.validate(channel, what: "channel name")
        guard !isShutDown else { throw PGError(code: .misuse, message: "the listener has shut down") }
        let conn = try await currentConnection()
        let (stream, continuation) = AsyncStream<PGListenerEvent>.makeStream()
        nextID += 1
        let id = nextID
        let isFirst = subscribers[channel]?.isEmpty ?? true
        subscribers[channel, default: [:]][id] = continuation
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            Task { await self.unsubscribe(channel: channel, id: id) }
        }
        if isFirst {
            do {
                try await startForwarding(channel, on: conn)
            } catch {
                subscribers[channel]?[id] = nil
                if subscribers[channel]?.isEmpty == true { subscribers[channel] = nil }
                continuation.finish()
                throw error
            }
        }
        return stream
    }

    /// The process id of the listening backend (nil while disconnected), e.g. to test reconnection.
    public var backendProcessID: Int32? {
        get async {
            guard let connection, !connection.isClosed else { return nil }
            return await connection.backendProcessID
        }
    }

    /// Stops listening, ends every subscriber's stream and closes the connection.
    public func shutdown() async {
        isShutDown = true
        reconnectTask?.cancel()
        for (_, task) in forwarders { task.cancel() }
        forwarders.removeAll()
        for (_, subs) in subscribers { for (_, c) in subs { c.finish() } }
        subscribers.removeAll()
        if let connection { await connection.close() }
        connection = nil
    }

    // MARK: Internals

    func currentConnection() async throws -> PGConnection {
        if let connection, !connection.isClosed { return connection }
        if let connecting { return try await connecting.value }
        let config = configuration
        let logger = logger
        let task = Task { try await PGConnection.connect(config, logger: logger) }
        connecting = task
        defer { connecting = nil }
        let conn = try await task.value
        connection = conn
        return conn
    }

    func startForwarding(_ channel: String, on conn: PGConnection) async throws {
        let events = try await conn.listen(channel)
        let gen = generation
        forwarders[channel]?.cancel()
        forwarders[channel] = Task { [weak self] in
            do {
                for try await n in events {
                    await self?.deliver(n)
                }
            } catch {
                await self?.connectionLost(generation: gen, error: error)
            }
        }
    }

    func deliver(_ notification: PGNotification) {
        guard let subs = subscribers[notification.channel] else { return }
        for (_, c) in subs { c.yield(.notification(notification)) }
    }

    func unsubscribe(channel: String, id: UInt64) {
        guard subscribers[channel]?.removeValue(forKey: id) != nil, subscribers[channel]?.isEmpty == true else { return }
        subscribers[channel] = nil
        // Cancelling the forwarder drops its iterator, which makes the connection UNLISTEN.
        forwarders.removeValue(forKey: channel)?.cancel()
    }

    func connectionLost(generation gen: Int, error: any Error) {
        guard !isShutDown, gen == generation, reconnectTask == nil else { return }
        generation += 1
        connection = nil
        logger.warning("listening connection lost; reconnecting", metadata: ["error": "\(error)"])
        reconnectTask = Task { [weak self] in await self?.reconnectLoop() }
    }

    func reconnectLoop() async {
        var delay = initialBackoff
        var attempt = 0
        while !isShutDown, !Task.isCancelled {
            attempt += 1
            do {
                let conn = try await PGConnection.connect(configuration, logger: logger)
                connection = conn
                for channel in subscribers.keys.sorted() {
                    try await startForwarding(channel, on: conn)
                }
                logger.info("listening connection restored", metadata: ["attempts": "\(attempt)"])
                reconnectTask = nil
                for (_, subs) in subscribers { for (_, c) in subs { c.yield(.reconnected) } }
                return
            } catch {
                if let connection { await connection.close() }
                connection = nil
                let jittered = delay * Double.random(in: 0.5...1.0)
                logger.debug("reconnect failed", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                try? await Task.sleep(for: jittered)
                delay = min(delay * 2, maximumBackoff)
            }
        }
        reconnectTask = nil
    }
}
