import PGClient
import PGWire

/// The error every store throws: a ``Code`` saying what kind of failure it is, a message that tells the
/// user what to do, the store it came from, the underlying ``PGError`` when the driver or server reported
/// one, and whether the operation is safe to retry.
///
/// `description` never contains passwords or bound values; `debugDescription` adds the underlying error.
///
/// ```swift
/// do {
///     try await migrator.verify(on: database)
/// } catch let error as PGStoreError where error.code == .schemaMissing {
///     print(error.message)   // … run `tusk setup queue --schema tusk` …
/// }
/// ```
public struct PGStoreError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What kind of failure this is. Extensible: later versions may add codes.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// A stable identifier for the code.
        public let name: String
        /// Creates a code; stores may define their own.
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The store's schema or table does not exist (run `tusk setup`, or turn `autoCreate` on).
        public static let schemaMissing = Code("schemaMissing")
        /// The store's schema exists but migrations are pending.
        public static let schemaOutdated = Code("schemaOutdated")
        /// An applied migration's checksum differs from the code's: the migration was edited after it ran.
        public static let checksumMismatch = Code("checksumMismatch")
        /// Another process changed the same thing first (unique violation, serialization failure, …).
        public static let conflict = Code("conflict")
        /// The caller's lease expired and was handed to someone else (its fencing token is stale).
        public static let fenced = Code("fenced")
        /// The database cannot be reached or the connection was lost.
        public static let unavailable = Code("unavailable")
        /// A deadline passed (connect, statement, pool acquire or the operation's own).
        public static let timeout = Code("timeout")
        /// A configuration value (URL, schema or table name, option) is invalid.
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// The role lacks a privilege the operation needs; the message names it.
        public static let permissionDenied = Code("permissionDenied")
        /// The server rejected the login (wrong password, unknown user, pg_hba rule).
        public static let authenticationFailed = Code("authenticationFailed")
        /// The awaiting task was cancelled.
        public static let cancelled = Code("cancelled")
        /// The database reported another error; see ``PGStoreError/underlying``.
        public static let database = Code("database")
    }

    /// What kind of failure this is.
    public var code: Code
    /// What happened and what to do about it. Never contains secrets or bound values.
    public var message: String
    /// The store the error came from (`"queue"`, `"ratelimit"`, …), when known.
    public var store: String?
    /// The driver's error, when the failure came from the driver or the server.
    public var underlying: PGError?
    /// True when nothing reached the server, so retrying cannot do anything twice.
    public var isSafeToRetry: Bool

    /// Creates an error.
    ///
    /// ```swift
    /// throw PGStoreError(code: .fenced, message: "the lease on item 42 was taken over", store: "queue")
    /// ```
    public init(code: Code, message: String, store: String? = nil, underlying: PGError? = nil, isSafeToRetry: Bool = false) {
        self.code = code
        self.message = message
        self.store = store
        self.underlying = underlying
        self.isSafeToRetry = isSafeToRetry
    }

    /// `PGStoreError.<code>: [<store>: ]<message>`.
    public var description: String {
        "PGStoreError.\(code.name): " + (store.map { "\($0): " } ?? "") + message
    }

    /// The description plus the underlying error's details (server detail and hint, the query text).
    public var debugDescription: String {
        var s = description
        if let underlying { s += "\n  underlying: " + underlying.debugDescription }
        return s
    }

    /// A `fenced` error for a holder whose lease was taken over.
    ///
    /// ```swift
    /// throw PGStoreError.fenced(store: "queue", what: "item 42", token: lease.token)
    /// ```
    public static func fenced(store: String?, what: String, token: PGFencingToken) -> PGStoreError {
        PGStoreError(
            code: .fenced,
            message: "the lease on \(what) (fencing token \(token.rawValue)) expired and was handed to another holder; "
                + "this holder's work on it was refused",
            store: store)
    }
}
