@testable import PGClient
import PGWire
import Testing

private typealias Config = PGConnectionConfiguration

/// A machine with no server sockets (unless given) whose OS user is "osuser".
private func machine(sockets: Set<String> = [], user: String? = "osuser") -> Config.SystemDefaults {
    Config.SystemDefaults(
        socketDirectories: ["/var/run/postgresql", "/tmp"],
        fileExists: { sockets.contains($0) },
        currentUserName: { user })
}

private func url(_ s: String, env: [String: String] = [:], sockets: Set<String> = []) throws -> Config {
    try Config(url: s, environment: env, system: machine(sockets: sockets))
}

private func kv(_ s: String, env: [String: String] = [:], sockets: Set<String> = []) throws -> Config {
    try Config(keywordValue: s, environment: env, system: machine(sockets: sockets))
}

private func any(_ s: String, env: [String: String] = [:]) throws -> Config {
    try Config(s, environment: env, system: machine())
}

/// The `.invalidConfiguration` error `body` throws, or nil (recording a failure) when it throws none.
private func configError(
    _ body: () throws -> Config, sourceLocation: SourceLocation = #_sourceLocation
) -> PGError? {
    let error = #expect(throws: PGError.self, sourceLocation: sourceLocation) { _ = try body() }
    #expect(error?.code == .invalidConfiguration, sourceLocation: sourceLocation)
    return error
}

// MARK: - URLs

@Suite struct URLConfigurationTests {
    @Test func fullURL() throws {
        let c = try url("postgres://user:p%40ss@host:5432/db?application_name=x&connect_timeout=5")
        #expect(c.hosts == [.tcp(host: "host", port: 5432)])
        #expect(c.user == "user")
        #expect(c.password == "p@ss")
        #expect(c.database == "db")
        #expect(c.applicationName == "x")
        #expect(c.connectTimeout == .seconds(5))
        #expect(c.sslMode == .prefer)
        #expect(c.channelBinding == .prefer)
        #expect(c.maxMessageLength == 1 << 30)
        #expect(c.statementTimeout == nil)
    }

    @Test func defaults() throws {
        let c = try url("postgresql://db.example.com")
        #expect(c.hosts == [.tcp(host: "db.example.com", port: 5432)])
        #expect(c.user == "osuser")
        #expect(c.password == nil)
        #expect(c.database == "osuser")
        #expect(c.applicationName == nil)
        #expect(c.connectTimeout == .seconds(10))
        #expect(c.options == nil)
        #expect(c.sslNegotiation == .postgres)
        #expect(c.targetSessionAttributes == .any)
        #expect(c.loadBalanceHosts == .disable)
        #expect(try url("postgres://").hosts == [.tcp(host: "localhost", port: 5432)])
        #expect(try url("POSTGRES://h").hosts == [.tcp(host: "h", port: 5432)])
    }

    @Test func databaseDefaultsToUser() throws {
        #expect(try url("postgres://alice@h").database == "alice")
        #expect(try url("postgres://alice@h/").database == "alice")
        // Empty user and password are "not set", as in libpq.
        let c = try url("postgres://:@h/db")
        #expect(c.user == "osuser")
        #expect(c.password == nil)
    }

    @Test func percentDecoding() throws {
        let c = try url("postgres://us%65r:p%3Aw%2Fd%25%20x@h%6Fst:54%332/my%20db?application_name=a%26b+c")
        #expect(c.user == "user")
        #expect(c.password == "p:w/d% x")
        #expect(c.hosts == [.tcp(host: "host", port: 5432)])
        #expect(c.database == "my db")
        #expect(c.applicationName == "a&b+c")  // "+" is not a space in libpq URLs
        #expect(try url("postgres://h/%C3%A9t%C3%A9").database == "été")
        #expect(try url("postgres://u:a:b@h").password == "a:b")  // the first ":" separates
    }

    @Test func ipv6() throws {
        let c = try url("postgres://[::1]:5433/db")
        #expect(c.hosts == [.tcp(host: "::1", port: 5433)])
        #expect(c.hosts[0].description == "[::1]:5433")
        #expect(try url("postgres://[2001:db8::2]/db").hosts == [.tcp(host: "2001:db8::2", port: 5432)])
        #expect(try url("postgres://u@[fe80::1%25eth0]?sslmode=disable").hosts == [.tcp(host: "fe80::1%eth0", port: 5432)])
    }

    @Test func multipleHosts() throws {
        let c = try url("postgres://h1:5432,h2:5433,[::1]/db")
        #expect(c.hosts == [.tcp(host: "h1", port: 5432), .tcp(host: "h2", port: 5433), .tcp(host: "::1", port: 5432)])
        // As in libpq, a port list is not a thing of its own: "2" is a fourth host here.
        #expect(try url("postgres://a,b,c:1,2/db").hosts
            == [.tcp(host: "a", port: 5432), .tcp(host: "b", port: 5432), .tcp(host: "c", port: 1), .tcp(host: "2", port: 5432)])
        #expect(try url("postgres://h1,h2:6000/db").hosts == [.tcp(host: "h1", port: 5432), .tcp(host: "h2", port: 6000)])
        // One port applies to every host.
        #expect(try url("postgres://h1,h2/db?port=6000").hosts == [.tcp(host: "h1", port: 6000), .tcp(host: "h2", port: 6000)])
        let q = try url("postgres:///db?host=a,b&port=1,2&target_session_attrs=read-write&load_balance_hosts=random")
        #expect(q.hosts == [.tcp(host: "a", port: 1), .tcp(host: "b", port: 2)])
        #expect(q.targetSessionAttributes == .readWrite)
        #expect(q.loadBalanceHosts == .random)
    }

    @Test func unixSockets() throws {
        #expect(try url("postgres://%2Fvar%2Frun%2Fpostgresql/db").hosts
            == [.unixSocket(path: "/var/run/postgresql/.s.PGSQL.5432")])
        #expect(try url("postgresql://%2Ftmp:6543/db").hosts == [.unixSocket(path: "/tmp/.s.PGSQL.6543")])
        let q = try url("postgres:///db?host=/var/run/postgresql")
        #expect(q.hosts == [.unixSocket(path: "/var/run/postgresql/.s.PGSQL.5432")])
        #expect(q.database == "db")
        #expect(try url("postgres://u@/db?host=/tmp/&port=5433").hosts == [.unixSocket(path: "/tmp/.s.PGSQL.5433")])
        #expect(try url("postgres:///db?host=%40abstract").hosts == [.unixSocket(path: "@abstract/.s.PGSQL.5432")])
        #expect(try url("postgres://%2Ftmp,remote:5433/db").hosts
            == [.unixSocket(path: "/tmp/.s.PGSQL.5432"), .tcp(host: "remote", port: 5433)])
    }

    @Test func defaultHostIsALocalSocketWhenOneExists() throws {
        let both: Set = ["/var/run/postgresql/.s.PGSQL.5432", "/tmp/.s.PGSQL.5432"]
        #expect(try url("postgres:///db", sockets: both).hosts == [.unixSocket(path: "/var/run/postgresql/.s.PGSQL.5432")])
        #expect(try url("postgres:///db", sockets: ["/tmp/.s.PGSQL.5432"]).hosts == [.unixSocket(path: "/tmp/.s.PGSQL.5432")])
        // The socket for another port does not count.
        #expect(try url("postgres://:5433/db", sockets: both).hosts == [.tcp(host: "localhost", port: 5433)])
        #expect(try url("postgres://:5433/db", sockets: ["/tmp/.s.PGSQL.5433"]).hosts == [.unixSocket(path: "/tmp/.s.PGSQL.5433")])
        #expect(try url("postgres:///db").hosts == [.tcp(host: "localhost", port: 5432)])
    }

    @Test func queryParameters() throws {
        let c = try url(
            "postgres://u@h/db?sslmode=verify-full&sslrootcert=/ca.pem&sslcert=/c.pem&sslkey=/k.pem"
                + "&channel_binding=require&options=-c%20search_path%3Dapp&statement_timeout=1500"
                + "&max_message_length=1048576&sslnegotiation=direct&target_session_attrs=prefer-standby"
                + "&keepalives=1&keepalives_idle=30&keepalives_interval=5&keepalives_count=3&tcp_user_timeout=0"
                + "&sslsni=1&sslcompression=0&client_encoding=UTF8&gssencmode=disable&password=pw&dbname=other&user=v")
        #expect(c.sslMode == .verifyFull)
        #expect(c.sslRootCert == "/ca.pem")
        #expect(c.sslCert == "/c.pem")
        #expect(c.sslKey == "/k.pem")
        #expect(c.channelBinding == .require)
        #expect(c.options == "-c search_path=app")
        #expect(c.statementTimeout == .milliseconds(1500))
        #expect(c.maxMessageLength == 1_048_576)
        #expect(c.sslNegotiation == .direct)
        #expect(c.targetSessionAttributes == .preferStandby)
        #expect(c.tcpKeepalive == .init(idle: .seconds(30), interval: .seconds(5), count: 3))
        #expect(c.tcpUserTimeout == nil)  // 0: the system's default
        #expect(c.password == "pw")
        #expect(c.database == "other")  // the query overrides the path
        #expect(c.user == "v")
    }

    @Test func keepalivesAreOnByDefaultAndFollowLibpqKeywords() throws {
        #expect(try url("postgres://h/db").tcpKeepalive == .init())
        #expect(try url("postgres://h/db").tcpUserTimeout == nil)
        #expect(try url("postgres://h/db?keepalives=0&keepalives_idle=30").tcpKeepalive == nil)
        #expect(try url("postgres://h/db?keepalives_idle=0&keepalives_count=-1").tcpKeepalive == .init())
        #expect(try url("postgres://h/db?tcp_user_timeout=2500").tcpUserTimeout == .milliseconds(2500))
        #expect(try any("host=h keepalives_interval=7").tcpKeepalive == .init(interval: .seconds(7)))
    }

    @Test func sslModes() throws {
        for (text, mode) in [("disable", Config.SSLMode.disable), ("allow", .allow), ("prefer", .prefer),
                             ("require", .require), ("verify-ca", .verifyCA), ("verify-full", .verifyFull)] {
            #expect(try url("postgres://h?sslmode=\(text)").sslMode == mode)
            #expect(try kv("sslmode=\(text)").sslMode == mode)
        }
        #expect(try url("postgres://h?ssl=true").sslMode == .require)
        #expect(try url("postgres://h?sslrootcert=system").sslMode == .verifyFull)
        #expect(try url("postgres://h?sslrootcert=system&sslmode=verify-full").sslRootCert == "system")
    }

    @Test func timeouts() throws {
        #expect(try url("postgres://h?connect_timeout=%2030%20").connectTimeout == .seconds(30))
        #expect(try url("postgres://h?connect_timeout=0").connectTimeout == Config.noConnectTimeout)
        #expect(try url("postgres://h?statement_timeout=0").statementTimeout == nil)
        #expect(try url("postgres://h?application_name=").applicationName == nil)
    }

    @Test func applicationNameFallback() throws {
        #expect(try url("postgres://h?fallback_application_name=fb").applicationName == "fb")
        #expect(try url("postgres://h?fallback_application_name=fb&application_name=app").applicationName == "app")
    }

    @Test func trailingSeparatorsAreHarmless() throws {
        #expect(try url("postgres://h/db?").database == "db")
        #expect(try url("postgres://h/db?application_name=a&").applicationName == "a")
    }
}

// MARK: - Keyword/value strings

@Suite struct KeywordValueConfigurationTests {
    @Test func basic() throws {
        let c = try kv("host=localhost port=5433 dbname=mydb user=u password=secret application_name=app")
        #expect(c.hosts == [.tcp(host: "localhost", port: 5433)])
        #expect(c.user == "u")
        #expect(c.password == "secret")
        #expect(c.database == "mydb")
        #expect(c.applicationName == "app")
    }

    @Test func quotingAndEscapes() throws {
        let c = try kv(#"dbname='my db' password='it\'s' user=a\ b application_name='back\\slash' options='-c x=1'"#)
        #expect(c.database == "my db")
        #expect(c.password == "it's")
        #expect(c.user == "a b")
        #expect(c.applicationName == #"back\slash"#)
        #expect(c.options == "-c x=1")
        #expect(try kv("user='' dbname=d").user == "osuser")  // empty means default
        #expect(try kv("user=u dbname='été'").database == "été")
        #expect(try kv("user='a'dbname='b'").database == "b")  // no space needed after a quote
    }

    @Test func whitespace() throws {
        let c = try kv("  host = h1 \t port=\n1234  user =u   dbname= d  ")
        #expect(c.hosts == [.tcp(host: "h1", port: 1234)])
        #expect(c.user == "u")
        #expect(c.database == "d")
    }

    @Test func empty() throws {
        let c = try kv("")
        #expect(c.hosts == [.tcp(host: "localhost", port: 5432)])
        #expect(c.user == "osuser")
        #expect(c.database == "osuser")
        #expect(try kv("   ") == c)
    }

    @Test func hosts() throws {
        #expect(try kv("host=h1,h2 port=1,2").hosts == [.tcp(host: "h1", port: 1), .tcp(host: "h2", port: 2)])
        #expect(try kv("host=/var/run/postgresql").hosts == [.unixSocket(path: "/var/run/postgresql/.s.PGSQL.5432")])
        #expect(try kv("host=::1 port=5433").hosts == [.tcp(host: "::1", port: 5433)])
        #expect(try kv("host=/tmp,h port=7").hosts == [.unixSocket(path: "/tmp/.s.PGSQL.7"), .tcp(host: "h", port: 7)])
        #expect(try kv("host=a,b port=,9").hosts == [.tcp(host: "a", port: 5432), .tcp(host: "b", port: 9)])
    }

    @Test func lastValueWins() throws {
        #expect(try kv("user=a user=b").user == "b")
    }

    @Test func sameAsURL() throws {
        let a = try kv("host=h port=5433 user=u password=p dbname=d sslmode=require")
        let b = try url("postgres://u:p@h:5433/d?sslmode=require")
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
    }

    @Test func syntaxIsChosenByPrefix() throws {
        #expect(try any("postgres://u@h/d").database == "d")
        #expect(try any("postgresql://u@h/d").database == "d")
        #expect(try any("user=u dbname=d").database == "d")
        #expect(try any("").user == "osuser")
    }
}

// MARK: - Environment

@Suite struct EnvironmentConfigurationTests {
    static let fullEnvironment = [
        "PGHOST": "envhost", "PGPORT": "6000", "PGUSER": "envuser", "PGPASSWORD": "envpw", "PGDATABASE": "envdb",
        "PGAPPNAME": "envapp", "PGCONNECT_TIMEOUT": "7", "PGSSLMODE": "require", "PGSSLROOTCERT": "/r.pem",
        "PGSSLCERT": "/c.pem", "PGSSLKEY": "/k.pem", "PGCHANNELBINDING": "disable", "PGOPTIONS": "-c geqo=off",
        "PGTARGETSESSIONATTRS": "read-only", "PGLOADBALANCEHOSTS": "random", "PGSSLNEGOTIATION": "direct",
        "PGHOSTADDR": "10.0.0.1", "UNRELATED": "x",
    ]

    @Test func fromEnvironment() throws {
        let c = try Config.fromEnvironment(Self.fullEnvironment, system: machine())
        #expect(c.hosts == [.tcp(host: "envhost", port: 6000)])
        #expect(c.user == "envuser")
        #expect(c.password == "envpw")
        #expect(c.database == "envdb")
        #expect(c.applicationName == "envapp")
        #expect(c.connectTimeout == .seconds(7))
        #expect(c.sslMode == .require)
        #expect(c.sslRootCert == "/r.pem")
        #expect(c.sslCert == "/c.pem")
        #expect(c.sslKey == "/k.pem")
        #expect(c.channelBinding == .disable)
        #expect(c.options == "-c geqo=off")
        #expect(c.targetSessionAttributes == .readOnly)
        #expect(c.loadBalanceHosts == .random)
        #expect(c.sslNegotiation == .direct)
    }

    @Test func emptyEnvironmentGivesDefaults() throws {
        let c = try Config.fromEnvironment([:], system: machine(sockets: ["/tmp/.s.PGSQL.5432"]))
        #expect(c.hosts == [.unixSocket(path: "/tmp/.s.PGSQL.5432")])
        #expect(c.user == "osuser")
        #expect(c.database == "osuser")
        #expect(try Config.fromEnvironment(["PGUSER": "bob"], system: machine()).database == "bob")
        #expect(try Config.fromEnvironment(["PGHOST": "/run/pg", "PGPORT": "5433"], system: machine()).hosts
            == [.unixSocket(path: "/run/pg/.s.PGSQL.5433")])
    }

    @Test func stringsOverrideTheEnvironment() throws {
        let env = ["PGHOST": "other", "PGPORT": "6000", "PGUSER": "envuser", "PGPASSWORD": "envpw", "PGSSLMODE": "disable"]
        let c = try url("postgres://h/db?sslmode=require", env: env)
        #expect(c.hosts == [.tcp(host: "h", port: 6000)])  // the URL's host, the environment's port
        #expect(c.user == "envuser")
        #expect(c.password == "envpw")
        #expect(c.database == "db")
        #expect(c.sslMode == .require)
        let k = try kv("user=me port=1", env: env)
        #expect(k.hosts == [.tcp(host: "other", port: 1)])
        #expect(k.user == "me")
        #expect(k.database == "me")  // PGDATABASE unset: the database follows the user the string gave
        #expect(try url("postgres://me@h", env: ["PGDATABASE": "envdb"]).database == "envdb")
    }

    @Test func explicitEmptyValueHidesTheEnvironment() throws {
        // As in libpq: host='' is "set, to the default", so PGHOST is not consulted.
        #expect(try kv("host=''", env: ["PGHOST": "envhost"]).hosts == [.tcp(host: "localhost", port: 5432)])
        // A URL never sets an empty user, so PGUSER applies.
        #expect(try url("postgres://@h", env: ["PGUSER": "envuser"]).user == "envuser")
    }

    @Test func noEnvironmentByDefault() throws {
        // The public initialisers take an empty environment unless told otherwise.
        let c = try Config("postgres://u@h/d", useEnvironment: false)
        #expect(c == (try Config("postgres://u@h/d")))
        #expect(c.password == nil)
    }

    @Test func environmentVariableNames() {
        #expect(Config.environmentVariableNames.contains("PGHOST"))
        #expect(Config.environmentVariableNames.contains("PGPASSWORD"))
        #expect(Config.environmentVariableNames.count == 17)
    }

    @Test func environmentErrorsNameTheVariable() {
        #expect(configError { try Config.fromEnvironment(["PGPORT": "abc"], system: machine()) }?.message
            == #"invalid port "abc" in PGPORT: expected a number from 1 to 65535"#)
        #expect(configError { try Config.fromEnvironment(["PGSSLMODE": "on"], system: machine()) }?.message
            == #"invalid sslmode "on" in PGSSLMODE: expected one of disable, allow, prefer, require, verify-ca, verify-full"#)
        #expect(configError { try kv("user=u", env: ["PGCONNECT_TIMEOUT": "soon"]) }?.message
            == #"invalid connect_timeout "soon" in PGCONNECT_TIMEOUT: expected a number of seconds"#)
    }
}

// MARK: - Building in code

@Suite struct CodeConfigurationTests {
    @Test func memberwise() {
        let c = Config(user: "u")
        #expect(c.hosts == [.tcp(host: "localhost", port: 5432)])
        #expect(c.database == "u")
        #expect(c.password == nil)
        let d = Config(host: "db", port: 6543, user: "u", password: "p", database: "d")
        #expect(d.hosts == [.tcp(host: "db", port: 6543)])
        #expect(d.password == "p")
        #expect(d.database == "d")
        let s = Config(unixSocketPath: "/tmp/.s.PGSQL.5432", user: "u")
        #expect(s.hosts == [.unixSocket(path: "/tmp/.s.PGSQL.5432")])
        let m = Config(hosts: [.tcp(host: "a", port: 1), .unixSocket(directory: "/run/")], user: "u")
        #expect(m.hosts[1] == .unixSocket(path: "/run/.s.PGSQL.5432"))
    }

    @Test func endpoints() {
        #expect(Config.Endpoint.unixSocket(directory: "/", port: 1) == .unixSocket(path: "/.s.PGSQL.1"))
        #expect(Config.Endpoint.unixSocket(directory: "/tmp//", port: 2) == .unixSocket(path: "/tmp/.s.PGSQL.2"))
        #expect(Config.Endpoint.tcp(host: "h", port: 1).description == "h:1")
        #expect(Config.Endpoint.unixSocket(path: "/tmp/.s.PGSQL.5432").description == "/tmp/.s.PGSQL.5432")
    }

    @Test func descriptionsRedactThePassword() throws {
        var c = try url("postgres://bob:Hunter2Secret@h/db?application_name=app")
        c.extraStartupParameters = ["search_path": "app"]
        for text in [c.description, c.debugDescription, "\(c)", String(reflecting: c)] {
            #expect(!text.contains("Hunter2"))
            #expect(text.contains("<redacted>"))
            #expect(text.contains("bob"))
        }
        #expect(c.debugDescription.contains("search_path"))
        #expect(!Config(user: "u").description.contains("password"))
    }

    @Test func enumSpellings() {
        #expect(Config.SSLMode.allCases.map(\.description) == ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"])
        #expect(Config.TargetSessionAttributes.allCases.map(\.rawValue)
            == ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"])
        #expect(Config.ChannelBinding.allCases.map(\.rawValue) == ["disable", "prefer", "require"])
    }
}

// MARK: - Errors

@Suite struct ConfigurationErrorTests {
    @Test(arguments: [
        // URL structure
        ("postgres://h:abc/db", #"invalid port "abc" in URL: expected a number from 1 to 65535"#),
        ("postgres://h:0/db", #"invalid port "0" in URL: expected a number from 1 to 65535"#),
        ("postgres://h:65536/db", #"invalid port "65536" in URL: expected a number from 1 to 65535"#),
        ("postgres://h?port=-1", #"invalid port "-1" in URL: expected a number from 1 to 65535"#),
        ("postgres://[::1/db", #"missing "]" after an IPv6 host address in URL"#),
        ("postgres://[]/db", "empty IPv6 host address in URL"),
        ("postgres://[::1]x/db", #"unexpected character "x" after an IPv6 host address in URL: expected ":", "/", "?" or ",""#),
        ("postgres://a,,b/db", #"empty host in host list "a,,b" in URL"#),
        ("postgres://a,b,c/db?port=1,2", "could not match 2 port numbers to 3 hosts"),
        // percent-encoding
        ("postgres://h%zz/db", #"invalid percent-encoding "%zz" in host in URL"#),
        ("postgres://h/db%4", #"invalid percent-encoding "%4" in database name in URL"#),
        ("postgres://h/d%00b", #"forbidden percent-encoding "%00" in database name in URL"#),
        ("postgres://h/%FF", "percent-encoded database name in URL is not valid UTF-8"),
        ("postgres://u%2@h/db", #"invalid percent-encoding "%2" in user name in URL"#),
        ("postgres://h?application_name=%G1", #"invalid percent-encoding "%G1" in value of query parameter "application_name" in URL"#),
        // query
        ("postgres://h?foo=1", #"unknown connection option "foo" in URL"#),
        ("postgres://h?hostaddr=1.2.3.4", #"connection option "hostaddr" is not supported by Tusk in URL"#),
        ("postgres://h?sslmode", #"missing "=" in query parameter "sslmode" in URL"#),
        ("postgres://h?sslmode=disable&&b=2", #"missing "=" in query parameter "" in URL"#),
        ("postgres://h?options=-c%20a=b", #"extra "=" in query parameter "options" in URL (percent-encode it as %3D)"#),
        ("postgres://h?ssl=false", #"invalid ssl "false" in URL: expected true"#),
        ("postgres://h?=x", "empty connection option name in URL"),
        // values
        ("postgres://h?sslmode=x", #"invalid sslmode "x" in URL: expected one of disable, allow, prefer, require, verify-ca, verify-full"#),
        ("postgres://h?sslmode=REQUIRE", #"invalid sslmode "REQUIRE" in URL: expected one of disable, allow, prefer, require, verify-ca, verify-full"#),
        ("postgres://h?channel_binding=maybe", #"invalid channel_binding "maybe" in URL: expected one of disable, prefer, require"#),
        ("postgres://h?target_session_attrs=rw", #"invalid target_session_attrs "rw" in URL: expected one of any, read-write, read-only, primary, standby, prefer-standby"#),
        ("postgres://h?load_balance_hosts=yes", #"invalid load_balance_hosts "yes" in URL: expected one of disable, random"#),
        ("postgres://h?sslnegotiation=tls", #"invalid sslnegotiation "tls" in URL: expected one of postgres, direct"#),
        ("postgres://h?connect_timeout=5s", #"invalid connect_timeout "5s" in URL: expected a number of seconds"#),
        ("postgres://h?statement_timeout=-1", #"invalid statement_timeout "-1" in URL: expected a number of milliseconds (0 for none)"#),
        ("postgres://h?statement_timeout=1.5", #"invalid statement_timeout "1.5" in URL: expected a number of milliseconds (0 for none)"#),
        ("postgres://h?max_message_length=10", #"invalid max_message_length "10" in URL: expected a number of bytes from 1024 to 2147483647"#),
        ("postgres://h?keepalives=yes", #"invalid keepalives "yes" in URL: expected 1 (on) or 0 (off)"#),
        ("postgres://h?keepalives_idle=1m", #"invalid keepalives_idle "1m" in URL: expected a number of seconds"#),
        ("postgres://h?keepalives_count=x", #"invalid keepalives_count "x" in URL: expected a number of probes"#),
        ("postgres://h?tcp_user_timeout=1.5", #"invalid tcp_user_timeout "1.5" in URL: expected a number of milliseconds (0 for the system's default)"#),
        ("postgres://h?client_encoding=LATIN1", #"unsupported client_encoding "LATIN1" in URL: Tusk always uses UTF8"#),
        ("postgres://h?gssencmode=require", #"gssencmode "require" in URL is not supported by Tusk"#),
        ("postgres://h?gssencmode=on", #"invalid gssencmode "on" in URL: expected one of disable, prefer, require"#),
        ("postgres://h?sslrootcert=system&sslmode=require", #"weak sslmode "require" in URL may not be used with sslrootcert=system (use "verify-full")"#),
        // keyword/value
        ("foo=1", #"unknown connection option "foo""#),
        ("host=h service=x", #"connection option "service" is not supported by Tusk"#),
        ("host localhost", #"missing "=" after "host" in connection string"#),
        ("host", #"missing "=" after "host" in connection string"#),
        ("=x", "empty connection option name"),
        ("dbname='abc", #"unterminated quoted string in the value of "dbname" in connection string"#),
        ("port=abc", #"invalid port "abc": expected a number from 1 to 65535"#),
        ("host=a,,b", #"empty host in host list "a,,b""#),
        ("host=a, port=1", #"empty host in host list "a,""#),
        ("host=a,b,c port=1,2", "could not match 2 port numbers to 3 hosts"),
        ("sslmode=x", #"invalid sslmode "x": expected one of disable, allow, prefer, require, verify-ca, verify-full"#),
    ])
    func invalid(input: String, message: String) {
        let error = configError { try any(input) }
        #expect(error?.message == message)
        #expect(error?.description == "PGError.invalidConfiguration: \(message)")
    }

    @Test func noUserName() {
        let error = configError { try Config(keywordValue: "host=h", environment: [:], system: machine(user: nil)) }
        #expect(error?.message == "could not determine the user name: set user explicitly")
        #expect((try? Config(keywordValue: "user=u", environment: [:], system: machine(user: nil)))?.user == "u")
    }

    @Test func urlEntryPointRejectsKeywordValue() {
        let expected = #"invalid URL: expected it to start with "postgres://" or "postgresql://""#
        #expect(configError { try Config(url: "host=h") }?.message == expected)
        #expect(configError { try Config(url: "mysql://u:Sup3rSecret@h/db") }?.message == expected)
    }
}

// MARK: - The password never leaks

@Suite struct PasswordSecrecyTests {
    /// Malformed inputs holding the password "Sup3rSecret" (or pieces of it) where a naive parser would
    /// repeat it in an error message.
    @Test(arguments: [
        "postgres://u:Sup3rSecret/x@host/db",          // "/" in the password: the URL splits there
        "postgres://u:Sup3r?Secret/x@host/db",         // "?" and "/" in the password
        "postgres://u:Sup3r@Secret@host/db",           // "@" in the password
        "postgres://u:Sup3r%zzSecret@h/db",            // bad percent-encoding in the password
        "postgres://u:Sup3r%00Secret@h/db",
        "postgres://u:Sup3r%FFSecret@h/db",
        "postgres://h/db?password=Sup3r%zzSecret",
        "postgres://h/db?password=Sup3r&Secret",       // "&" in the password
        "postgres://h/db?password=Sup3r&Secret=1",
        "postgres://h/db?password=Sup3r=Secret",       // "=" in the password
        "postgres://u:Sup3rSecret@h:bad/db",
        "postgres://u:Sup3rSecret@h/db?sslmode=bad",
        "password=Sup3r Secret host=h",                // unquoted space in the password
        "password=Sup3r Secret=x",
        "password='Sup3rSecret",                       // unterminated quote
        "password=Sup3rSecret port=x",
        "password=Sup3rSecret,x host=h port=1,2",
    ])
    func errorsNeverContainThePassword(input: String) {
        guard let error = configError({ try any(input) }) else { return }
        for text in [error.message, error.description, error.debugDescription, "\(error)"] {
            #expect(!text.contains("Sup3r"), "\(text)")
            #expect(!text.contains("Secret"), "\(text)")
        }
    }

    @Test func environmentPasswordNeverLeaks() {
        let env = ["PGPASSWORD": "Sup3rSecret", "PGPORT": "x"]
        let error = configError { try Config.fromEnvironment(env, system: machine()) }
        #expect(error.map { !$0.debugDescription.contains("Sup3r") } == true)
    }

    @Test func hiddenValuesSayWhy() {
        let error = configError { try any("postgres://u:Sup3rSecret/x@host/db") }
        #expect(error?.message.hasPrefix("invalid port in URL (not shown: the URL may contain a password") == true)
        let kvError = configError { try any("password=Sup3r Secret host=h") }
        #expect(kvError?.message.hasPrefix(#"missing "=" after a keyword in connection string (not shown"#) == true)
    }
}
