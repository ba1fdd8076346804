/// Identifies one connection of a pool. The state machine makes these and hands them out in
/// ``PGPoolStateMachine/Action/createConnection(_:)``; the runner keys its connections by them.
///
/// ```swift
/// case .createConnection(let id): connections[id] = try await PGConnection.connect(...)
/// ```
public struct PGPoolConnectionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The number behind the id, unique within one state machine.
    public let rawValue: Int

    /// Wraps a raw value (tests and runners rarely need this: ids come from the machine).
    ///
    /// ```swift
    /// let first = PGPoolConnectionID(0)
    /// ```
    public init(_ rawValue: Int) { self.rawValue = rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "connection#\(rawValue)" }
}
