/// The one error type Tusk throws.
///
/// `code` says what kind of failure it was; for errors the server reported, `serverInfo` carries its fields
/// (SQLSTATE, message, detail, hint, position, …). `description` never contains passwords or bound values.
///
/// ```swift
/// do {
///     try await connection.execute("INSERT INTO t VALUES (1)")
/// } catch let error as PGError where error.sqlState == .uniqueViolation {
///     print("duplicate:", error.serverInfo?.detail ?? "")
/// }
/// ```
public struct PGError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What kind of failure this is. Extensible: new codes may be added in later versions.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// A stable identifier for the code.
        public let name: String
        @usableFromInline init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The server answered with an ErrorResponse; see `serverInfo`.
        public static let server = Code("server")
        /// The connection was closed (by the server, the network, or `close()`); see `underlying` for details.
        public static let connectionClosed = Code("connectionClosed")
        /// The connection could not be established (DNS, refused, unreachable, socket errors).
        public static let connectionFailed = Code("connectionFailed")
        /// The server sent bytes that violate the protocol; the connection has been closed.
        public static let protocolViolation = Code("protocolViolation")
        /// Authentication failed (wrong password, the server could not prove it knows the password, …).
        public static let authenticationFailed = Code("authenticationFailed")
        /// The server asked for an authentication method Tusk does not support (GSS, SSPI, Kerberos, …).
        public static let unsupportedAuthentication = Code("unsupportedAuthentication")
        /// A connection URL, keyword/value string or option is invalid.
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// A timeout expired (connect, query or acquire).
        public static let timeout = Code("timeout")
        /// The awaiting task was cancelled.
        public static let cancelled = Code("cancelled")
        /// A value could not be decoded into the requested Swift type.
        public static let decoding = Code("decoding")
        /// A value could not be encoded for the server.
        public static let encoding = Code("encoding")
        /// The API was used in a way that is not allowed (e.g. a second consumer of one result).
        public static let misuse = Code("misuse")
        /// TLS could not be negotiated or verified.
        public static let tls = Code("tls")
        /// No pooled connection became available in time (every connection was leased), or the waiting
        /// queue was full.
        public static let poolExhausted = Code("poolExhausted")
        /// The pool is shutting down or has shut down.
        public static let poolShutDown = Code("poolShutDown")
    }

    /// What kind of failure this is.
    public var code: Code
    /// A human-readable message that never contains secrets or bound values.
    public var message: String
    /// The server's fields when `code == .server` (and for authentication errors the server reported).
    public var serverInfo: PGServerErrorInfo? {
        get { serverInfoBox?.value }
        set { serverInfoBox = newValue.map(ServerInfoBox.init) }
    }
    /// Boxed: the fields are large and an error travels by value through many enums and results.
    private var serverInfoBox: ServerInfoBox?
    private final class ServerInfoBox: Sendable {
        let value: PGServerErrorInfo
        init(_ value: PGServerErrorInfo) { self.value = value }
    }
    /// True when nothing reached the server, so the operation can be retried without side effects.
    public var isSafeToRetry: Bool
    /// A lower-level cause (an errno description, a nested error), for `debugDescription`.
    public var underlying: String?
    /// The SQL text of the query that failed, when known (shown only in `debugDescription`).
    public var query: String?
    /// For `.tls` errors: what failed (untrusted certificate, host name mismatch, no TLS on the server, …).
    public var tlsFailure: PGError.TLSFailure?

    /// Creates an error.
    public init(
        code: Code, message: String, serverInfo: PGServerErrorInfo? = nil,
        isSafeToRetry: Bool = false, underlying: String? = nil, query: String? = nil
    ) {
        self.code = code
        self.message = message
        self.serverInfoBox = serverInfo.map(ServerInfoBox.init)
        self.isSafeToRetry = isSafeToRetry
        self.underlying = underlying
        self.query = query
    }

    /// The server's SQLSTATE, when the server reported the error.
    public var sqlState: PGSQLState? { serverInfo?.sqlState }

    public var description: String {
        if let info = serverInfo {
            var s = "PGError.\(code.name): \(info.severity ?? "ERROR") \(info.sqlState.rawValue)"
            if let name = info.sqlState.name { s += " (\(name))" }
            s += ": \(info.message)"
            return s
        }
        return "PGError.\(code.name): \(message)"
    }

    public var debugDescription: String {
        var s = description
        if let info = serverInfo {
            if let d = info.detail { s += "\n  detail: \(d)" }
            if let h = info.hint { s += "\n  hint: \(h)" }
            if let p = info.position { s += "\n  position: \(p)" }
            if let w = info.where { s += "\n  where: \(w)" }
        }
        if let u = underlying { s += "\n  underlying: \(u)" }
        if let q = query { s += "\n  query: \(q)" }
        return s
    }

    // Convenience constructors used throughout the library.
    @inlinable static func protocolViolation(_ message: String) -> PGError {
        PGError(code: .protocolViolation, message: message)
    }
    @inlinable static func decoding(_ message: String) -> PGError {
        PGError(code: .decoding, message: message)
    }
}

extension PGError {
    /// A protocol violation error.
    public static func violation(_ message: String) -> PGError { .protocolViolation(message) }
    /// A decoding error.
    public static func decodingFailed(_ message: String) -> PGError { .decoding(message) }
    /// A closed-connection error.
    public static func closed(_ message: String = "the connection is closed", safeToRetry: Bool = false, underlying: String? = nil) -> PGError {
        PGError(code: .connectionClosed, message: message, isSafeToRetry: safeToRetry, underlying: underlying)
    }
}

/// The fields of a server ErrorResponse or NoticeResponse.
public struct PGServerErrorInfo: Sendable, Hashable {
    /// Severity as localized by the server ("ERROR", "FATAL", "PANIC", "WARNING", "NOTICE", …).
    public var severity: String?
    /// Severity, never localized (field V).
    public var severityNonLocalized: String?
    /// SQLSTATE code.
    public var sqlState: PGSQLState
    /// Primary message.
    public var message: String
    public var detail: String?
    public var hint: String?
    /// 1-based character position in the query string.
    public var position: Int?
    public var internalPosition: Int?
    public var internalQuery: String?
    public var `where`: String?
    public var schemaName: String?
    public var tableName: String?
    public var columnName: String?
    public var dataTypeName: String?
    public var constraintName: String?
    public var file: String?
    public var line: Int?
    public var routine: String?

    /// Creates the info from the raw field map (field type byte → value).
    public init(fields: [UInt8: String]) {
        func f(_ c: Character) -> String? { fields[c.asciiValue!] }
        severity = f("S")
        severityNonLocalized = f("V")
        sqlState = PGSQLState(rawValue: f("C") ?? "XX000")
        message = f("M") ?? ""
        detail = f("D")
        hint = f("H")
        position = f("P").flatMap { Int($0) }
        internalPosition = f("p").flatMap { Int($0) }
        internalQuery = f("q")
        `where` = f("W")
        schemaName = f("s")
        tableName = f("t")
        columnName = f("c")
        dataTypeName = f("d")
        constraintName = f("n")
        file = f("F")
        line = f("L").flatMap { Int($0) }
        routine = f("R")
    }
}
