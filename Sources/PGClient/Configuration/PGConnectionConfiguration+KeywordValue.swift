import PGWire

extension PGConnectionConfiguration {
    /// Parses a libpq keyword/value connection string ("conninfo").
    ///
    /// Settings are `keyword=value` pairs separated by whitespace; spaces around `=` are allowed. A value
    /// that is empty or contains spaces is written in single quotes; inside or outside quotes, a backslash
    /// takes the next character literally (`\'`, `\\`). The keywords are the same as the URL's query keys
    /// (see `init(url:environment:)`); a keyword given twice takes its last value; unknown keywords are errors.
    /// An empty value means "the default" (and, as in libpq, hides the environment variable).
    ///
    /// ```swift
    /// let config = try PGConnectionConfiguration(
    ///     keywordValue: #"host=db1,db2 port=5432 dbname='my db' user=app password='it\'s' sslmode=verify-full"#)
    /// // config.database == "my db", config.password == "it's"
    /// let local = try PGConnectionConfiguration(keywordValue: "host=/var/run/postgresql user = postgres")
    /// // local.hosts == [.unixSocket(path: "/var/run/postgresql/.s.PGSQL.5432")]
    /// ```
    ///
    /// - Parameter environment: variables such as `PGPASSWORD` that supply what the string leaves out
    ///   (see `environmentVariableNames`); empty by default.
    /// - Throws: `PGError` with code `.invalidConfiguration` saying what is wrong (never showing the password).
    public init(keywordValue: String, environment: [String: String] = [:]) throws(PGError) {
        try self.init(keywordValue: keywordValue, environment: environment, system: .system)
    }

    init(keywordValue: String, environment: [String: String], system: SystemDefaults) throws(PGError) {
        try self.init(explicit: Self.parseKeywordValue(keywordValue), environment: environment, system: system)
    }

    /// The keyword → value pairs a conninfo string holds.
    static func parseKeywordValue(_ string: String) throws(PGError) -> RawOptions {
        let b = Array(string.utf8)
        let n = b.count
        var i = 0
        var raw = RawOptions()
        // The token after an unquoted password may be the rest of a password with a space: never shown.
        var afterUnquotedPassword = false

        func skipSpaces() {
            while i < n, isSpace(b[i]) { i += 1 }
        }

        while true {
            skipSpaces()
            if i == n { break }
            let origin: Origin = afterUnquotedPassword ? .keywordValueHidingValues : .keywordValue

            // keyword, up to "=" or whitespace
            let nameStart = i
            while i < n, b[i] != UInt8(ascii: "="), !isSpace(b[i]) { i += 1 }
            let name = String(decoding: b[nameStart..<i], as: UTF8.self)
            skipSpaces()
            guard i < n, b[i] == UInt8(ascii: "=") else {
                throw configurationError("missing \"=\" after\(origin.quote(name, hidden: " a keyword")) in connection string\(origin.suffix)")
            }
            i += 1
            skipSpaces()

            // value: quoted or bare
            var value: [UInt8] = []
            let quoted = i < n && b[i] == UInt8(ascii: "'")
            if quoted {
                i += 1
                while true {
                    guard i < n else {
                        let what = name == "password" ? "" : " in the value of\(origin.quote(name))"
                        throw configurationError("unterminated quoted string\(what) in connection string\(origin.suffix)")
                    }
                    let c = b[i]
                    if c == UInt8(ascii: "\\") {
                        i += 1
                        if i < n { value.append(b[i]); i += 1 }
                    } else if c == UInt8(ascii: "'") {
                        i += 1
                        break
                    } else {
                        value.append(c)
                        i += 1
                    }
                }
            } else {
                while i < n, !isSpace(b[i]) {
                    if b[i] == UInt8(ascii: "\\") {
                        i += 1
                        if i < n { value.append(b[i]); i += 1 }
                    } else {
                        value.append(b[i])
                        i += 1
                    }
                }
            }
            try raw.set(name, String(decoding: value, as: UTF8.self), origin: origin)
            afterUnquotedPassword = name == "password" && !quoted
        }
        return raw
    }

    /// C's `isspace` in the C locale.
    private static func isSpace(_ c: UInt8) -> Bool {
        c == 0x20 || (0x09...0x0D).contains(c)
    }
}
