import Foundation
import PGStoreSupport

/// The limiters of a configuration file, by name: rate-sync's `acquire("api")`, `get_limiter("api")` and
/// `disconnect()`. Stores are opened from their URLs (one pool each, shared by their limiters).
///
/// ```swift
/// let limits = try PGRateLimiters(configuration: try PGRateLimiterConfiguration(file: "rate-sync.toml"))
/// try await limits.start()
/// try await limits.withPermit("api") { try await client.get(url) }    // async with acquire("api")
/// let permit = try await limits.acquire("api", timeout: .seconds(5))  // await acquire("api", timeout=5.0)
/// try await permit.release()
/// await limits.shutdown()                                            // await limiter.disconnect()
/// ```
public final class PGRateLimiters: Sendable {
    /// The stores, by their `[stores.<name>]` name.
    public let stores: [String: PGRateLimiterStore]
    private let byName: [String: PGRateLimiter]

    /// Opens (but does not yet connect) every store and makes every limiter of `configuration`.
    public init(configuration: PGRateLimiterConfiguration) throws(PGStoreError) {
        var stores: [String: PGRateLimiterStore] = [:]
        for (name, s) in configuration.stores {
            stores[name] = try PGRateLimiterStore(.url(s.url), configuration: s.configuration)
        }
        var limiters: [String: PGRateLimiter] = [:]
        for (name, l) in configuration.limiters {
            guard let store = stores[l.store] else {
                throw PGStoreError(code: .invalidConfiguration, message: "limiter \(name) names store \(l.store), which is not configured",
                                   store: "ratelimit")
            }
            limiters[name] = try store.limiter(name, l.limit, options: l.options)
        }
        self.stores = stores
        self.byName = limiters
    }

    /// Connects every store (and creates its tables where `auto_create` is on). A store whose table is
    /// missing fails here with a typed error that says how to create it.
    public func start() async throws(PGStoreError) {
        for name in stores.keys.sorted() {
            if let store = stores[name] { try await store.start() }
        }
    }

    /// The limiter called `name` (rate-sync's `get_limiter`).
    ///
    /// - Throws: `.invalidConfiguration` when no limiter of that name is configured.
    public func limiter(_ name: String) throws(PGStoreError) -> PGRateLimiter {
        guard let limiter = byName[name] else {
            throw PGStoreError(code: .invalidConfiguration,
                               message: "no limiter named \(name) is configured (known: \(byName.keys.sorted().joined(separator: ", ")))",
                               store: "ratelimit")
        }
        return limiter
    }

    /// Every limiter, by name.
    public var limiters: [String: PGRateLimiter] { byName }

    /// Waits until `name` admits (see ``PGRateLimiter/acquire(key:cost:timeout:)``).
    public func acquire(_ name: String, key: String = "", cost: Int = 1, timeout: Duration? = nil) async throws(PGStoreError) -> PGRateLimitPermit {
        try await limiter(name).acquire(key: key, cost: cost, timeout: timeout)
    }

    /// Runs `body` with a permit of `name`, released on every exit path.
    public func withPermit<T>(_ name: String, key: String = "", cost: Int = 1, timeout: Duration? = nil,
                              _ body: () async throws -> T) async throws -> T {
        try await limiter(name).withPermit(key: key, cost: cost, timeout: timeout, body)
    }

    /// Closes every store's pool (rate-sync's `disconnect()`).
    public func shutdown() async {
        for store in stores.values { await store.shutdown() }
    }
}
