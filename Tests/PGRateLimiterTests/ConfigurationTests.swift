import Foundation
import PGRateLimiter
import PGStoreSupport
import Testing

/// rate-sync's TOML, read as its users write it (no database needed).
@Suite struct ConfigurationTests {
    static let production = """
        [stores.prod_db]
        engine = "postgres"
        url = "${DATABASE_URL}"
        auto_create = false       # Pre-created by DBA
        pool_min_size = 5
        pool_max_size = 20
        timing_margin_ms = 10.0

        [limiters.api]
        store = "prod_db"
        rate_per_second = 100.0
        max_concurrent = 50
        timeout = 30.0

        [limiters.search]
        store = "prod_db"
        limit = 100
        window_seconds = 60
        fail_closed = false
        """

    @Test func theSeedsProductionExampleReadsAsWritten() throws {
        let c = try PGRateLimiterConfiguration(toml: Self.production, environment: ["DATABASE_URL": "postgres://app:pw@db/app"])
        let store = try #require(c.stores["prod_db"])
        #expect(store.url == "postgres://app:pw@db/app")
        #expect(store.configuration.autoCreate == false)
        #expect(store.configuration.poolMinSize == 5 && store.configuration.poolMaxSize == 20)
        #expect(store.configuration.tableName == "rate_limiter_state" && store.configuration.schemaName == "public")
        let api = try #require(c.limiters["api"])
        #expect(api.limit.algorithm == .gcra && api.limit.ratePerSecond == 100 && api.limit.burst == 1)
        #expect(api.limit.maxConcurrent == 50)
        #expect(api.options.timeout == .seconds(30))
        #expect(api.options.onDatabaseFailure == .failClosed)
        let search = try #require(c.limiters["search"])
        #expect(search.limit.algorithm == .slidingWindow && search.limit.limit == 100 && search.limit.window == .seconds(60))
        #expect(search.options.onDatabaseFailure == .failOpen)
    }

    @Test func aMissingEnvironmentVariableIsNamed() {
        let error = #expect(throws: PGStoreError.self) { _ = try PGRateLimiterConfiguration(toml: Self.production, environment: [:]) }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("DATABASE_URL") == true, "\(String(describing: error))")
        let withDefault = try? PGRateLimiterConfiguration(
            toml: "[stores.db]\nurl = \"${PGURL:-postgres://localhost/x}\"\n", environment: [:])
        #expect(withDefault?.stores["db"]?.url == "postgres://localhost/x")
    }

    @Test(arguments: [
        ("[stores.db]\nurl = \"postgres://x\"\n[limiters.api]\nstore = \"db\"\nrate_per_secnd = 10\n", "rate_per_secnd"),
        ("[stores.db]\nurl = \"postgres://x\"\n[limiters.api]\nstore = \"nope\"\nrate_per_second = 10\n", "nope"),
        ("[stores.db]\nengine = \"redis\"\nurl = \"redis://x\"\n", "redis"),
        ("[stores.db]\nurl = \"postgres://x\"\n[limiters.api]\nstore = \"db\"\nrate_per_second = -1\n", "rate_per_second"),
        ("[stores.db]\nurl = \"postgres://x\"\n[limiters.api]\nstore = \"db\"\nrate_per_second = 5\nlimit = 3\n", "choose one"),
        ("[stores.db]\nurl = \"postgres://x\"\n[limiters.api]\nstore = \"db\"\nlimit = 3\n", "go together"),
        ("[stores.db\nurl = 1", "malformed"),
        ("[stores.db]\nurl = \"postgres://x\"\npool_min_size = 5\npool_max_size = 2\n[limiters.a]\nstore = \"db\"\nmax_concurrent = 2\n", "pool"),
    ])
    func badInputIsATypedErrorThatSaysWhat(_ toml: String, _ mentions: String) throws {
        let error = #expect(throws: PGStoreError.self) {
            let c = try PGRateLimiterConfiguration(toml: toml, environment: [:])
            _ = try PGRateLimiters(configuration: c)
        }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains(mentions) == true, "\(String(describing: error))")
    }

    @Test func timingMarginNeverLoosensALimit() throws {
        let toml = "[stores.db]\nurl = \"postgres://x\"\ntiming_margin_ms = 500\n[limiters.api]\nstore = \"db\"\nrate_per_second = 100\n"
        let c = try PGRateLimiterConfiguration(toml: toml, environment: [:])
        #expect(c.stores["db"]?.configuration.timingMarginMs == 500)
        // The limit stays exactly 100/s, burst 1: the margin is accepted and does not shorten the interval.
        #expect(c.limiters["api"]?.limit == .perSecond(100))
    }
}
