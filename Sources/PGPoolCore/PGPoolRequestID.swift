/// Identifies one lease request. The runner makes these (unique per pool) so it can map each one
/// to the task waiting for it; the same id names the lease once the request is served.
///
/// ```swift
/// let id = PGPoolRequestID(nextRequest); nextRequest += 1
/// run(machine.leaseRequested(id))
/// ```
public struct PGPoolRequestID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The number behind the id.
    public let rawValue: UInt64

    /// Wraps a raw value chosen by the runner.
    ///
    /// ```swift
    /// let id = PGPoolRequestID(7)
    /// ```
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "request#\(rawValue)" }
}
