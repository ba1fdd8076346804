import Logging
import PGWire

/// A notification sent with NOTIFY (or `pg_notify`).
public struct PGNotification: Sendable, Hashable {
    /// The channel it was sent on.
    public var channel: String
    /// The payload ("" when none was given).
    public var payload: String
    /// The process id of the sending backend.
    public var processID: Int32

    public init(channel: String, payload: String, processID: Int32) {
        self.channel = channel
        self.payload = payload
        self.processID = processID
    }
}

/// The notifications of one LISTEN subscription, as they arrive. Ends with an error when the connection closes.
public typealias PGNotificationSequence = AsyncThrowingStream<PGNotification, any Error>

extension PGConnection {
    /// The largest payload PostgreSQL accepts (bytes, exclusive).
    public static let maximumNotificationPayload = 8000

    /// Subscribes to a channel: sends `LISTEN "channel"` for the first subscriber and `UNLISTEN` when the
    /// last one stops iterating. Notifications are buffered until consumed. The sequence ends with
    /// `.connectionClosed` when the connection closes; `PGListener` reconnects for you.
    ///
    /// ```swift
    /// let events = try await connection.listen("jobs")
    /// for try await n in events { print(n.channel, n.payload) }
    /// ```
    public func listen(_ channel: String) async throws -> PGNotificationSequence {
        try PGIdentifier.validate(channel, what: "channel name")
        try ensureOpen()
        let (stream, continuation) = PGNotificationSequence.makeStream()
        let first = listeners[channel]?.isEmpty ?? true
        nextListenerID += 1
        let id = nextListenerID
        listeners[channel, default: [:]][id] = continuation
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            Task { await self.unsubscribe(channel: channel, id: id) }
        }
        if first {
            do {
                try await simpleQuery("LISTEN \(PGIdentifier.quote(channel))")
            } catch {
                listeners[channel]?[id] = nil
                if listeners[channel]?.isEmpty == true { listeners[channel] = nil }
                continuation.finish(throwing: error)
                throw error
            }
        }
        return stream
    }

    /// Sends a notification (`pg_notify` with bound values). Throws `.encoding` before sending when the
    /// payload is 8000 bytes or more.
    ///
    /// ```swift
    /// try await connection.notify(channel: "jobs", payload: "42")
    /// ```
    public nonisolated func notify(channel: String, payload: String = "") async throws {
        try PGIdentifier.validate(channel, what: "channel name")
        guard payload.utf8.count < Self.maximumNotificationPayload else {
            throw PGError(code: .encoding, message: "a NOTIFY payload must be shorter than \(Self.maximumNotificationPayload) bytes; this one has \(payload.utf8.count)")
        }
        try await execute("SELECT pg_notify(\(channel), \(payload))")
    }

    /// The channels this connection listens on.
    public var listeningChannels: [String] { listeners.keys.sorted() }

    func unsubscribe(channel: String, id: UInt64) async {
        guard listeners[channel]?.removeValue(forKey: id) != nil else { return }
        guard listeners[channel]?.isEmpty == true else { return }
        listeners[channel] = nil
        guard case .ready = phase else { return }
        do {
            try await simpleQuery("UNLISTEN \(PGIdentifier.quote(channel))")
        } catch {
            logger.debug("UNLISTEN failed", metadata: ["pg.channel": "\(channel)", "error": "\(error)"])
        }
    }

    func deliverNotification(_ notification: PGNotification) {
        guard let subscribers = listeners[notification.channel], !subscribers.isEmpty else {
            logger.debug("notification without a listener", metadata: ["pg.channel": "\(notification.channel)"])
            return
        }
        for (_, c) in subscribers { c.yield(notification) }
    }

    func finishListeners(_ error: PGError) {
        let all = listeners
        listeners.removeAll()
        for (_, subscribers) in all {
            for (_, c) in subscribers { c.finish(throwing: error) }
        }
    }
}
