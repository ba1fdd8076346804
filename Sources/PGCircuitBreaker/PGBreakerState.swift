import Foundation
import PGStoreSupport

/// A breaker's state, as stored in `rc_circuit_breakers.state`.
///
/// ```swift
/// if breaker.state == .open { print("failing fast") }
/// ```
public enum PGBreakerState: String, Sendable, Hashable, CaseIterable {
    /// Calls go ahead; outcomes are counted.
    case closed = "CLOSED"
    /// Calls are refused until the cooldown ends.
    case open = "OPEN"
    /// The cooldown ended: a limited number of probe calls (cluster-wide) decide whether to close.
    case halfOpen = "HALF_OPEN"
    /// Opened by an administrator: refused until closed or reset (resilience4j's FORCED_OPEN).
    case forcedOpen = "FORCED_OPEN"
    /// Switched off by an administrator: every call goes ahead, nothing is counted (resilience4j's DISABLED).
    case disabled = "DISABLED"
}

/// Where a store's breakers keep their state right now. Never silently local: a store that lost its
/// database says so here, in a log line when it changes, and in the gauge `tusk_breaker_storage_fallback`.
///
/// ```swift
/// if case .fallback(let since, let reason) = store.storageStatus { alert("breakers local since \(since): \(reason)") }
/// ```
public enum PGBreakerStorageStatus: Sendable, Hashable, CustomStringConvertible {
    /// In-memory storage, by choice (no database configured).
    case memory
    /// Shared through PostgreSQL.
    case database
    /// The database is unreachable: decisions come from this process's local state until it returns.
    case fallback(since: Date, reason: String)

    /// True for ``fallback(since:reason:)``.
    public var isFallback: Bool {
        if case .fallback = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .memory: return "memory"
        case .database: return "database"
        case .fallback(let since, let reason): return "fallback since \(since): \(reason)"
        }
    }
}

/// Thrown by ``PGBreaker/run(_:)`` when the breaker refuses a call (resilient-circuit's `ProtectedCallError`).
///
/// ```swift
/// do { try await breaker.run { try await pay() } }
/// catch let refused as PGBreakerOpenError { respond(503, retryAfter: refused.retryAfter) }
/// ```
public struct PGBreakerOpenError: Error, Sendable, CustomStringConvertible {
    /// The breaker's resource key.
    public let resourceKey: String
    /// Its state when it refused.
    public let state: PGBreakerState
    /// How long until probes may go ahead, when known.
    public let retryAfter: Duration?

    public var description: String {
        "PGBreakerOpenError: the circuit breaker \(resourceKey) is \(state.rawValue)"
            + (retryAfter.map { "; retry after \($0)" } ?? "")
    }
}

/// One row of `rc_circuit_breakers`, as `list()` returns it.
///
/// ```swift
/// for b in try await store.list() where b.state == .open { print(b.resourceKey, b.openUntil ?? .distantPast) }
/// ```
public struct PGBreakerInfo: Sendable, Hashable {
    /// `resource_key`.
    public var resourceKey: String
    /// `state`.
    public var state: PGBreakerState
    /// The generation (bumped by every state change).
    public var generation: Int64
    /// `failure_count`: failures in the current window.
    public var failureCount: Int
    /// Calls in the current window.
    public var callCount: Int
    /// `open_until`, when open.
    public var openUntil: Date?
    /// `updated_at`.
    public var updatedAt: Date?
    /// Why the last transition happened.
    public var reason: String
}

/// One row of the transition log `rc_circuit_breaker_transitions`.
///
/// ```swift
/// for t in try await store.transitions(of: "payment_service") { print(t.at, t.from, "->", t.to, t.why, t.who) }
/// ```
public struct PGBreakerTransition: Sendable, Hashable {
    /// The breaker.
    public var resourceKey: String
    /// When, by the database clock.
    public var at: Date
    /// From which state.
    public var from: PGBreakerState
    /// To which state.
    public var to: PGBreakerState
    /// The generation the change created.
    public var generation: Int64
    /// Who: the deciding process (`host:pid:random`) or the administrator.
    public var who: String
    /// Why.
    public var why: String
}

extension PGStoreError {
    static func breaker(_ code: Code, _ message: String) -> PGStoreError {
        PGStoreError(code: code, message: message, store: "breaker")
    }
}
