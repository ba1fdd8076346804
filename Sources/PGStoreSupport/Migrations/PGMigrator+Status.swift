import Foundation
import PGClient

/// Where one store stands in one schema.
///
/// ```swift
/// for s in try await migrator.status(on: connection) { print(s.store, s.applied, s.pending) }
/// ```
public struct PGStoreMigrationStatus: Sendable, Hashable {
    /// The store.
    public var store: String
    /// Versions recorded and matching the code.
    public var applied: [Int]
    /// Versions the code declares that are not recorded.
    public var pending: [Int]
    /// Versions recorded with a different checksum than the code's.
    public var mismatched: [Int]
    /// Versions recorded that the code does not know (a newer release applied them).
    public var unknown: [Int]
    /// How many migrations the code declares.
    public var declared: Int
    /// Nothing pending, nothing mismatched.
    public var isCurrent: Bool { pending.isEmpty && mismatched.isEmpty }
}

extension PGMigrator {
    /// Applied, pending and mismatched versions per store (the support store first). Runs no DDL.
    ///
    /// ```swift
    /// let outdated = try await migrator.status(on: connection).filter { !$0.isCurrent }
    /// ```
    public func status(on connection: PGConnection) async throws(PGStoreError) -> [PGStoreMigrationStatus] {
        try await observability.span("migrate.status", schema: schema) { () async throws(PGStoreError) in
            status(state: try await readState(on: connection))
        }
    }

    /// The status for a known state.
    public func status(state: PGMigrationState) -> [PGStoreMigrationStatus] {
        allStores.map { store in
            let recorded = Dictionary(state.applied.filter { $0.store == store.name }.map { ($0.version, $0.checksum) },
                                      uniquingKeysWith: { a, _ in a })
            var s = PGStoreMigrationStatus(store: store.name, applied: [], pending: [], mismatched: [], unknown: [],
                                           declared: store.migrations.count)
            for m in store.migrations {
                switch recorded[m.version] {
                case nil: s.pending.append(m.version)
                case m.checksum?: s.applied.append(m.version)
                default: s.mismatched.append(m.version)
                }
            }
            s.unknown = recorded.keys.filter { $0 > store.migrations.count }.sorted()
            return s
        }
    }

    /// What a store does at start: with `autoCreate` it applies pending migrations; without (the
    /// production default) a missing or outdated schema is a typed error naming the table and the
    /// command that creates it, so a misconfigured service fails at start, not at its first call.
    ///
    /// ```swift
    /// try await migrator.prepare(autoCreate: false, on: connection)
    /// // PGStoreError.schemaMissing: queue: the table "tusk"."queue_items" does not exist; create it with `tusk setup queue --schema tusk` …
    /// ```
    public func prepare(autoCreate: Bool, on connection: PGConnection) async throws(PGStoreError) {
        if autoCreate {
            try await apply(on: connection)
        } else {
            try await verify(on: connection)
        }
    }

    /// Throws `.schemaMissing`, `.schemaOutdated` or `.checksumMismatch` unless every store is current.
    ///
    /// ```swift
    /// try await migrator.verify(on: connection)
    /// ```
    public func verify(on connection: PGConnection) async throws(PGStoreError) {
        try await observability.span("migrate.verify", schema: schema) { () async throws(PGStoreError) in
            let state = try await readState(on: connection)
            let statuses = status(state: state)
            // Report the first user store that is not current (the support store's problems are theirs too).
            let target = stores.first ?? .support
            let command = setupCommand(for: target.name)
            let names = try names(for: target)
            let mainKey = target.mainObject ?? PGStoreNames.migrationsTable
            let table = (try? names.qualified(mainKey).quoted) ?? schema.quoted
            for s in statuses where !s.mismatched.isEmpty {
                throw PGStoreError(
                    code: .checksumMismatch,
                    message: "migration \(s.mismatched.map(String.init).joined(separator: ", ")) of store \(s.store) in schema \(schema.quoted) "
                        + "differs from the code (edited after it ran); restore it and put changes in a new version",
                    store: target.name)
            }
            let supportStatus = statuses.first { $0.store == PGStoreDefinition.support.name }
            let storeStatus = statuses.first { $0.store == target.name } ?? supportStatus
            let nothingApplied = !state.schemaExists || !state.migrationsTableExists
                || (storeStatus?.applied.isEmpty ?? true) && (storeStatus?.declared ?? 0) > 0
                || (supportStatus?.applied.isEmpty ?? true)
            if nothingApplied {
                let why = !state.schemaExists ? "schema \(schema.quoted) does not exist, so the table \(table) is missing"
                    : "the table \(table) does not exist"
                throw PGStoreError(
                    code: .schemaMissing,
                    message: "\(why); create it with `\(command)` (as a role that may create it) or turn autoCreate on",
                    store: target.name)
            }
            for s in statuses where !s.pending.isEmpty {
                throw PGStoreError(
                    code: .schemaOutdated,
                    message: "store \(s.store) in schema \(schema.quoted) is at version \(s.applied.count) of \(s.declared) "
                        + "(\(table)); apply the rest with `\(command)` or turn autoCreate on",
                    store: target.name)
            }
        }
    }

    /// `tusk setup <store> --schema <schema>`, the schema shell-quoted when it needs it.
    public func setupCommand(for store: String) -> String {
        "tusk setup \(store) --schema \(Self.shellQuote(schema.name))"
    }

    static func shellQuote(_ s: String) -> String {
        let plain = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
        if !s.isEmpty && s.allSatisfy(plain.contains) { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

extension PGMigrator {
    /// ``apply(on:)`` on a writer connection of `database`.
    ///
    /// ```swift
    /// try await migrator.apply(on: try PGStoreDatabase(.environment))
    /// ```
    @discardableResult
    public func apply(on database: PGStoreDatabase) async throws(PGStoreError) -> PGMigrationPlan {
        let result: Result<PGMigrationPlan, PGStoreError> = try await database.write { c in
            do throws(PGStoreError) { return .success(try await apply(on: c)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// ``prepare(autoCreate:on:)`` on a writer connection of `database`: what a store calls at start.
    ///
    /// ```swift
    /// try await migrator.prepare(autoCreate: config.autoCreate, on: database)
    /// ```
    public func prepare(autoCreate: Bool, on database: PGStoreDatabase) async throws(PGStoreError) {
        let result: Result<Void, PGStoreError> = try await database.write { c in
            do throws(PGStoreError) { return .success(try await prepare(autoCreate: autoCreate, on: c)) } catch { return .failure(error) }
        }
        try result.get()
    }
}
