import PGWire

/// Everything needed to open a connection: where the server is, who to log in as, TLS and timeouts.
///
/// Build one in code, or parse the formats libpq understands — a `postgres://` URL, a keyword/value
/// conninfo string, or the `PG*` environment variables:
///
/// ```swift
/// // In code:
/// var config = PGConnectionConfiguration(host: "db.internal", user: "app", password: secret, database: "orders")
/// config.sslMode = .verifyFull
///
/// // From a URL or a keyword/value string (the same rules as libpq):
/// let a = try PGConnectionConfiguration(url: "postgres://app:s3cr%40t@db1:5432,db2:5433/orders?sslmode=require")
/// let b = try PGConnectionConfiguration(keywordValue: "host=/var/run/postgresql dbname='my db' user=app")
/// let c = try PGConnectionConfiguration("postgresql:///orders")   // picks the syntax by prefix
///
/// // From PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, …:
/// let d = try PGConnectionConfiguration.fromEnvironment()
/// // A URL whose unset parts come from the environment, as libpq does:
/// let e = try PGConnectionConfiguration("postgres:///orders", useEnvironment: true)
/// ```
///
/// Precedence when parsing: what the string says, then (only when an `environment` is given) the `PG*`
/// variables, then the built-in defaults — port 5432; the Unix socket in `/var/run/postgresql` or `/tmp`
/// when one exists for that port, else `localhost`; the operating system's user name; a database named
/// like the user.
///
/// `description` and `debugDescription` never show the password, and no parsing error contains it.
public struct PGConnectionConfiguration: Sendable, Hashable {
    /// Where a server listens.
    ///
    /// ```swift
    /// let tcp = PGConnectionConfiguration.Endpoint.tcp(host: "::1", port: 5432)
    /// let socket = PGConnectionConfiguration.Endpoint.unixSocket(directory: "/var/run/postgresql", port: 5432)
    /// // socket == .unixSocket(path: "/var/run/postgresql/.s.PGSQL.5432")
    /// ```
    public enum Endpoint: Sendable, Hashable, CustomStringConvertible {
        /// A TCP host name or IP address (IPv6 without brackets) and port.
        case tcp(host: String, port: Int)
        /// The full path of a Unix-domain socket, e.g. `/var/run/postgresql/.s.PGSQL.5432`.
        /// A path starting with `@` names a socket in Linux's abstract namespace.
        case unixSocket(path: String)

        /// The socket PostgreSQL creates in `directory` for `port`: `<directory>/.s.PGSQL.<port>`,
        /// which is what libpq connects to for `host=<directory>`.
        public static func unixSocket(directory: String, port: Int = 5432) -> Endpoint {
            var dir = directory
            while dir.count > 1, dir.hasSuffix("/") { dir.removeLast() }
            return .unixSocket(path: (dir == "/" ? "" : dir) + "/.s.PGSQL.\(port)")
        }

        /// `host:port` (`[::1]:5432` for IPv6) or the socket path.
        public var description: String {
            switch self {
            case .tcp(let host, let port):
                return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            case .unixSocket(let path):
                return path
            }
        }
    }

    /// libpq's `sslmode`: whether to use TLS and how much to check the server's certificate.
    public enum SSLMode: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// Never use TLS.
        case disable
        /// Try without TLS first; use TLS if the server insists.
        case allow
        /// Use TLS if the server supports it, without verifying the certificate (libpq's default).
        case prefer
        /// Require TLS; verify the certificate only when a root certificate is given (like libpq).
        case require
        /// Require TLS and a certificate signed by a trusted CA.
        case verifyCA = "verify-ca"
        /// Require TLS, a trusted certificate, and a host name that matches it.
        case verifyFull = "verify-full"
        /// The libpq spelling, e.g. `verify-full`.
        public var description: String { rawValue }
    }

    /// libpq's `sslnegotiation` (PostgreSQL 17): how TLS is started.
    public enum SSLNegotiation: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// Send an SSLRequest first and start TLS when the server agrees (works with every server).
        case postgres
        /// Start TLS at once, with ALPN `postgresql` (PostgreSQL 17 and later).
        case direct
        public var description: String { rawValue }
    }

    /// libpq's `channel_binding`: whether SCRAM must bind the authentication to the TLS channel.
    public enum ChannelBinding: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// Never use channel binding.
        case disable
        /// Use it when TLS and the server offer it (the default).
        case prefer
        /// Fail unless the server authenticates with SCRAM-SHA-256-PLUS over TLS.
        case require
        public var description: String { rawValue }
    }

    /// libpq's `target_session_attrs`: which kind of server among `hosts` is acceptable.
    public enum TargetSessionAttributes: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        case any
        case readWrite = "read-write"
        case readOnly = "read-only"
        case primary
        case standby
        case preferStandby = "prefer-standby"
        public var description: String { rawValue }
    }

    /// libpq's `load_balance_hosts`: the order in which `hosts` are tried.
    public enum LoadBalanceHosts: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// In the order given.
        case disable
        /// In a random order (per connection attempt).
        case random
        public var description: String { rawValue }
    }

    /// How statements are prepared on the server (keyword `prepared_statements`).
    ///
    /// Round trips per statement, and what the server does each time:
    ///
    /// | mode | first run | later runs | server work per run |
    /// |---|---|---|---|
    /// | `named` | 2 (Parse+Describe, then Bind+Execute) | 1 (Bind+Execute) | execute a cached plan |
    /// | `unnamed` | 1 (Parse+Bind+Describe+Execute), text results | 1, binary results as learnt | parse, plan, execute |
    ///
    /// `auto` (the default) asks the server once at connect whether it is talking to PostgreSQL directly (the
    /// backend's process id matches the one in BackendKeyData) and uses `named` statements if so, `unnamed` ones
    /// behind a connection pooler (PgBouncer, Odyssey, PgCat, …), where a statement prepared in one
    /// transaction may be gone in the next. A named statement the server no longer has (26000, after
    /// `DEALLOCATE ALL`/`DISCARD ALL` or an undetected pooler) is prepared again and, outside a transaction,
    /// retried in one round trip; a connection that loses its statements twice stays `unnamed` from then on.
    ///
    /// ```swift
    /// config.preparedStatements = .named    // PgBouncer 1.21+ with max_prepared_statements, or no pooler at all
    /// ```
    public enum PreparedStatements: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// Named statements when connected to PostgreSQL itself, unnamed ones behind a pooler (checked at connect).
        case auto
        /// Always named, cached statements (`statementCacheSize` per connection): the fastest, for servers and
        /// poolers that keep a session's statements.
        case named
        /// Always the unnamed statement, parsed with each run: safe behind any pooler.
        case unnamed
        public var description: String { rawValue }
    }

    /// The servers to try, in order (libpq's `host` and `port` lists). Never empty after parsing.
    public var hosts: [Endpoint]
    /// The role to log in as.
    public var user: String
    /// The password, if any. Never printed by `description`, `debugDescription` or error messages.
    public var password: String?
    /// The database to connect to (libpq's `dbname`); defaults to `user`.
    public var database: String
    /// Sent as the `application_name` startup parameter; shows up in `pg_stat_activity`.
    public var applicationName: String?
    /// How long opening a connection (connect, TLS, authentication) may take per host. Default 10 seconds.
    /// libpq's `connect_timeout=0` ("wait indefinitely") is represented by `PGConnectionConfiguration.noConnectTimeout`.
    public var connectTimeout: Duration
    /// libpq's `options`: command-line options for the server, sent as the `options` startup
    /// parameter as they are, e.g. `-c search_path=app -c statement_timeout=5s`.
    public var options: String?
    /// More startup parameters (server settings such as `search_path` or `DateStyle`), sent as they are.
    /// Settable in code only: unknown keywords in URLs and conninfo strings are errors.
    public var extraStartupParameters: [String: String]
    /// Whether and how to use TLS. Default `.prefer`.
    public var sslMode: SSLMode
    /// How TLS is started. Default `.postgres`.
    public var sslNegotiation: SSLNegotiation
    /// File of trusted root certificates (PEM), or `system` for the system's trust store.
    public var sslRootCert: String?
    /// Client certificate file (PEM).
    public var sslCert: String?
    /// Client private key file (PEM).
    public var sslKey: String?
    /// Whether SCRAM channel binding is used. Default `.prefer`.
    public var channelBinding: ChannelBinding
    /// The password file consulted when `password` is nil (libpq's `passfile`, `PGPASSFILE`); nil means
    /// `~/.pgpass`. Lines are `host:port:database:user:password` (`*` matches anything; `\` escapes `:` and `\`);
    /// the first matching line wins. Ignored, with a warning in the log, when group or others can read it.
    public var passFile: String?
    /// The longest backend message accepted, in bytes; longer ones are a protocol violation. Default 1 GiB.
    public var maxMessageLength: Int
    /// Sent as the `statement_timeout` setting at startup when set. Tusk extension in URLs and conninfo
    /// strings: `statement_timeout=<milliseconds>`, where 0 means none.
    public var statementTimeout: Duration?
    /// How many prepared statements each connection keeps (least recently used are closed first); in unnamed
    /// mode, how many statements' result formats it remembers. 0 turns the cache off: every statement runs
    /// unnamed with text results, and `prepare()` only checks and describes a statement. Keyword
    /// `statement_cache_size`; default 256.
    public var statementCacheSize: Int
    /// Named or unnamed statements; default `.auto` (named unless a pooler is detected). Keyword
    /// `prepared_statements`.
    public var preparedStatements: PreparedStatements
    /// Which kind of server is acceptable. Default `.any`.
    public var targetSessionAttributes: TargetSessionAttributes
    /// The order in which `hosts` are tried. Default `.disable` (in order).
    public var loadBalanceHosts: LoadBalanceHosts
    /// TCP keepalives on TCP connections (libpq's `keepalives`, on by default), so a peer that vanished (a
    /// crashed host, a dropped NAT mapping) ends the connection with an error instead of leaving a wait for
    /// a reply hanging. nil turns them off (`keepalives=0`).
    ///
    /// ```swift
    /// config.tcpKeepalive = .init(idle: .seconds(30), interval: .seconds(10), count: 3)
    /// ```
    public var tcpKeepalive: TCPKeepalive?
    /// How long sent data may stay unacknowledged before the kernel drops the connection (libpq's
    /// `tcp_user_timeout`, milliseconds; `TCP_USER_TIMEOUT`). nil: the system's default. TCP only.
    public var tcpUserTimeout: Duration?

    /// TCP keepalive settings; nil fields keep the system's defaults (libpq's `keepalives_idle`,
    /// `keepalives_interval` and `keepalives_count`, where 0 also means the default).
    public struct TCPKeepalive: Sendable, Hashable {
        /// Idle time before the first probe (`TCP_KEEPIDLE`), whole seconds.
        public var idle: Duration?
        /// Time between probes (`TCP_KEEPINTVL`), whole seconds.
        public var interval: Duration?
        /// Unanswered probes before the connection is dropped (`TCP_KEEPCNT`).
        public var count: Int?

        /// Keepalives with the given settings (all the system's defaults when omitted).
        public init(idle: Duration? = nil, interval: Duration? = nil, count: Int? = nil) {
            self.idle = idle
            self.interval = interval
            self.count = count
        }
    }

    /// The default port, 5432.
    public static let defaultPort = 5432
    /// The default `maxMessageLength`, 1 GiB.
    public static let defaultMaxMessageLength = 1 << 30
    /// The default `connectTimeout`, 10 seconds.
    public static let defaultConnectTimeout = Duration.seconds(10)
    /// What `connect_timeout=0` (libpq: wait indefinitely) becomes: about 68 years.
    public static let noConnectTimeout = Duration.seconds(Int64(Int32.max))

    /// A configuration for the given endpoints; every other setting has its default.
    ///
    /// ```swift
    /// let config = PGConnectionConfiguration(
    ///     hosts: [.tcp(host: "primary", port: 5432), .tcp(host: "replica", port: 5432)],
    ///     user: "app", password: "secret", database: "orders")
    /// ```
    public init(hosts: [Endpoint], user: String, password: String? = nil, database: String? = nil) {
        self.hosts = hosts
        self.user = user
        self.password = password
        self.database = database ?? user
        self.applicationName = nil
        self.connectTimeout = Self.defaultConnectTimeout
        self.options = nil
        self.extraStartupParameters = [:]
        self.sslMode = .prefer
        self.sslNegotiation = .postgres
        self.sslRootCert = nil
        self.sslCert = nil
        self.sslKey = nil
        self.channelBinding = .prefer
        self.passFile = nil
        self.maxMessageLength = Self.defaultMaxMessageLength
        self.statementTimeout = nil
        self.statementCacheSize = 256
        self.preparedStatements = .auto
        self.targetSessionAttributes = .any
        self.loadBalanceHosts = .disable
        self.tcpKeepalive = TCPKeepalive()
        self.tcpUserTimeout = nil
    }

    /// A configuration for one TCP server.
    ///
    /// ```swift
    /// let config = PGConnectionConfiguration(host: "localhost", user: "postgres", password: "secret")
    /// ```
    public init(host: String = "localhost", port: Int = 5432, user: String, password: String? = nil, database: String? = nil) {
        self.init(hosts: [.tcp(host: host, port: port)], user: user, password: password, database: database)
    }

    /// A configuration for a server's Unix-domain socket, given by its full path.
    ///
    /// ```swift
    /// let config = PGConnectionConfiguration(unixSocketPath: "/var/run/postgresql/.s.PGSQL.5432", user: "postgres")
    /// ```
    public init(unixSocketPath: String, user: String, password: String? = nil, database: String? = nil) {
        self.init(hosts: [.unixSocket(path: unixSocketPath)], user: user, password: password, database: database)
    }
}

extension PGConnectionConfiguration: CustomStringConvertible, CustomDebugStringConvertible {
    /// A one-line summary with the password redacted.
    public var description: String {
        var s = "PGConnectionConfiguration(hosts: [\(hosts.map(\.description).joined(separator: ", "))]"
        s += ", user: \(quoted(user))"
        if password != nil { s += ", password: <redacted>" }
        s += ", database: \(quoted(database))"
        if let applicationName { s += ", applicationName: \(quoted(applicationName))" }
        s += ", sslMode: \(sslMode)"
        return s + ")"
    }

    /// Every setting, with the password redacted.
    public var debugDescription: String {
        var s = "PGConnectionConfiguration(hosts: [\(hosts.map(\.description).joined(separator: ", "))]"
        s += ", user: \(quoted(user))"
        s += ", password: \(password == nil ? "nil" : "<redacted>")"
        s += ", database: \(quoted(database))"
        s += ", applicationName: \(applicationName.map(quoted) ?? "nil")"
        s += ", connectTimeout: \(connectTimeout)"
        s += ", options: \(options.map(quoted) ?? "nil")"
        if !extraStartupParameters.isEmpty {
            let pairs = extraStartupParameters.sorted { $0.key < $1.key }.map { "\(quoted($0.key)): \(quoted($0.value))" }
            s += ", extraStartupParameters: [\(pairs.joined(separator: ", "))]"
        }
        s += ", sslMode: \(sslMode), sslNegotiation: \(sslNegotiation)"
        s += ", sslRootCert: \(sslRootCert.map(quoted) ?? "nil")"
        s += ", sslCert: \(sslCert.map(quoted) ?? "nil")"
        s += ", sslKey: \(sslKey.map(quoted) ?? "nil")"
        s += ", channelBinding: \(channelBinding)"
        s += ", passFile: \(passFile.map(quoted) ?? "nil")"
        s += ", maxMessageLength: \(maxMessageLength)"
        s += ", statementTimeout: \(statementTimeout.map { "\($0)" } ?? "nil")"
        s += ", statementCacheSize: \(statementCacheSize), preparedStatements: \(preparedStatements)"
        s += ", targetSessionAttributes: \(targetSessionAttributes)"
        s += ", loadBalanceHosts: \(loadBalanceHosts)"
        return s + ")"
    }
}

private func quoted(_ s: String) -> String {
    "\"" + s.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\""
}

extension String {
    /// `replacingOccurrences(of:with:)` without Foundation.
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        guard contains(target) else { return self }
        var out = ""
        out.reserveCapacity(count)
        for c in self {
            if c == target { out += replacement } else { out.append(c) }
        }
        return out
    }
}

extension PGConnectionConfiguration {
    /// An `.invalidConfiguration` error. Callers never pass a password in `message`.
    static func configurationError(_ message: String) -> PGError {
        PGError(code: .invalidConfiguration, message: message)
    }
}
