import Foundation
import PGStoreSupport
import TOMLKit

/// rate-sync's configuration file: `[stores.<name>]` and `[limiters.<name>]` tables, with `${VAR}` (and
/// `${VAR:-default}`) replaced from the environment in string values, as its production example does.
///
/// ```toml
/// [stores.prod_db]
/// engine = "postgres"
/// url = "${DATABASE_URL}"
/// auto_create = false
/// pool_min_size = 5
/// pool_max_size = 20
///
/// [limiters.api]
/// store = "prod_db"
/// rate_per_second = 100.0
/// max_concurrent = 50
/// timeout = 30.0
/// ```
///
/// Store keys: `engine` (`postgres`), `url`, `table_name`, `schema_name`, `auto_create`, `pool_min_size`,
/// `pool_max_size`, `timing_margin_ms` (accepted, never loosens a limit), and Tusk's `asynchronous_commit`.
/// Limiter keys: `store`, `rate_per_second` with Tusk's `burst`, or `limit` + `window_seconds` with
/// `algorithm` (`sliding_window`, rate-sync's, or `fixed_window`), `max_concurrent`, `timeout`, `fail_closed`
/// (rate-sync's; Tusk's default is true), and Tusk's `shadow`, `lease_seconds`, `statement_timeout`,
/// `idle_key_expiry_seconds`. An unknown key is an error, so a typo never silently drops a limit.
public struct PGRateLimiterConfiguration: Sendable {
    /// A `[stores.<name>]` table.
    public struct Store: Sendable, Hashable {
        /// `url`: a connection URL or keyword/value string.
        public var url: String
        /// The table, schema and pool options.
        public var configuration: PGRateLimiterStore.Configuration
    }

    /// A `[limiters.<name>]` table.
    public struct Limiter: Sendable, Hashable {
        /// `store`: the name of a `[stores.<name>]` table.
        public var store: String
        public var limit: PGRateLimit
        public var options: PGRateLimiter.Options
    }

    public var stores: [String: Store]
    public var limiters: [String: Limiter]

    /// Parses a TOML document.
    ///
    /// ```swift
    /// let config = try PGRateLimiterConfiguration(toml: try String(contentsOfFile: "rate-sync.toml", encoding: .utf8))
    /// ```
    /// - Throws: `PGStoreError` `.invalidConfiguration` naming the table and key that is wrong.
    public init(toml: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(PGStoreError) {
        let root: TOMLTable
        do {
            root = try TOMLTable(string: toml)
        } catch let error as TOMLParseError {
            throw Self.invalid("the TOML is malformed at \(error.source.begin.debugDescription): \(error.description)")
        } catch {
            throw Self.invalid("the TOML is malformed: \(error)")
        }
        for key in root.keys where key != "stores" && key != "limiters" {
            throw Self.invalid("unknown top-level table \(key) (expected [stores.<name>] and [limiters.<name>])")
        }
        var stores: [String: Store] = [:]
        for (name, value) in try Self.tables(root, "stores") {
            stores[name] = try Self.store(name, value, environment)
        }
        var limiters: [String: Limiter] = [:]
        for (name, value) in try Self.tables(root, "limiters") {
            let limiter = try Self.limiter(name, value, environment)
            guard stores[limiter.store] != nil else {
                throw Self.invalid("[limiters.\(name)] store = \"\(limiter.store)\", but there is no [stores.\(limiter.store)]")
            }
            limiters[name] = limiter
        }
        self.stores = stores
        self.limiters = limiters
    }

    /// Reads and parses a TOML file.
    ///
    /// ```swift
    /// let config = try PGRateLimiterConfiguration(file: "/etc/app/rate-sync.toml")
    /// ```
    public init(file path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(PGStoreError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw Self.invalid("cannot read \(path): \(error.localizedDescription)")
        }
        try self.init(toml: text, environment: environment)
    }

    // MARK: Parsing

    static func invalid(_ message: String) -> PGStoreError {
        PGStoreError(code: .invalidConfiguration, message: message, store: "ratelimit")
    }

    static func tables(_ root: TOMLTable, _ key: String) throws(PGStoreError) -> [(String, TOMLTable)] {
        guard let value = root[key] else { return [] }
        guard let table = value.table else { throw invalid("\(key) must be a table ([\(key).<name>])") }
        var out: [(String, TOMLTable)] = []
        for name in table.keys.sorted() {
            guard let inner = table[name]?.table else { throw invalid("[\(key).\(name)] must be a table") }
            out.append((name, inner))
        }
        return out
    }

    /// Typed access to one table's values, with every key checked against the known ones.
    struct Reader {
        let path: String
        let table: TOMLTable
        let environment: [String: String]

        init(_ path: String, _ table: TOMLTable, known: Set<String>, environment: [String: String]) throws(PGStoreError) {
            self.path = path
            self.table = table
            self.environment = environment
            for key in table.keys where !known.contains(key) {
                throw invalid("[\(path)] has an unknown key \(key) (known: \(known.sorted().joined(separator: ", ")))")
            }
        }

        func string(_ key: String) throws(PGStoreError) -> String? {
            guard let v = table[key] else { return nil }
            guard let s = v.string else { throw invalid("[\(path)] \(key) must be a string") }
            return try PGRateLimiterConfiguration.substitute(s, environment, where: "[\(path)] \(key)")
        }

        func double(_ key: String) throws(PGStoreError) -> Double? {
            guard let v = table[key] else { return nil }
            if let d = v.double { return d }
            if let i = v.int { return Double(i) }
            if let s = v.string, let d = Double(try PGRateLimiterConfiguration.substitute(s, environment, where: "[\(path)] \(key)")) { return d }
            throw invalid("[\(path)] \(key) must be a number")
        }

        func int(_ key: String) throws(PGStoreError) -> Int? {
            guard let v = table[key] else { return nil }
            if let i = v.int { return i }
            if let d = v.double, d == d.rounded(), abs(d) < 1e15 { return Int(d) }
            if let s = v.string, let i = Int(try PGRateLimiterConfiguration.substitute(s, environment, where: "[\(path)] \(key)")) { return i }
            throw invalid("[\(path)] \(key) must be a whole number")
        }

        func bool(_ key: String) throws(PGStoreError) -> Bool? {
            guard let v = table[key] else { return nil }
            if let b = v.bool { return b }
            if let s = v.string {
                switch try PGRateLimiterConfiguration.substitute(s, environment, where: "[\(path)] \(key)").lowercased() {
                case "true", "1", "yes", "on": return true
                case "false", "0", "no", "off": return false
                default: break
                }
            }
            throw invalid("[\(path)] \(key) must be true or false")
        }

        func seconds(_ key: String) throws(PGStoreError) -> Duration? {
            guard let d = try double(key) else { return nil }
            guard d.isFinite, d >= 0, d < 1e9 else { throw invalid("[\(path)] \(key) must be a number of seconds ≥ 0") }
            return .microseconds(Int64((d * 1_000_000).rounded()))
        }
    }

    static func store(_ name: String, _ table: TOMLTable, _ environment: [String: String]) throws(PGStoreError) -> Store {
        let r = try Reader("stores.\(name)", table, known: [
            "engine", "url", "table_name", "schema_name", "auto_create", "pool_min_size", "pool_max_size",
            "timing_margin_ms", "asynchronous_commit",
        ], environment: environment)
        let engine = try r.string("engine") ?? "postgres"
        guard engine == "postgres" || engine == "postgresql" else {
            throw invalid("[stores.\(name)] engine = \"\(engine)\": this store speaks only \"postgres\"")
        }
        guard let url = try r.string("url"), !url.isEmpty else { throw invalid("[stores.\(name)] needs url") }
        var c = PGRateLimiterStore.Configuration()
        if let v = try r.string("table_name") { c.tableName = v }
        if let v = try r.string("schema_name") { c.schemaName = v }
        if let v = try r.bool("auto_create") { c.autoCreate = v }
        if let v = try r.int("pool_min_size") { c.poolMinSize = v }
        if let v = try r.int("pool_max_size") { c.poolMaxSize = v }
        if let v = try r.double("timing_margin_ms") {
            guard v >= 0, v.isFinite else { throw invalid("[stores.\(name)] timing_margin_ms must be ≥ 0") }
            c.timingMarginMs = v
        }
        if let v = try r.bool("asynchronous_commit") { c.asynchronousCommit = v }
        return Store(url: url, configuration: c)
    }

    static func limiter(_ name: String, _ table: TOMLTable, _ environment: [String: String]) throws(PGStoreError) -> Limiter {
        let r = try Reader("limiters.\(name)", table, known: [
            "store", "rate_per_second", "burst", "limit", "window_seconds", "algorithm", "max_concurrent", "timeout",
            "fail_closed", "shadow", "lease_seconds", "statement_timeout", "idle_key_expiry_seconds",
        ], environment: environment)
        guard let store = try r.string("store") else { throw invalid("[limiters.\(name)] needs store") }
        let maxConcurrent = try r.int("max_concurrent")
        let rate = try r.double("rate_per_second")
        let limitCount = try r.int("limit")
        let window = try r.seconds("window_seconds")
        let limit: PGRateLimit
        switch (rate, limitCount, window) {
        case (let rate?, nil, nil):
            if let a = try r.string("algorithm"), a != "gcra", a != "token_bucket" {
                throw invalid("[limiters.\(name)] algorithm = \"\(a)\" does not go with rate_per_second (use limit + window_seconds)")
            }
            limit = .perSecond(rate, burst: try r.int("burst") ?? 1, maxConcurrent: maxConcurrent)
        case (nil, let n?, let w?):
            switch try r.string("algorithm") ?? "sliding_window" {
            case "sliding_window": limit = .slidingWindow(n, per: w, maxConcurrent: maxConcurrent)
            case "fixed_window": limit = .fixedWindow(n, per: w, maxConcurrent: maxConcurrent)
            case let other: throw invalid("[limiters.\(name)] algorithm = \"\(other)\": expected sliding_window or fixed_window")
            }
        case (nil, nil, nil):
            guard let m = maxConcurrent else {
                throw invalid("[limiters.\(name)] needs rate_per_second, limit + window_seconds, or max_concurrent")
            }
            limit = .concurrency(m)
        case (_?, _, _):
            throw invalid("[limiters.\(name)] gives both rate_per_second and limit/window_seconds: choose one")
        default:
            throw invalid("[limiters.\(name)] limit and window_seconds go together")
        }
        try limit.validate(limiter: name)
        var o = PGRateLimiter.Options()
        if let v = try r.seconds("timeout") { o.timeout = v }
        if let v = try r.bool("fail_closed") { o.onDatabaseFailure = v ? .failClosed : .failOpen }
        if let v = try r.bool("shadow") { o.shadow = v }
        if let v = try r.seconds("lease_seconds") { o.lease = max(v, .milliseconds(300)) }
        if let v = try r.seconds("statement_timeout") { o.statementTimeout = max(v, .milliseconds(10)) }
        if let v = try r.seconds("idle_key_expiry_seconds") { o.idleKeyExpiry = v }
        return Limiter(store: store, limit: limit, options: o)
    }

    /// `${VAR}` and `${VAR:-default}` from `environment`; a missing variable without a default is an error.
    static func substitute(_ text: String, _ environment: [String: String], where place: String) throws(PGStoreError) -> String {
        guard text.contains("${") else { return text }
        var out = ""
        var rest = text[...]
        while let open = rest.range(of: "${") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                throw invalid("\(place): an unclosed ${ in the value")
            }
            let body = rest[open.upperBound..<close]
            let (name, fallback): (Substring, Substring?) = {
                if let r = body.range(of: ":-") { return (body[..<r.lowerBound], body[r.upperBound...]) }
                return (body, nil)
            }()
            if let value = environment[String(name)], !value.isEmpty {
                out += value
            } else if let fallback {
                out += fallback
            } else {
                throw invalid("\(place): the environment variable \(name) is not set")
            }
            rest = rest[rest.index(after: close)...]
        }
        out += rest
        return out
    }
}
