import PGWire

extension PGConnectionConfiguration {
    /// Parses a connection URL exactly as libpq does.
    ///
    /// ```
    /// postgres[ql]://[user[:password]@][host][:port][,host[:port]…][/dbname][?keyword=value&…]
    /// ```
    ///
    /// - User, password, hosts, ports, database name and query keys and values are percent-decoded
    ///   (`%40` is `@`; `+` stays `+`).
    /// - IPv6 addresses go in brackets: `postgres://[::1]:5432/db`.
    /// - Several hosts are separated by commas and tried in order: `postgres://h1:5432,h2:5433/db`.
    ///   A single port applies to every host.
    /// - A host that is an absolute path is a Unix socket directory, either percent-encoded
    ///   (`postgres://%2Fvar%2Frun%2Fpostgresql/db`) or in the query (`postgres:///db?host=/tmp`);
    ///   the socket is `<dir>/.s.PGSQL.<port>`.
    /// - Query keys are libpq's keywords: `host`, `port`, `user`, `password`, `dbname`, `application_name`,
    ///   `fallback_application_name`, `connect_timeout` (seconds), `options`, `sslmode`, `sslnegotiation`,
    ///   `sslrootcert`, `sslcert`, `sslkey`, `channel_binding`, `target_session_attrs`, `load_balance_hosts`,
    ///   `client_encoding` (UTF8 only), `gssencmode` (not `require`), `keepalives`, `keepalives_idle`,
    ///   `keepalives_interval`, `keepalives_count`, `tcp_user_timeout`; `sslcompression` and `sslsni` are
    ///   accepted and ignored; `ssl=true` means `sslmode=require`.
    ///   Tusk adds `statement_timeout` (milliseconds) and `max_message_length` (bytes).
    ///   A value in the query overrides the same setting earlier in the URL. Unknown keys are errors.
    ///
    /// ```swift
    /// let config = try PGConnectionConfiguration(
    ///     url: "postgres://app:p%40ss@db.internal:5432/orders?application_name=api&connect_timeout=5")
    /// // config.hosts == [.tcp(host: "db.internal", port: 5432)], config.password == "p@ss"
    /// ```
    ///
    /// - Parameter environment: variables such as `PGPASSWORD` that supply what the URL leaves out
    ///   (see `environmentVariableNames`); empty by default.
    /// - Throws: `PGError` with code `.invalidConfiguration` saying what is wrong (never showing the password).
    public init(url: String, environment: [String: String] = [:]) throws(PGError) {
        try self.init(url: url, environment: environment, system: .system)
    }

    init(url: String, environment: [String: String], system: SystemDefaults) throws(PGError) {
        try self.init(explicit: Self.parseURL(url), environment: environment, system: system)
    }

    static let urlSchemes = ["postgresql://", "postgres://"]

    /// Whether `string` starts with `postgres://` or `postgresql://` (in any case).
    static func isURL(_ string: String) -> Bool {
        schemeLength(Array(string.utf8.prefix(16))) != nil
    }

    private static func schemeLength(_ bytes: [UInt8]) -> Int? {
        for scheme in urlSchemes {
            let s = Array(scheme.utf8)
            if bytes.count >= s.count, zip(bytes, s).allSatisfy({ lowercase($0) == $1 }) { return s.count }
        }
        return nil
    }

    /// The keyword → value pairs a URL holds (see `init(url:environment:)`).
    static func parseURL(_ url: String) throws(PGError) -> RawOptions {
        let b = Array(url.utf8)
        guard let prefix = schemeLength(Array(b.prefix(16))) else {
            throw configurationError("invalid URL: expected it to start with \"postgres://\" or \"postgresql://\"")
        }
        let n = b.count
        var p = prefix
        var raw = RawOptions()

        // user[:password]@ — found by looking for "@" before the first "/".
        var q = p
        while q < n, b[q] != UInt8(ascii: "@"), b[q] != UInt8(ascii: "/") { q += 1 }
        let hasUserInfo = q < n && b[q] == UInt8(ascii: "@")
        // Without user info, an "@" further on suggests a password holding an unencoded "/", "?" or "@":
        // then no value from the URL is repeated in an error message.
        let origin: Origin = !hasUserInfo && b[p...].contains(UInt8(ascii: "@")) ? .urlHidingValues : .url
        if hasUserInfo {
            let colon = b[p..<q].firstIndex(of: UInt8(ascii: ":"))
            let user = b[p..<(colon ?? q)]
            if !user.isEmpty {
                try raw.set("user", percentDecode(user, field: "user name", origin: origin), origin: origin)
            }
            if let colon, colon + 1 < q {
                let password = try percentDecode(b[(colon + 1)..<q], field: "password", origin: origin, secret: true)
                try raw.set("password", password, origin: origin)
            }
            p = q + 1
        }

        // host[:port][,host[:port]…]
        var hostList: [UInt8] = []
        var portList: [UInt8] = []
        var terminator: UInt8? = nil
        while true {
            if p < n, b[p] == UInt8(ascii: "[") {
                p += 1
                let start = p
                while p < n, b[p] != UInt8(ascii: "]") { p += 1 }
                guard p < n else { throw configurationError("missing \"]\" after an IPv6 host address\(origin.suffix)") }
                guard p > start else { throw configurationError("empty IPv6 host address\(origin.suffix)") }
                hostList += b[start..<p]
                p += 1
                if p < n, !isOneOf(b[p], ":/?,") {
                    let c = String(decoding: [b[p]], as: UTF8.self)
                    throw configurationError(
                        "unexpected character\(origin.quote(c)) after an IPv6 host address\(origin.suffix): expected \":\", \"/\", \"?\" or \",\"")
                }
            } else {
                let start = p
                while p < n, !isOneOf(b[p], ":/?,") { p += 1 }
                if b[start..<p].contains(UInt8(ascii: "@")) {
                    throw configurationError(
                        "invalid host\(origin.suffix): it contains \"@\" (percent-encode \"@\" in a user name or password as %40)")
                }
                hostList += b[start..<p]
            }
            terminator = p < n ? b[p] : nil
            if terminator == UInt8(ascii: ":") {
                p += 1
                let start = p
                while p < n, !isOneOf(b[p], "/?,") { p += 1 }
                portList += b[start..<p]
                terminator = p < n ? b[p] : nil
            }
            guard terminator == UInt8(ascii: ",") else { break }
            p += 1
            hostList.append(UInt8(ascii: ","))
            portList.append(UInt8(ascii: ","))
        }
        if !hostList.isEmpty {
            try raw.set("host", percentDecode(hostList[...], field: "host", origin: origin), origin: origin)
        }
        if !portList.isEmpty {
            try raw.set("port", percentDecode(portList[...], field: "port", origin: origin), origin: origin)
        }

        // /dbname
        if terminator == UInt8(ascii: "/") {
            p += 1
            let start = p
            while p < n, b[p] != UInt8(ascii: "?") { p += 1 }
            if p > start {
                try raw.set("dbname", percentDecode(b[start..<p], field: "database name", origin: origin), origin: origin)
            }
            terminator = p < n ? b[p] : nil
        }

        // ?keyword=value&…
        if terminator != nil {
            try parseQuery(b[(p + 1)...], into: &raw, origin: origin)
        }
        return raw
    }

    private static func parseQuery(_ query: ArraySlice<UInt8>, into raw: inout RawOptions, origin: Origin) throws(PGError) {
        var afterPassword = false
        for param in query.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: false) {
            if param.isEmpty, param.endIndex == query.endIndex { break }  // a trailing "&"
            // The parameter right after a password may be the rest of a password with an unencoded "&".
            let paramOrigin: Origin = afterPassword && origin == .url ? .urlHidingValues : origin
            let parts = param.split(separator: UInt8(ascii: "="), maxSplits: 2, omittingEmptySubsequences: false)
            let keyText = String(decoding: parts[0], as: UTF8.self)
            guard parts.count >= 2 else {
                throw configurationError("missing \"=\" in query parameter\(paramOrigin.quote(keyText))\(paramOrigin.suffix)")
            }
            guard parts.count == 2 else {
                throw configurationError(
                    "extra \"=\" in query parameter\(paramOrigin.quote(keyText))\(paramOrigin.suffix) (percent-encode it as %3D)")
            }
            var key = try percentDecode(parts[0], field: "query parameter name", origin: paramOrigin)
            let isPassword = key == "password"
            var value = try percentDecode(
                parts[1], field: isPassword ? "password" : "value of query parameter\(paramOrigin.quote(key))",
                origin: paramOrigin, secret: isPassword)
            if key == "ssl" {  // JDBC's spelling, as libpq accepts it
                guard value == "true" else {
                    throw configurationError("invalid ssl\(paramOrigin.quote(value))\(paramOrigin.suffix): expected true")
                }
                key = "sslmode"
                value = "require"
            }
            try raw.set(key, value, origin: paramOrigin)
            afterPassword = isPassword
        }
    }

    /// Decodes `%XX` escapes; `%00` and invalid UTF-8 are errors. A `secret` field's text is never shown.
    static func percentDecode(
        _ bytes: ArraySlice<UInt8>, field: String, origin: Origin, secret: Bool = false
    ) throws(PGError) -> String {
        guard bytes.contains(UInt8(ascii: "%")) else { return String(decoding: bytes, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let c = bytes[i]
            guard c == UInt8(ascii: "%") else {
                out.append(c)
                i += 1
                continue
            }
            let token = bytes[i..<min(i + 3, bytes.endIndex)]
            let shown = secret ? "" : origin.quote(String(decoding: token, as: UTF8.self))
            guard token.count == 3, let hi = hexValue(token[i + 1]), let lo = hexValue(token[i + 2]) else {
                throw configurationError("invalid percent-encoding\(shown) in \(field)\(origin.suffix)")
            }
            let byte = hi << 4 | lo
            guard byte != 0 else { throw configurationError("forbidden percent-encoding \"%00\" in \(field)\(origin.suffix)") }
            out.append(byte)
            i += 3
        }
        guard let text = String(validating: out, as: UTF8.self) else {
            throw configurationError("percent-encoded \(field)\(origin.suffix) is not valid UTF-8")
        }
        return text
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func isOneOf(_ c: UInt8, _ set: StaticString) -> Bool {
        set.withUTF8Buffer { $0.contains(c) }
    }

    private static func lowercase(_ c: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c) ? c + 32 : c
    }
}
