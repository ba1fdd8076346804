import Foundation
import PGClient
import PGStoreSupport
import PGWire

/// A fraction kept as written: `PGBreakerFraction(5, 10)` is 5 of 10, never reduced to 1 of 2.
///
/// As a failure limit it means "5 failures among the last 10 calls" (resilient-circuit's `Fraction(5, 10)`;
/// Python's `Fraction` reduces it to 1/2 and ends up with a 2-call window); as a success limit "close again
/// after 5 successful probes among 10 admitted".
///
/// ```swift
/// let limit = PGBreakerFraction(5, 10)
/// print(limit)   // 5/10
/// ```
public struct PGBreakerFraction: Sendable, Hashable, CustomStringConvertible {
    /// How many (failures to open, successes to close).
    public let numerator: Int
    /// Out of how many calls (the count window, or the number of half-open probes).
    public let denominator: Int

    /// `numerator` of `denominator`, both kept as given. Use ``validated()`` to check them.
    ///
    /// ```swift
    /// let oneOfOne = PGBreakerFraction(1, 1)
    /// ```
    public init(_ numerator: Int, _ denominator: Int) {
        self.numerator = numerator
        self.denominator = denominator
    }

    /// `numerator/denominator`.
    public var description: String { "\(numerator)/\(denominator)" }

    /// Throws `.invalidConfiguration` unless 1 ≤ numerator ≤ denominator ≤ 10,000.
    ///
    /// ```swift
    /// try PGBreakerFraction(5, 10).validated()
    /// ```
    @discardableResult
    public func validated(_ what: String = "fraction") throws(PGStoreError) -> PGBreakerFraction {
        guard numerator >= 1, numerator <= denominator, denominator <= 10_000 else {
            throw PGStoreError(code: .invalidConfiguration,
                               message: "\(what) \(self) must satisfy 1 ≤ numerator ≤ denominator ≤ 10000", store: "breaker")
        }
        return self
    }
}

/// What a call's outcome counts as.
public enum PGBreakerOutcome: Sendable, Hashable {
    /// Counts against the downstream.
    case failure
    /// Counts as a success (the downstream answered; the error is the caller's own).
    case success
    /// Not counted at all (cancellation).
    case ignored
}

/// Decides which errors count as failures.
///
/// The default: cancellation (`CancellationError`, `PGError`/`PGStoreError` `.cancelled`) is ignored; a
/// database error that is the caller's own doing — SQLSTATE classes 22 (data exception), 23 (integrity
/// constraint) and 42 (syntax or access rule) — counts as a success, since the server answered; everything
/// else (timeouts, lost connections, unavailable servers, any other error) is a failure.
///
/// ```swift
/// let classifier = PGBreakerClassifier { error in
///     (error as? HTTPError)?.status == 404 ? .success : PGBreakerClassifier.standard.classify(error)
/// }
/// ```
public struct PGBreakerClassifier: Sendable {
    /// The classification.
    public let classify: @Sendable (any Error) -> PGBreakerOutcome

    /// A classifier from a closure.
    ///
    /// ```swift
    /// let everything = PGBreakerClassifier { _ in .failure }
    /// ```
    public init(_ classify: @escaping @Sendable (any Error) -> PGBreakerOutcome) {
        self.classify = classify
    }

    /// The defaults described above.
    public static let standard = PGBreakerClassifier { error in
        if error is CancellationError { return .ignored }
        if let store = error as? PGStoreError {
            if store.code == .cancelled { return .ignored }
            if let pg = store.underlying { return classify(pg) }
            return .failure
        }
        if let pg = error as? PGError { return classify(pg) }
        return .failure
    }

    static func classify(_ pg: PGError) -> PGBreakerOutcome {
        if pg.code == .cancelled { return .ignored }
        if let state = pg.sqlState?.rawValue, ["22", "23", "42"].contains(String(state.prefix(2))) { return .success }
        return .failure
    }
}

/// A breaker's policy: resilient-circuit's `cooldown`, `failure_limit` and `success_limit`, plus a time
/// window, a minimum number of calls, a slow-call limit, a growing cooldown and an error classifier.
///
/// ```swift
/// // The seed's example: open after 5 failures among the last 10 calls, for 60 s.
/// let policy = PGBreakerPolicy(cooldown: .seconds(60), failureLimit: PGBreakerFraction(5, 10))
/// // A failure rate over time: ≥ 50% of at least 20 calls in the last 30 s; cooldown 10 s doubling up to 5 min.
/// var rate = PGBreakerPolicy(cooldown: .seconds(10), failureLimit: PGBreakerFraction(1, 2))
/// rate.timeWindow = .seconds(30)
/// rate.minimumCalls = 20
/// rate.cooldownGrowth = 2
/// rate.maximumCooldown = .seconds(300)
/// ```
public struct PGBreakerPolicy: Sendable {
    /// How long the breaker stays open before probes are let through (`cooldown`, default 0 as in the seed).
    public var cooldown: Duration
    /// `failure_limit`. Count window (the default): open when the last `denominator` calls hold
    /// `numerator` failures. With ``timeWindow`` set it is a rate: open when failures ÷ calls ≥
    /// numerator ÷ denominator over that time.
    public var failureLimit: PGBreakerFraction
    /// `success_limit`: `denominator` probes are admitted cluster-wide after the cooldown; `numerator`
    /// successes close the breaker, and it opens again as soon as that can no longer happen.
    public var successLimit: PGBreakerFraction
    /// A time-based window instead of the count window (nil, the default).
    public var timeWindow: Duration?
    /// No decision before the window holds this many calls (default 0: the count window trips as soon as it
    /// holds `numerator` failures; a time window needs at least 1 call).
    public var minimumCalls: Int
    /// Calls slower than this count as slow (nil: no slow-call limit).
    public var slowCallDuration: Duration?
    /// Open when slow calls ÷ calls in the window ≥ this fraction (with ``slowCallDuration``).
    public var slowCallLimit: PGBreakerFraction?
    /// Each consecutive opening multiplies the cooldown by this (1, the default: fixed; at most 100).
    public var cooldownGrowth: Double
    /// The cooldown never grows past this.
    public var maximumCooldown: Duration
    /// A probe that has not reported after this long gives its permit back (its process may have died).
    public var probeTimeout: Duration
    /// Which errors count (``PGBreakerClassifier/standard`` by default).
    public var classifier: PGBreakerClassifier
    /// Called in this process after every state change it sees — its own decisions and those pushed by
    /// the database (resilient-circuit's `on_status_change`). Keep it short: it runs on the deciding task.
    ///
    /// ```swift
    /// policy.onStateChange = { key, from, to in log.warning("\(key): \(from) -> \(to)") }
    /// ```
    public var onStateChange: (@Sendable (_ resourceKey: String, _ from: PGBreakerState, _ to: PGBreakerState) -> Void)?

    /// The seed's knobs with its defaults (`cooldown` 0, `failure_limit` 1/1, `success_limit` 1/1).
    ///
    /// ```swift
    /// let policy = PGBreakerPolicy(cooldown: .seconds(60), failureLimit: .init(5, 10), successLimit: .init(3, 5))
    /// ```
    public init(cooldown: Duration = .zero, failureLimit: PGBreakerFraction = PGBreakerFraction(1, 1),
                successLimit: PGBreakerFraction = PGBreakerFraction(1, 1), classifier: PGBreakerClassifier = .standard) {
        self.cooldown = cooldown
        self.failureLimit = failureLimit
        self.successLimit = successLimit
        self.timeWindow = nil
        self.minimumCalls = 0
        self.slowCallDuration = nil
        self.slowCallLimit = nil
        self.cooldownGrowth = 1
        self.maximumCooldown = .seconds(86_400)
        self.probeTimeout = .seconds(60)
        self.classifier = classifier
        self.onStateChange = nil
    }

    func validate(_ key: String) throws(PGStoreError) {
        try failureLimit.validated("failure_limit of \(key)")
        try successLimit.validated("success_limit of \(key)")
        if let slowCallLimit { try slowCallLimit.validated("slow-call limit of \(key)") }
        let tenYears = Duration.seconds(10 * 366 * 86_400)
        let window = timeWindow ?? .seconds(1)
        guard cooldown >= .zero, cooldown <= tenYears, maximumCooldown >= .zero, maximumCooldown <= tenYears,
              probeTimeout > .zero, probeTimeout <= tenYears, (0...1_000_000).contains(minimumCalls),
              cooldownGrowth >= 1, cooldownGrowth <= 100, window >= .milliseconds(10), window <= tenYears else {
            throw PGStoreError(code: .invalidConfiguration,
                               message: "policy of \(key): cooldown, maximum cooldown and probe timeout must be 0 to 10 years "
                                   + "(probe timeout above 0), minimum calls 0 to 1,000,000, cooldown growth 1 to 100, "
                                   + "a time window 10 ms to 10 years",
                               store: "breaker")
        }
    }

    /// The count window's size in calls (0 with a time window).
    var windowCalls: Int { timeWindow == nil ? failureLimit.denominator : 0 }
    var windowMilliseconds: Int64 { timeWindow.map(Self.milliseconds) ?? 0 }
    /// Time windows count in 10 buckets.
    var bucketMilliseconds: Int64 { max(1, windowMilliseconds / 10) }
    var cooldownMilliseconds: Int64 { Self.milliseconds(cooldown) }
    var maximumCooldownMilliseconds: Int64 { Self.milliseconds(maximumCooldown) }

    /// The cooldown after `openedBefore` consecutive openings.
    func cooldown(openedBefore: Int) -> Duration {
        let ms = min(Double(maximumCooldownMilliseconds), Double(cooldownMilliseconds) * pow(cooldownGrowth, Double(min(openedBefore, 60))))
        return .milliseconds(Int64(ms))
    }

    /// Whole milliseconds, saturating (a huge duration never traps).
    static func milliseconds(_ d: Duration) -> Int64 {
        let (ms, overflow) = d.components.seconds.multipliedReportingOverflow(by: 1_000)
        if overflow { return d.components.seconds < 0 ? Int64.min / 2 : Int64.max / 2 }
        return ms + d.components.attoseconds / 1_000_000_000_000_000
    }
}

