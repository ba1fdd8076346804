import PGWire

// The part shared by every parser: libpq keywords, where a value came from, and turning the collected
// keyword → value pairs (plus environment defaults and built-in defaults) into a configuration.

extension PGConnectionConfiguration {
    /// The connection keywords Tusk understands: libpq's names, plus Tusk's extensions.
    enum Keyword: String, CaseIterable, Sendable {
        case host, port, user, password, dbname, passfile
        case applicationName = "application_name"
        case fallbackApplicationName = "fallback_application_name"
        case connectTimeout = "connect_timeout"
        case options
        case sslmode, sslnegotiation, sslrootcert, sslcert, sslkey
        case channelBinding = "channel_binding"
        case targetSessionAttrs = "target_session_attrs"
        case loadBalanceHosts = "load_balance_hosts"
        case clientEncoding = "client_encoding"
        case gssencmode
        case keepalives
        case keepalivesIdle = "keepalives_idle"
        case keepalivesInterval = "keepalives_interval"
        case keepalivesCount = "keepalives_count"
        case tcpUserTimeout = "tcp_user_timeout"
        // Accepted for compatibility with libpq and ignored.
        case sslcompression, sslsni
        // Tusk extensions.
        case statementTimeout = "statement_timeout"
        case maxMessageLength = "max_message_length"
        case statementCacheSize = "statement_cache_size"
        case preparedStatements = "prepared_statements"
    }

    /// libpq keywords Tusk knows but does not implement: using one is an error rather than being ignored.
    static let unsupportedKeywords: Set<String> = [
        "hostaddr", "service", "replication", "require_auth", "requirepeer",
        "sslpassword", "sslcertmode", "sslcrl", "sslcrldir", "ssl_min_protocol_version", "ssl_max_protocol_version",
        "min_protocol_version", "max_protocol_version", "krbsrvname", "gsslib", "gssdelegation",
        "scram_client_key", "scram_server_key", "oauth_issuer", "oauth_client_id", "oauth_client_secret", "oauth_scope",
    ]

    /// Where a raw value came from, for error messages.
    enum Origin: Hashable, Sendable {
        case url
        /// A URL that looks like it holds a password with an unencoded `/`, `?` or `@`: values are not echoed.
        case urlHidingValues
        case keywordValue
        /// Like `.keywordValue`, for the token right after a password, which may be part of an unquoted password.
        case keywordValueHidingValues
        case environment(String)

        /// Appended to error messages: `" in URL"`, `""`, `" in PGPORT"`.
        var suffix: String {
            switch self {
            case .url: " in URL"
            case .urlHidingValues:
                " in URL (not shown: the URL may contain a password with an unencoded \"/\", \"?\" or \"@\"; percent-encode it)"
            case .keywordValue: ""
            case .keywordValueHidingValues:
                " (not shown: it may be part of a password; quote a password that contains spaces)"
            case .environment(let name): " in \(name)"
            }
        }

        /// ` "value"`, or `hidden` when values must not be shown.
        func quote(_ value: String, hidden: String = "") -> String {
            switch self {
            case .urlHidingValues, .keywordValueHidingValues: hidden
            default: " \"\(value)\""
            }
        }
    }

    /// Keyword → value pairs as a parser found them (the last occurrence wins, as in libpq).
    struct RawOptions {
        var values: [Keyword: (value: String, origin: Origin)] = [:]

        /// Stores `value` for `key`, rejecting keywords Tusk does not know.
        mutating func set(_ key: String, _ value: String, origin: Origin) throws(PGError) {
            guard let keyword = Keyword(rawValue: key) else {
                if key.isEmpty {
                    throw configurationError("empty connection option name\(origin.suffix)")
                }
                if PGConnectionConfiguration.unsupportedKeywords.contains(key) {
                    throw configurationError("connection option \"\(key)\" is not supported by Tusk\(origin.suffix)")
                }
                throw configurationError("unknown connection option\(origin.quote(key))\(origin.suffix)")
            }
            values[keyword] = (value, origin)
        }

        subscript(_ keyword: Keyword) -> (value: String, origin: Origin)? { values[keyword] }

        /// The value when it is set and not empty (libpq treats an empty value as "use the default").
        func nonEmpty(_ keyword: Keyword) -> (value: String, origin: Origin)? {
            guard let entry = values[keyword], !entry.value.isEmpty else { return nil }
            return entry
        }
    }

    /// What the parsers consult about the machine they run on; tests replace it.
    struct SystemDefaults: Sendable {
        /// Directories searched, in order, for a server socket when no host is given.
        var socketDirectories: [String]
        /// Whether a file (a socket) exists at a path.
        var fileExists: @Sendable (String) -> Bool
        /// The operating system's name for the effective user.
        var currentUserName: @Sendable () -> String?
    }

    /// Builds a configuration from what a string said (`explicit`), the environment (used only for
    /// keywords the string did not set) and the built-in defaults.
    init(
        explicit: RawOptions, environment: [String: String], system: SystemDefaults
    ) throws(PGError) {
        var raw = explicit
        for (variable, keyword) in Self.environmentVariables where raw[keyword] == nil {
            if let value = environment[variable] {
                raw.values[keyword] = (value, .environment(variable))
            }
        }
        try self.init(resolving: raw, system: system)
    }

    private init(resolving raw: RawOptions, system: SystemDefaults) throws(PGError) {
        // User and database first: the database defaults to the user.
        let user: String
        if let u = raw.nonEmpty(.user) {
            user = u.value
        } else if let u = system.currentUserName(), !u.isEmpty {
            user = u
        } else {
            throw Self.configurationError("could not determine the user name: set user explicitly")
        }
        self.init(
            hosts: try Self.resolveHosts(raw, system: system),
            user: user,
            password: raw.nonEmpty(.password)?.value,
            database: raw.nonEmpty(.dbname)?.value
        )
        applicationName = raw.nonEmpty(.applicationName)?.value ?? raw.nonEmpty(.fallbackApplicationName)?.value
        options = raw.nonEmpty(.options)?.value
        sslRootCert = raw.nonEmpty(.sslrootcert)?.value
        sslCert = raw.nonEmpty(.sslcert)?.value
        sslKey = raw.nonEmpty(.sslkey)?.value
        passFile = raw.nonEmpty(.passfile)?.value

        if let entry = raw.nonEmpty(.connectTimeout) {
            let seconds = try Self.integer(entry, .connectTimeout, expected: "expected a number of seconds")
            connectTimeout = seconds <= 0 ? Self.noConnectTimeout : .seconds(seconds)
        }
        if let entry = raw.nonEmpty(.sslmode) {
            sslMode = try Self.enumeration(entry, .sslmode)
            if sslRootCert == "system", sslMode != .verifyFull {
                throw Self.configurationError(
                    "weak sslmode \"\(sslMode)\"\(entry.origin.suffix) may not be used with sslrootcert=system (use \"verify-full\")")
            }
        } else if sslRootCert == "system" {
            sslMode = .verifyFull  // as libpq: the system trust store implies host name checks
        }
        if let entry = raw.nonEmpty(.sslnegotiation) { sslNegotiation = try Self.enumeration(entry, .sslnegotiation) }
        if let entry = raw.nonEmpty(.channelBinding) { channelBinding = try Self.enumeration(entry, .channelBinding) }
        if let entry = raw.nonEmpty(.targetSessionAttrs) {
            targetSessionAttributes = try Self.enumeration(entry, .targetSessionAttrs)
        }
        if let entry = raw.nonEmpty(.loadBalanceHosts) { loadBalanceHosts = try Self.enumeration(entry, .loadBalanceHosts) }
        if let entry = raw.nonEmpty(.statementTimeout) {
            let ms = try Self.integer(entry, .statementTimeout, expected: "expected a number of milliseconds (0 for none)")
            guard ms >= 0 else {
                throw Self.invalid(entry, .statementTimeout, expected: "expected a number of milliseconds (0 for none)")
            }
            statementTimeout = ms == 0 ? nil : .milliseconds(ms)
        }
        if let entry = raw.nonEmpty(.maxMessageLength) {
            let expected = "expected a number of bytes from 1024 to \(Int32.max)"
            let n = try Self.integer(entry, .maxMessageLength, expected: expected)
            guard (1024...Int(Int32.max)).contains(n) else { throw Self.invalid(entry, .maxMessageLength, expected: expected) }
            maxMessageLength = n
        }
        if let entry = raw.nonEmpty(.statementCacheSize) {
            let expected = "expected a number of statements (0 turns the cache off)"
            let n = try Self.integer(entry, .statementCacheSize, expected: expected)
            guard n >= 0 else { throw Self.invalid(entry, .statementCacheSize, expected: expected) }
            statementCacheSize = n
        }
        if let entry = raw.nonEmpty(.preparedStatements) { preparedStatements = try Self.enumeration(entry, .preparedStatements) }
        if let entry = raw.nonEmpty(.keepalives) {
            let n = try Self.integer(entry, .keepalives, expected: "expected 1 (on) or 0 (off)")
            tcpKeepalive = n == 0 ? nil : TCPKeepalive()
        }
        if tcpKeepalive != nil {
            // libpq: 0 (or less) keeps the system's default.
            if let entry = raw.nonEmpty(.keepalivesIdle) {
                let n = try Self.integer(entry, .keepalivesIdle, expected: "expected a number of seconds")
                tcpKeepalive?.idle = n > 0 ? .seconds(n) : nil
            }
            if let entry = raw.nonEmpty(.keepalivesInterval) {
                let n = try Self.integer(entry, .keepalivesInterval, expected: "expected a number of seconds")
                tcpKeepalive?.interval = n > 0 ? .seconds(n) : nil
            }
            if let entry = raw.nonEmpty(.keepalivesCount) {
                let n = try Self.integer(entry, .keepalivesCount, expected: "expected a number of probes")
                tcpKeepalive?.count = n > 0 ? n : nil
            }
        }
        if let entry = raw.nonEmpty(.tcpUserTimeout) {
            let n = try Self.integer(entry, .tcpUserTimeout, expected: "expected a number of milliseconds (0 for the system's default)")
            tcpUserTimeout = n > 0 ? .milliseconds(n) : nil
        }
        if let entry = raw.nonEmpty(.clientEncoding) {
            switch entry.value.lowercased() {
            case "utf8", "utf-8", "unicode", "auto": break
            default:
                throw Self.configurationError(
                    "unsupported client_encoding\(entry.origin.quote(entry.value))\(entry.origin.suffix): Tusk always uses UTF8")
            }
        }
        if let entry = raw.nonEmpty(.gssencmode) {
            switch entry.value {
            case "disable", "prefer": break  // Tusk never attempts GSSAPI encryption; "prefer" falls back as in libpq
            case "require":
                throw Self.configurationError("gssencmode \"require\"\(entry.origin.suffix) is not supported by Tusk")
            default:
                throw Self.invalid(entry, .gssencmode, expected: "expected one of disable, prefer, require")
            }
        }
    }

    // MARK: Hosts and ports

    private static func resolveHosts(_ raw: RawOptions, system: SystemDefaults) throws(PGError) -> [Endpoint] {
        let hostEntry = raw.nonEmpty(.host)
        let portEntry = raw.nonEmpty(.port)
        let hostNames = hostEntry.map { split($0.value) } ?? [""]
        if hostNames.count > 1, let entry = hostEntry, hostNames.contains(where: \.isEmpty) {
            throw configurationError("empty host in host list\(entry.origin.quote(entry.value))\(entry.origin.suffix)")
        }
        var ports: [Int] = []
        if let entry = portEntry {
            for text in split(entry.value) {
                if text.isEmpty { ports.append(defaultPort); continue }
                guard let port = Int(text.trimmingASCIISpaces()), (1...65535).contains(port) else {
                    throw configurationError(
                        "invalid port\(entry.origin.quote(text))\(entry.origin.suffix): expected a number from 1 to 65535")
                }
                ports.append(port)
            }
        } else {
            ports = [defaultPort]
        }
        if ports.count == 1, hostNames.count > 1 {
            ports = Array(repeating: ports[0], count: hostNames.count)
        } else if ports.count != hostNames.count {
            throw configurationError("could not match \(ports.count) port numbers to \(hostNames.count) hosts")
        }
        return zip(hostNames, ports).map { name, port in
            if name.isEmpty {
                for dir in system.socketDirectories {
                    let socket = Endpoint.unixSocket(directory: dir, port: port)
                    if case .unixSocket(let path) = socket, system.fileExists(path) { return socket }
                }
                return .tcp(host: "localhost", port: port)
            }
            if name.hasPrefix("/") || name.hasPrefix("@") {
                return .unixSocket(directory: name, port: port)
            }
            return .tcp(host: name, port: port)
        }
    }

    private static func split(_ list: String) -> [String] {
        list.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    }

    // MARK: Values

    private static func integer(
        _ entry: (value: String, origin: Origin), _ keyword: Keyword, expected: String
    ) throws(PGError) -> Int {
        guard let n = Int(entry.value.trimmingASCIISpaces()) else { throw invalid(entry, keyword, expected: expected) }
        return n
    }

    private static func enumeration<E: RawRepresentable & CaseIterable>(
        _ entry: (value: String, origin: Origin), _ keyword: Keyword
    ) throws(PGError) -> E where E.RawValue == String {
        if let value = E(rawValue: entry.value) { return value }
        let choices = E.allCases.map(\.rawValue).joined(separator: ", ")
        throw invalid(entry, keyword, expected: "expected one of \(choices)")
    }

    /// `invalid <keyword> "<value>"<origin>: <expected>`. Never used for the password.
    static func invalid(_ entry: (value: String, origin: Origin), _ keyword: Keyword, expected: String) -> PGError {
        configurationError("invalid \(keyword.rawValue)\(entry.origin.quote(entry.value))\(entry.origin.suffix): \(expected)")
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines (libpq allows them around integers).
    fileprivate func trimmingASCIISpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\u{0B}" || $0 == "\u{0C}" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
