import PGWire

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension PGConnectionConfiguration {
    /// The environment variables libpq reads, and the keyword each one stands for.
    ///
    /// | Variable | Keyword |
    /// |---|---|
    /// | `PGHOST` | `host` |
    /// | `PGPORT` | `port` |
    /// | `PGUSER` | `user` |
    /// | `PGPASSWORD` | `password` |
    /// | `PGDATABASE` | `dbname` |
    /// | `PGAPPNAME` | `application_name` |
    /// | `PGCONNECT_TIMEOUT` | `connect_timeout` |
    /// | `PGOPTIONS` | `options` |
    /// | `PGSSLMODE` | `sslmode` |
    /// | `PGSSLNEGOTIATION` | `sslnegotiation` |
    /// | `PGSSLROOTCERT` | `sslrootcert` |
    /// | `PGSSLCERT` | `sslcert` |
    /// | `PGSSLKEY` | `sslkey` |
    /// | `PGCHANNELBINDING` | `channel_binding` |
    /// | `PGPASSFILE` | `passfile` |
    /// | `PGTARGETSESSIONATTRS` | `target_session_attrs` |
    /// | `PGLOADBALANCEHOSTS` | `load_balance_hosts` |
    ///
    /// Other `PG*` variables (`PGHOSTADDR`, `PGSERVICE`, …) are ignored.
    public static let environmentVariableNames: [String] = environmentVariables.map(\.variable)

    static let environmentVariables: [(variable: String, keyword: Keyword)] = [
        ("PGHOST", .host), ("PGPORT", .port), ("PGUSER", .user), ("PGPASSWORD", .password),
        ("PGDATABASE", .dbname), ("PGAPPNAME", .applicationName), ("PGCONNECT_TIMEOUT", .connectTimeout),
        ("PGOPTIONS", .options), ("PGSSLMODE", .sslmode), ("PGSSLNEGOTIATION", .sslnegotiation),
        ("PGSSLROOTCERT", .sslrootcert), ("PGSSLCERT", .sslcert), ("PGSSLKEY", .sslkey),
        ("PGCHANNELBINDING", .channelBinding), ("PGTARGETSESSIONATTRS", .targetSessionAttrs),
        ("PGLOADBALANCEHOSTS", .loadBalanceHosts), ("PGPASSFILE", .passfile),
    ]

    /// A configuration from the libpq environment variables alone (see `environmentVariableNames`),
    /// with libpq's defaults for whatever they leave out.
    ///
    /// ```swift
    /// // PGHOST=db.internal PGUSER=app PGPASSWORD=… PGDATABASE=orders
    /// let config = try PGConnectionConfiguration.fromEnvironment()
    /// // Deterministic, e.g. in tests:
    /// let local = try PGConnectionConfiguration.fromEnvironment(["PGHOST": "localhost", "PGUSER": "postgres"])
    /// ```
    ///
    /// - Throws: `PGError` with code `.invalidConfiguration` naming the variable whose value is invalid.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(PGError) -> PGConnectionConfiguration {
        try fromEnvironment(environment, system: .system)
    }

    static func fromEnvironment(_ environment: [String: String], system: SystemDefaults) throws(PGError) -> PGConnectionConfiguration {
        try PGConnectionConfiguration(explicit: RawOptions(), environment: environment, system: system)
    }

    /// Parses a URL or keyword/value string; with `useEnvironment: true` the process's `PG*` variables
    /// supply what the string leaves out, as libpq does.
    ///
    /// ```swift
    /// // PGPASSWORD and PGSSLMODE come from the environment; host, user and dbname from the URL.
    /// let config = try PGConnectionConfiguration("postgres://app@db.internal/orders", useEnvironment: true)
    /// ```
    public init(_ string: String, useEnvironment: Bool) throws(PGError) {
        try self.init(string, environment: useEnvironment ? ProcessInfo.processInfo.environment : [:])
    }

    /// Parses a `postgres://` / `postgresql://` URL or, for anything else, a keyword/value string.
    ///
    /// ```swift
    /// let a = try PGConnectionConfiguration("postgres://app@localhost/orders")
    /// let b = try PGConnectionConfiguration("host=localhost user=app dbname=orders")
    /// ```
    ///
    /// - Parameter environment: variables such as `PGPASSWORD` that supply what `string` leaves out
    ///   (see `environmentVariableNames`). Empty by default, so the result depends only on `string`;
    ///   pass `ProcessInfo.processInfo.environment` to behave exactly like libpq.
    public init(_ string: String, environment: [String: String] = [:]) throws(PGError) {
        try self.init(string, environment: environment, system: .system)
    }

    init(_ string: String, environment: [String: String], system: SystemDefaults) throws(PGError) {
        if Self.isURL(string) {
            try self.init(url: string, environment: environment, system: system)
        } else {
            try self.init(keywordValue: string, environment: environment, system: system)
        }
    }
}

extension PGConnectionConfiguration.SystemDefaults {
    /// The real machine: `/var/run/postgresql` then `/tmp`, `access(2)`, `getpwuid(geteuid())` (as libpq).
    static let system = Self(
        socketDirectories: ["/var/run/postgresql", "/tmp"],
        fileExists: { path in access(path, F_OK) == 0 },
        currentUserName: {
            guard let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name else { return nil }
            return String(cString: name)
        }
    )
}
