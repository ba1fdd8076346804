import PGStoreSupport

/// How a limiter counts: what rate-sync calls `rate_per_second` (GCRA, with a burst), or a number of
/// acquisitions per window (fixed or sliding), optionally with `max_concurrent` slots on top.
///
/// Every limit is decided by one SQL statement on the database's clock; see ``PGRateLimiter``.
///
/// ```swift
/// let api = PGRateLimit.perSecond(100)                        // rate-sync's rate_per_second = 100.0
/// let bursty = PGRateLimit.perSecond(10, burst: 20)           // 10/s on average, 20 at once after a pause
/// let daily = PGRateLimit.fixedWindow(1_000, per: .seconds(86_400))
/// let smooth = PGRateLimit.slidingWindow(100, per: .seconds(60))
/// let slots = PGRateLimit.concurrency(5)                      // only max_concurrent
/// ```
public struct PGRateLimit: Sendable, Hashable, CustomStringConvertible {
    /// The counting rule.
    public enum Algorithm: String, Sendable, Hashable, CaseIterable {
        /// Generic cell rate algorithm: requests spaced `1/rate` apart on average, up to `burst` at once.
        /// Exact: in any interval of length t, at most `burst + rate × t` are admitted.
        case gcra
        /// At most `limit` per window, windows aligned to the epoch; up to 2 × limit can fall in one window's
        /// length across a boundary.
        case fixedWindow = "fixed_window"
        /// At most `limit` per window as estimated from the current and the previous window's counts (the
        /// previous one weighted by how much of it the sliding window still covers); smooths the fixed
        /// window's boundary burst.
        case slidingWindow = "sliding_window"
        /// No rate: only concurrency slots.
        case none
    }

    /// The counting rule.
    public var algorithm: Algorithm
    /// GCRA: requests per second. Windows: `limit / window`.
    public var ratePerSecond: Double
    /// GCRA: how many may be admitted at once after an idle period (the bucket's size, in cost units);
    /// 1 spaces every request `1/rate` apart, as rate-sync does.
    public var burst: Int
    /// Windows: how many per window.
    public var limit: Int
    /// Windows: the window's length.
    public var window: Duration
    /// At most this many permits held at once (rate-sync's `max_concurrent`); nil for no limit.
    public var maxConcurrent: Int?

    init(algorithm: Algorithm, ratePerSecond: Double, burst: Int, limit: Int, window: Duration, maxConcurrent: Int?) {
        self.algorithm = algorithm
        self.ratePerSecond = ratePerSecond
        self.burst = burst
        self.limit = limit
        self.window = window
        self.maxConcurrent = maxConcurrent
    }

    /// `rate` per second (GCRA), `burst` at once; optionally at most `maxConcurrent` held at once.
    ///
    /// ```swift
    /// let limit = PGRateLimit.perSecond(100, maxConcurrent: 50)
    /// ```
    public static func perSecond(_ rate: Double, burst: Int = 1, maxConcurrent: Int? = nil) -> PGRateLimit {
        PGRateLimit(algorithm: .gcra, ratePerSecond: rate, burst: burst, limit: 0, window: .zero, maxConcurrent: maxConcurrent)
    }

    /// At most `limit` per fixed `window`.
    ///
    /// ```swift
    /// let hourly = PGRateLimit.fixedWindow(5_000, per: .seconds(3_600))
    /// ```
    public static func fixedWindow(_ limit: Int, per window: Duration, maxConcurrent: Int? = nil) -> PGRateLimit {
        PGRateLimit(algorithm: .fixedWindow, ratePerSecond: Double(limit) / window.seconds, burst: limit, limit: limit,
                    window: window, maxConcurrent: maxConcurrent)
    }

    /// At most `limit` per sliding `window` (rate-sync's `limit` + `window_seconds`).
    ///
    /// ```swift
    /// let perMinute = PGRateLimit.slidingWindow(100, per: .seconds(60))
    /// ```
    public static func slidingWindow(_ limit: Int, per window: Duration, maxConcurrent: Int? = nil) -> PGRateLimit {
        PGRateLimit(algorithm: .slidingWindow, ratePerSecond: Double(limit) / window.seconds, burst: limit, limit: limit,
                    window: window, maxConcurrent: maxConcurrent)
    }

    /// Only a concurrency limit: at most `max` permits held at once.
    ///
    /// ```swift
    /// let workers = PGRateLimit.concurrency(8)
    /// ```
    public static func concurrency(_ max: Int) -> PGRateLimit {
        PGRateLimit(algorithm: .none, ratePerSecond: 0, burst: 0, limit: 0, window: .zero, maxConcurrent: max)
    }

    /// GCRA's emission interval for one unit of cost, in microseconds (at least 1).
    var intervalMicros: Int64 {
        guard ratePerSecond > 0 else { return 1 }
        return max(1, Int64((1_000_000 / ratePerSecond).rounded(.up)))
    }

    var windowMicros: Int64 { max(1, window.microseconds) }

    /// Checks the numbers.
    func validate(limiter: String) throws(PGStoreError) {
        func bad(_ message: String) -> PGStoreError {
            PGStoreError(code: .invalidConfiguration, message: "limiter \(limiter): \(message)", store: "ratelimit")
        }
        switch algorithm {
        case .gcra:
            guard ratePerSecond.isFinite, ratePerSecond > 0, ratePerSecond <= 1_000_000 else {
                throw bad("rate_per_second must be > 0 and at most 1,000,000 (got \(ratePerSecond))")
            }
            guard burst >= 1 else { throw bad("burst must be at least 1 (got \(burst))") }
        case .fixedWindow, .slidingWindow:
            guard limit >= 1 else { throw bad("limit must be at least 1 (got \(limit))") }
            guard window >= .milliseconds(1) else { throw bad("window_seconds must be at least 0.001 (got \(window))") }
        case .none:
            guard maxConcurrent != nil else { throw bad("give rate_per_second, limit + window_seconds, or max_concurrent") }
        }
        if let m = maxConcurrent, m < 1 || m > 100_000 {
            throw bad("max_concurrent must be from 1 to 100,000 (got \(m))")
        }
    }

    public var description: String {
        var s: String
        switch algorithm {
        case .gcra: s = "\(ratePerSecond)/s, burst \(burst)"
        case .fixedWindow: s = "\(limit) per \(window) (fixed window)"
        case .slidingWindow: s = "\(limit) per \(window) (sliding window)"
        case .none: s = "no rate"
        }
        if let m = maxConcurrent { s += ", at most \(m) at once" }
        return s
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var microseconds: Int64 { components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000 }
}
