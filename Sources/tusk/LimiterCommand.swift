import ArgumentParser
import Foundation
import PGClient
import PGRateLimiter
import PGStoreSupport

/// `tusk limiter`: each rate limiter's configured rate, its use, and the concurrency slots held now.
struct LimiterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limiter",
        abstract: "Show each rate limiter: its limit, keys, last admission, backlog and the slots held now.",
        discussion: """
            Reads the limiter tables (rate_limiter_state and rate_limiter_slots, or --table) in --schema. \
            With --config (a rate-sync TOML file), the configured limit of each limiter is shown next to its \
            use, and the file's store (url, schema_name, table_name) is used unless --url/--schema say otherwise. \
            The backlog is how far GCRA's theoretical arrival time runs ahead of now for the limiter as a whole: \
            0 means idle, and a backlog of burst ÷ rate means the bucket is empty.
            """)

    @OptionGroup var options: StoreOptions

    @Option(help: ArgumentHelp("The state table (default rate_limiter_state).", valueName: "table"))
    var table: String?

    @Option(help: ArgumentHelp("A rate-sync TOML file whose limiters to show.", valueName: "file"))
    var config: String?

    func run() async throws {
        try await runStoreTool {
            var configured: [String: PGRateLimiterConfiguration.Limiter] = [:]
            var store: PGRateLimiterConfiguration.Store?
            if let config {
                let parsed = try PGRateLimiterConfiguration(file: config)
                configured = parsed.limiters
                store = parsed.stores.values.first
            }
            var opts = options
            if opts.url == nil, let store { opts.url = store.url }
            let schemaName = options.schemaWasGiven ? options.schema : (store?.configuration.schemaName ?? options.schema)
            let tableName = table ?? store?.configuration.tableName ?? "rate_limiter_state"
            let names = try PGRateLimiterSchema.definition.names(
                schema: try PGStoreIdentifier(schemaName, what: "schema name"),
                overrides: ["state": tableName, "slots": tableName == "rate_limiter_state" ? "rate_limiter_slots" : tableName + "_slots"])
            let (connection, _) = try await opts.connect()
            defer { Task { await connection.close() } }
            let sql = try names.render("""
                SELECT s.group_id, count(*)::int8,
                       max(s.last_acquisition_at),
                       coalesce(extract(epoch FROM max(greatest(s.tat - {{tusk_now}}(), interval '0')) FILTER (WHERE s.key = '')), 0)::float8,
                       (SELECT count(*) FROM {{slots}} sl WHERE sl.group_id = s.group_id AND sl.holder IS NOT NULL
                                                            AND sl.expires_at > {{tusk_now}}())::int8,
                       (SELECT count(*) FROM {{slots}} sl WHERE sl.group_id = s.group_id)::int8
                  FROM {{state}} s GROUP BY s.group_id ORDER BY s.group_id
                """)
            var seen: Set<String> = []
            print("limiter".padding(toLength: 24, withPad: " ", startingAt: 0) + "limit                                   keys  last admission                 backlog   slots held")
            do {
                for try await row in try await connection.query(PGQuery(unsafeSQL: sql)) {
                    let (name, keys, last, backlog, held, slots) = try row.decode((String, Int64, Date?, Double, Int64, Int64).self)
                    seen.insert(name)
                    let limit = configured[name].map { "\($0.limit)" } ?? "(not in --config)"
                    let lastText = last.map { ISO8601DateFormatter().string(from: $0) } ?? "never"
                    print(name.padding(toLength: 24, withPad: " ", startingAt: 0)
                          + limit.padding(toLength: 40, withPad: " ", startingAt: 0)
                          + String(keys).padding(toLength: 6, withPad: " ", startingAt: 0)
                          + lastText.padding(toLength: 31, withPad: " ", startingAt: 0)
                          + String(format: "%7.3fs", backlog) + "   " + "\(held)/\(slots)")
                }
            } catch {
                throw PGStoreError.from(error, store: "ratelimit")
            }
            for (name, l) in configured.sorted(by: { $0.key < $1.key }) where !seen.contains(name) {
                print(name.padding(toLength: 24, withPad: " ", startingAt: 0) + "\(l.limit)".padding(toLength: 40, withPad: " ", startingAt: 0)
                      + "0     never")
            }
        }
    }
}
