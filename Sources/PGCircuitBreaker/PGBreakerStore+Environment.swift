import Foundation
import Logging
import PGClient
import PGStoreSupport

extension PGBreakerStore {
    /// resilient-circuit's variables: `RC_DB_HOST` (required for PostgreSQL), `RC_DB_PORT` (5432),
    /// `RC_DB_NAME` (`resilient_circuit_db`), `RC_DB_USER` (`postgres`), `RC_DB_PASSWORD`.
    public static let environmentVariables = ["RC_DB_HOST", "RC_DB_PORT", "RC_DB_NAME", "RC_DB_USER", "RC_DB_PASSWORD"]

    /// The connection `RC_DB_*` describe, read from `environment` and then from the `.env` file at
    /// `dotEnvPath` (variables already in the environment win, as with python-dotenv); nil when `RC_DB_HOST`
    /// is set in neither.
    ///
    /// ```swift
    /// let connection = try PGBreakerStore.connection(environment: ["RC_DB_HOST": "db", "RC_DB_PASSWORD": "s3cret"])
    /// ```
    /// - Throws: `.invalidConfiguration` for a port that is not a number or an unreadable `.env` line.
    public static func connection(environment: [String: String] = ProcessInfo.processInfo.environment,
                                  dotEnvPath: String? = ".env") throws(PGStoreError) -> PGStoreConnection? {
        var values = dotEnvPath.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }.map(parseDotEnv) ?? [:]
        for key in environmentVariables { if let v = environment[key] { values[key] = v } }
        guard let host = values["RC_DB_HOST"], !host.isEmpty else { return nil }
        let port = values["RC_DB_PORT"].flatMap { $0.isEmpty ? nil : $0 } ?? "5432"
        guard let portNumber = Int(port), (1...65_535).contains(portNumber) else {
            throw PGStoreError.breaker(.invalidConfiguration, "RC_DB_PORT must be a port number, not \(String(port.prefix(20)))")
        }
        func quoted(_ s: String) -> String {
            "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
        }
        var parts = ["host=\(quoted(host))", "port=\(portNumber)",
                     "dbname=\(quoted(values["RC_DB_NAME"].flatMap { $0.isEmpty ? nil : $0 } ?? "resilient_circuit_db"))",
                     "user=\(quoted(values["RC_DB_USER"].flatMap { $0.isEmpty ? nil : $0 } ?? "postgres"))"]
        if let password = values["RC_DB_PASSWORD"], !password.isEmpty { parts.append("password=\(quoted(password))") }
        do {
            return .configuration(try PGConnectionConfiguration(parts.joined(separator: " "), environment: [:]))
        } catch {
            throw PGStoreError(code: .invalidConfiguration, message: "RC_DB_* do not form a valid connection: \(error.message)",
                               store: "breaker", underlying: error)
        }
    }

    /// A store on the database `RC_DB_*` (or `.env`) describe, or — as in resilient-circuit when they are not
    /// set — in memory. Unlike resilient-circuit the choice is logged, and ``storageStatus`` says `.memory`.
    ///
    /// ```swift
    /// let store = try PGBreakerStore.fromEnvironment()
    /// try await store.start()
    /// ```
    public static func fromEnvironment(environment: [String: String] = ProcessInfo.processInfo.environment,
                                       dotEnvPath: String? = ".env",
                                       configuration: Configuration = Configuration()) throws(PGStoreError) -> PGBreakerStore {
        guard let connection = try connection(environment: environment, dotEnvPath: dotEnvPath) else {
            let store = inMemory(configuration: configuration)
            store.observability.logger.warning("RC_DB_HOST is not set: circuit breakers keep their state in this process only")
            return store
        }
        return try PGBreakerStore(connection, configuration: configuration)
    }

    /// `KEY=value` lines; `#` comments, `export ` prefixes and single or double quotes as python-dotenv reads them.
    static func parseDotEnv(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let f = value.first, f == "\"" || f == "'", value.last == f {
                value = String(value.dropFirst().dropLast())
            } else if let hash = value.range(of: " #") {
                value = value[..<hash.lowerBound].trimmingCharacters(in: .whitespaces)
            }
            out[key] = value
        }
        return out
    }
}
