// PGFaultProxy: a TCP proxy on 127.0.0.1 whose behaviour a test switches at run time.
//
// One thread runs a poll(2) loop over the listening socket, a wake-up pipe and both sockets of every
// proxied connection. Every socket is touched only by that thread; the public methods queue a command,
// wake the loop and wait (bounded) until the loop has applied it, so that when `stall()` returns no
// further byte flows, and when `dropConnections()` returns the sockets are closed.

import Foundation
import PGClient
import Synchronization

/// A TCP proxy between a client and a server (usually a ``TemporaryPostgres``) for fault tests: it
/// listens on an ephemeral port of 127.0.0.1, connects each accepted client to the target, and copies
/// bytes both ways — unless the test says otherwise:
///
/// - ``Flow``: ``Flow/pass``, ``Flow/latency(_:)`` (each chunk read is held for a while, in each
///   direction), ``Flow/stall`` (bytes are read and held in both directions until the flow is switched
///   back, then they flow in order).
/// - ``Admission``: accept new connections, close or reset them at once, or leave them unanswered
///   (not accepted, so the client's handshake hangs in the listen backlog).
/// - ``dropConnections()`` closes both sides of every current connection (FIN);
///   ``resetConnections()`` does it with `SO_LINGER` 0 (RST).
///
/// Every switch takes effect before the call returns. ``stop()`` (also run when the proxy is
/// deinitialised) closes every socket and joins the thread, so nothing outlives the test.
///
/// ```swift
/// let pg = try await TemporaryPostgres.shared()
/// let proxy = try PGFaultProxy(in: pg)
/// defer { proxy.stop() }
/// let pool = PGPool(configuration: try PGConnectionConfiguration(url: proxy.url(for: pg)))
/// proxy.stall()                        // queries now hang (bytes held)
/// proxy.pass()                         // held bytes flow again
/// proxy.resetConnections()             // in-flight queries fail with a PGError
/// print(proxy.statistics.accepted)
/// ```
public final class PGFaultProxy: Sendable {

    /// What happens to bytes on established connections.
    public enum Flow: Sendable, Hashable, CustomStringConvertible {
        /// Copy bytes as they come.
        case pass
        /// Hold every chunk read for this long before it is written on (in each direction, per chunk;
        /// order is kept).
        case latency(Duration)
        /// Read and hold bytes in both directions (up to a cap per direction, then stop reading)
        /// until the flow is switched to `pass` or `latency`; then everything held flows in order.
        case stall

        public var description: String {
            switch self {
            case .pass: "pass"
            case .latency(let d): "latency(\(d))"
            case .stall: "stall"
            }
        }
    }

    /// What happens to new connections.
    public enum Admission: Sendable, Hashable, CustomStringConvertible {
        /// Accept and proxy them.
        case accept
        /// Accept and close at once (the client reads EOF).
        case close
        /// Accept and reset at once (`SO_LINGER` 0: the client gets ECONNRESET).
        case reset
        /// Do not accept: the kernel completes the TCP handshake into the listen backlog and the client
        /// waits for an answer that never comes (until it times out or admission changes back).
        case unanswered

        public var description: String {
            switch self {
            case .accept: "accept"
            case .close: "close"
            case .reset: "reset"
            case .unanswered: "unanswered"
            }
        }
    }

    /// Counters since the proxy started.
    public struct Statistics: Sendable, Hashable, CustomStringConvertible {
        /// Connections accepted and connected to the target.
        public var accepted: Int = 0
        /// Connections accepted and then closed or reset at once by ``Admission``.
        public var refused: Int = 0
        /// Accepted connections whose connect to the target failed (closed at once).
        public var targetFailures: Int = 0
        /// Connections currently proxied.
        public var active: Int = 0
        /// Connections closed by ``dropConnections()``.
        public var dropped: Int = 0
        /// Connections closed by ``resetConnections()``.
        public var reset: Int = 0
        /// Bytes written to the target (client → server).
        public var bytesToServer: Int = 0
        /// Bytes written to clients (server → client).
        public var bytesToClient: Int = 0

        public init() {}

        public var description: String {
            "accepted=\(accepted) refused=\(refused) targetFailures=\(targetFailures) active=\(active) "
                + "dropped=\(dropped) reset=\(reset) toServer=\(bytesToServer) toClient=\(bytesToClient)"
        }
    }

    /// The address to connect to: always "127.0.0.1".
    public let host: String = "127.0.0.1"
    /// The proxy's port (ephemeral, chosen by the kernel).
    public let port: Int
    /// The server the proxy forwards to.
    public let targetHost: String
    /// The server's port.
    public let targetPort: Int

    let core: Core

    /// Starts a proxy in front of `targetHost:targetPort` (an IPv4 address or a name that resolves to
    /// one). Connections to the target are made when a client connects, so the target may come and go.
    ///
    /// ```swift
    /// let proxy = try PGFaultProxy(targetHost: "127.0.0.1", targetPort: 5432)
    /// defer { proxy.stop() }
    /// ```
    public init(targetHost: String = "127.0.0.1", targetPort: Int, flow: Flow = .pass, admission: Admission = .accept) throws {
        self.targetHost = targetHost
        self.targetPort = targetPort
        let (listener, port) = try Sockets.listen()
        self.port = port
        let core: Core
        do {
            core = try Core(listener: listener, targetHost: targetHost, targetPort: targetPort, flow: flow, admission: admission)
        } catch {
            Sockets.close(listener)
            throw error
        }
        self.core = core
        core.start()
    }

    /// Starts a proxy in front of a ``TemporaryPostgres`` (its TCP host and port).
    ///
    /// ```swift
    /// let proxy = try PGFaultProxy(in: try await TemporaryPostgres.shared())
    /// ```
    public convenience init(in postgres: TemporaryPostgres, flow: Flow = .pass, admission: Admission = .accept) throws {
        try self.init(targetHost: postgres.host, targetPort: postgres.port, flow: flow, admission: admission)
    }

    deinit {
        core.stop()
    }

    // MARK: Switches

    /// The current flow.
    public var flow: Flow { core.shared.withLock { $0.flow } }
    /// The current admission.
    public var admission: Admission { core.shared.withLock { $0.admission } }

    /// Switches the flow; effective when this returns.
    ///
    /// ```swift
    /// proxy.setFlow(.latency(.milliseconds(50)))
    /// ```
    public func setFlow(_ flow: Flow) {
        core.send(.setFlow(flow))
    }

    /// Lets bytes pass as they come (and releases what a stall held).
    ///
    /// ```swift
    /// proxy.pass()
    /// ```
    public func pass() { setFlow(.pass) }

    /// Holds bytes in both directions until ``pass()`` or ``addLatency(_:)``.
    ///
    /// ```swift
    /// proxy.stall()
    /// ```
    public func stall() { setFlow(.stall) }

    /// Delays every chunk by `latency`, in each direction.
    ///
    /// ```swift
    /// proxy.addLatency(.milliseconds(20))
    /// ```
    public func addLatency(_ latency: Duration) { setFlow(.latency(latency)) }

    /// Decides what happens to new connections; effective when this returns.
    ///
    /// ```swift
    /// proxy.setAdmission(.reset)   // new connections are reset at once
    /// proxy.setAdmission(.accept)
    /// ```
    public func setAdmission(_ admission: Admission) {
        core.send(.setAdmission(admission))
    }

    /// Closes both sides of every current connection (an orderly FIN to client and server); returns how
    /// many were closed. New connections are still admitted as ``admission`` says.
    ///
    /// ```swift
    /// let closed = proxy.dropConnections()
    /// ```
    @discardableResult
    public func dropConnections() -> Int {
        core.send(.drop(reset: false))
    }

    /// Resets both sides of every current connection (`SO_LINGER` 0, so each peer gets an RST);
    /// returns how many were reset.
    ///
    /// ```swift
    /// proxy.resetConnections()
    /// ```
    @discardableResult
    public func resetConnections() -> Int {
        core.send(.drop(reset: true))
    }

    /// The counters so far.
    ///
    /// ```swift
    /// #expect(proxy.statistics.accepted == 2)
    /// ```
    public var statistics: Statistics { core.shared.withLock { $0.statistics } }

    /// Closes the listener and every connection and joins the proxy's thread. Idempotent.
    ///
    /// ```swift
    /// proxy.stop()
    /// ```
    public func stop() {
        core.stop()
    }

    /// True until ``stop()``.
    public var isRunning: Bool { core.shared.withLock { !$0.stopped } }

    // MARK: Addresses

    /// A `postgres://` URL for `postgres` that goes through this proxy (same defaults as
    /// ``TemporaryPostgres/url(user:password:database:)``), with `sslmode=disable` unless `tls` is true so
    /// the bytes on the wire are the protocol's own.
    ///
    /// ```swift
    /// let config = try PGConnectionConfiguration(url: proxy.url(for: pg))
    /// ```
    public func url(for postgres: TemporaryPostgres, user: String? = nil, password: String? = nil,
                    database: String? = nil, tls: Bool = false) -> String {
        let base = postgres.url(user: user, password: password, database: database)
        // Swap host:port for ours (TemporaryPostgres builds `…@host:port/db`).
        let target = postgres.host.contains(":") ? "[\(postgres.host)]:\(postgres.port)" : "\(postgres.host):\(postgres.port)"
        var url = base.replacingOccurrences(of: "@" + target + "/", with: "@\(host):\(port)/")
        if !tls { url += url.contains("?") ? "&sslmode=disable" : "?sslmode=disable" }
        return url
    }

    /// `configuration` with its hosts replaced by this proxy.
    ///
    /// ```swift
    /// var config = try PGConnectionConfiguration(url: pg.url())
    /// config = proxy.configuration(from: config)
    /// ```
    public func configuration(from configuration: PGConnectionConfiguration) -> PGConnectionConfiguration {
        var c = configuration
        c.hosts = [.tcp(host: host, port: port)]
        return c
    }
}
