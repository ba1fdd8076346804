/// Why the pool failed a lease request. The code is extensible, like a struct of static lets.
///
/// ```swift
/// case .failRequest(let id, let error) where error.code == .acquireTimedOut:
///     waiters[id]?.resume(throwing: error)
/// ```
public struct PGPoolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// A short, stable name for the code.
        public let name: String

        /// Makes a code; prefer the static members.
        ///
        /// ```swift
        /// let code = PGPoolError.Code("acquireTimedOut")
        /// ```
        public init(_ name: String) { self.name = name }

        /// No connection became free before the request's acquire timeout.
        public static let acquireTimedOut = Code("acquireTimedOut")
        /// The wait queue was full (``PGPoolConfiguration/maximumWaiters``).
        public static let poolExhausted = Code("poolExhausted")
        /// The pool is shutting down or shut down, so it lends nothing more.
        public static let poolShutDown = Code("poolShutDown")
        /// Connection attempts failed and no open connection could serve the request. The runner
        /// knows the underlying error (it reported the failure) and may attach it.
        public static let connectionCreationFailed = Code("connectionCreationFailed")

        public var description: String { name }
    }

    /// The kind of failure.
    public var code: Code

    /// Makes an error with a code.
    ///
    /// ```swift
    /// throw PGPoolError(.poolShutDown)
    /// ```
    public init(_ code: Code) { self.code = code }

    /// Whether nothing reached the server, so the caller may retry: true for every pool error.
    public var isSafeToRetry: Bool { true }

    public var description: String {
        switch code {
        case .acquireTimedOut: "pool: acquire timed out waiting for a connection"
        case .poolExhausted: "pool: exhausted, too many requests waiting"
        case .poolShutDown: "pool: shut down"
        case .connectionCreationFailed: "pool: could not open a connection"
        default: "pool: \(code.name)"
        }
    }

    /// Shorthand for ``Code/acquireTimedOut``.
    public static let acquireTimedOut = PGPoolError(.acquireTimedOut)
    /// Shorthand for ``Code/poolExhausted``.
    public static let poolExhausted = PGPoolError(.poolExhausted)
    /// Shorthand for ``Code/poolShutDown``.
    public static let poolShutDown = PGPoolError(.poolShutDown)
    /// Shorthand for ``Code/connectionCreationFailed``.
    public static let connectionCreationFailed = PGPoolError(.connectionCreationFailed)
}
