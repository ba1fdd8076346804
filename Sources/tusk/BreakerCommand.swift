import ArgumentParser
import Foundation
import PGCircuitBreaker
import PGStoreSupport

/// `tusk breaker list|open|close|disable|reset|log`: the shared circuit breakers, from the command line.
struct BreakerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "breaker",
        abstract: "List the shared circuit breakers and change their state (every instance follows within a moment).",
        discussion: """
            Works on the rc_circuit_breakers table in --schema (the seed's default schema is public: pass \
            --schema public for a resilient-circuit style setup). A change is one statement that logs the \
            transition (who, when, why) and notifies every running instance.
            """,
        subcommands: [List.self, Open.self, Close.self, Disable.self, Reset.self, Log.self])

    struct Target: ParsableArguments {
        @OptionGroup var options: StoreOptions
        @Option(help: ArgumentHelp("The breakers table (default rc_circuit_breakers).", valueName: "table"))
        var table: String = "rc_circuit_breakers"

        func withStore<T>(_ body: (PGBreakerStore) async throws -> T) async throws -> T {
            var configuration = PGBreakerStore.Configuration()
            configuration.schemaName = options.schema
            configuration.tableName = table
            let store = try PGBreakerStore(.configuration(try options.configuration()), configuration: configuration)
            do {
                try await store.start()
                let result = try await body(store)
                await store.shutdown()
                return result
            } catch {
                await store.shutdown()
                throw error
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every breaker: state, generation, failures/calls, open until, why.")
        @OptionGroup var target: Target
        func run() async throws {
            try await runStoreTool {
                let rows = try await target.withStore { try await $0.list() }
                let f = ISO8601DateFormatter()
                print("resource_key".padding(toLength: 28, withPad: " ", startingAt: 0) + "state        gen   failures/calls  open until            reason")
                for r in rows.sorted(by: { $0.resourceKey < $1.resourceKey }) {
                    print(r.resourceKey.padding(toLength: 28, withPad: " ", startingAt: 0)
                          + "\(r.state)".padding(toLength: 13, withPad: " ", startingAt: 0)
                          + String(r.generation).padding(toLength: 6, withPad: " ", startingAt: 0)
                          + "\(r.failureCount)/\(r.callCount)".padding(toLength: 16, withPad: " ", startingAt: 0)
                          + (r.openUntil.map { f.string(from: $0) } ?? "-").padding(toLength: 22, withPad: " ", startingAt: 0)
                          + r.reason)
                }
            }
        }
    }

    struct Open: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open a breaker for a cooldown (then half-open probes decide).")
        @Argument(help: "The resource key.") var key: String
        @Option(help: "Cooldown in seconds.") var seconds: Double = 60
        @Option(help: "Why (kept in the transition log).") var why: String = "opened with tusk breaker open"
        @OptionGroup var target: Target
        func run() async throws {
            try await runStoreTool {
                guard seconds.isFinite, seconds >= 0 else { throw PGStoreError(code: .invalidConfiguration, message: "--seconds must be ≥ 0") }
                try await target.withStore { try await $0.open(key, for: .milliseconds(Int64(seconds * 1000)), why: why, who: "tusk") }
                print("opened \(key) for \(seconds) s")
            }
        }
    }

    struct Close: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Close a breaker (count from zero).")
        @Argument(help: "The resource key.") var key: String
        @OptionGroup var target: Target
        func run() async throws {
            try await runStoreTool {
                try await target.withStore { try await $0.close(key, why: "closed with tusk breaker close", who: "tusk") }
                print("closed \(key)")
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a breaker: calls pass and nothing is counted, until reset.")
        @Argument(help: "The resource key.") var key: String
        @OptionGroup var target: Target
        func run() async throws {
            try await runStoreTool {
                try await target.withStore { try await $0.disable(key, why: "disabled with tusk breaker disable", who: "tusk") }
                print("disabled \(key)")
            }
        }
    }

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reset a breaker to CLOSED with empty windows (also ends forced-open or disabled).")
        @Argument(help: "The resource key.") var key: String
        @OptionGroup var target: Target
        func run() async throws {
            try await runStoreTool {
                try await target.withStore { try await $0.reset(key, why: "reset with tusk breaker reset", who: "tusk") }
                print("reset \(key)")
            }
        }
    }

    struct Log: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A breaker's transition log: when, from, to, generation, who, why.")
        @Argument(help: "The resource key.") var key: String
        @OptionGroup var target: Target
        func run() async throws {
            try await runStoreTool {
                let rows = try await target.withStore { try await $0.transitions(of: key) }
                let f = ISO8601DateFormatter()
                for t in rows {
                    print("\(f.string(from: t.at))  \(t.from) → \(t.to)  generation \(t.generation)  by \(t.who): \(t.why)")
                }
            }
        }
    }
}
