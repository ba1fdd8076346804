import Foundation
import Logging
import PGClient

/// Where a store gets its connections: a `PGPool` or `PGCluster` the app already has (the app keeps
/// owning it), or a URL / the libpq environment (the store then owns its pool and shuts it down).
///
/// ```swift
/// let shared = PGStoreConnection.pool(appPool)          // share the app's pool
/// let own = PGStoreConnection.url("postgres://app@db/app")
/// let env = PGStoreConnection.environment               // DATABASE_URL, else PGHOST, PGUSER, …
/// ```
public enum PGStoreConnection: Sendable {
    /// A pool the app owns.
    case pool(PGPool)
    /// A cluster the app owns: writes on the writer, reads on a reader.
    case cluster(PGCluster)
    /// A `postgres://` URL or keyword/value string; `PG*` variables fill what it leaves out.
    case url(String)
    /// A parsed configuration.
    case configuration(PGConnectionConfiguration)
    /// `DATABASE_URL` when set, otherwise the libpq variables (`PGHOST`, `PGPORT`, `PGUSER`, …).
    case environment
}

/// The connections of one or more stores, resolved from a ``PGStoreConnection``. All stores built on one
/// `PGStoreDatabase` share its pool and so its one LISTEN connection (`PGPool.notifications(on:)`).
///
/// ```swift
/// let db = try PGStoreDatabase(.environment)
/// try await db.write { c in try await migrator.apply(on: c) }
/// await db.shutdown()   // closes the pool only because the store opened it
/// ```
public final class PGStoreDatabase: Sendable {
    enum Backend: Sendable {
        case pool(PGPool)
        case cluster(PGCluster)
    }

    let backend: Backend
    /// True when this object opened the pool and ``shutdown()`` closes it.
    public let ownsConnections: Bool

    /// Resolves `connection`; for a URL or the environment it creates (but does not yet connect) a pool
    /// with `poolOptions`.
    ///
    /// ```swift
    /// let db = try PGStoreDatabase(.url(url), poolOptions: PGPool.Options())
    /// ```
    /// - Throws: `.invalidConfiguration` for an unparseable URL or environment variable.
    public init(_ connection: PGStoreConnection, poolOptions: PGPool.Options = PGPool.Options(),
                environment: [String: String] = ProcessInfo.processInfo.environment) throws(PGStoreError) {
        switch connection {
        case .pool(let pool):
            backend = .pool(pool)
            ownsConnections = false
        case .cluster(let cluster):
            backend = .cluster(cluster)
            ownsConnections = false
        case .url(let url):
            backend = .pool(PGPool(configuration: try Self.parse(url, environment: environment), options: poolOptions))
            ownsConnections = true
        case .configuration(let configuration):
            backend = .pool(PGPool(configuration: configuration, options: poolOptions))
            ownsConnections = true
        case .environment:
            backend = .pool(PGPool(configuration: try Self.configurationFromEnvironment(environment), options: poolOptions))
            ownsConnections = true
        }
    }

    /// `DATABASE_URL` when set and non-empty, otherwise the libpq variables.
    ///
    /// ```swift
    /// let config = try PGStoreDatabase.configurationFromEnvironment(["DATABASE_URL": "postgres://app@db/app"])
    /// ```
    public static func configurationFromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(PGStoreError) -> PGConnectionConfiguration {
        if let url = environment["DATABASE_URL"], !url.isEmpty {
            return try parse(url, environment: environment)
        }
        do {
            return try PGConnectionConfiguration.fromEnvironment(environment)
        } catch {
            throw PGStoreError(code: .invalidConfiguration, message: error.message, underlying: error)
        }
    }

    static func parse(_ url: String, environment: [String: String]) throws(PGStoreError) -> PGConnectionConfiguration {
        do {
            return try PGConnectionConfiguration(url, environment: environment)
        } catch {
            throw PGStoreError(code: .invalidConfiguration, message: "invalid connection string: \(error.message)", underlying: error)
        }
    }

    /// Runs `body` on a writer connection; errors come back as ``PGStoreError``.
    ///
    /// ```swift
    /// let n = try await db.write { c in try await c.execute("DELETE FROM t WHERE done") }
    /// ```
    public func write<T>(_ body: (PGConnection) async throws -> T) async throws(PGStoreError) -> T {
        do {
            switch backend {
            case .pool(let pool): return try await pool.withConnection(body)
            case .cluster(let cluster): return try await cluster.write(body)
            }
        } catch {
            throw PGStoreError.from(error)
        }
    }

    /// Runs `body` on a reader (a cluster's replica, or the pool).
    ///
    /// ```swift
    /// let count = try await db.read { c in try await c.queryOne("SELECT count(*) FROM t", as: Int64.self) }
    /// ```
    public func read<T>(_ body: (PGConnection) async throws -> T) async throws(PGStoreError) -> T {
        do {
            switch backend {
            case .pool(let pool): return try await pool.withConnection(body)
            case .cluster(let cluster): return try await cluster.read(body)
            }
        } catch {
            throw PGStoreError.from(error)
        }
    }

    /// The pool that writes go to (a cluster's writer pool).
    public var writerPool: PGPool {
        switch backend {
        case .pool(let pool): return pool
        case .cluster(let cluster): return cluster.writer
        }
    }

    /// Notifications on `channel` through the writer pool's one shared LISTEN connection.
    ///
    /// ```swift
    /// for await event in try await db.notifications(on: "tusk_queue") { … }
    /// ```
    public func notifications(on channel: String) async throws(PGStoreError) -> AsyncStream<PGListenerEvent> {
        do {
            return try await writerPool.notifications(on: channel)
        } catch {
            throw PGStoreError.from(error)
        }
    }

    /// Shuts the pool down when this object opened it; does nothing for an app-owned pool or cluster.
    public func shutdown() async {
        guard ownsConnections else { return }
        switch backend {
        case .pool(let pool): await pool.shutdown()
        case .cluster(let cluster): await cluster.shutdown()
        }
    }
}
