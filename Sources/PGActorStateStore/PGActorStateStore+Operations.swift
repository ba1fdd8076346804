import CoreMetrics
import Foundation
import Logging
import PGClient
import PGStoreSupport

/// The state encoding: JSON, as the seed writes it, so `convert_from(state, 'UTF8')::jsonb` reads it in SQL.
/// A first byte below 0x20 is reserved as a format marker for later encodings (JSON never starts with one).
enum PGActorStateCodec {
    static func encode<State: Encodable>(_ state: State) throws(PGStoreError) -> Data {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return try encoder.encode(state)
        } catch {
            throw PGStoreError.actors(.invalidConfiguration, "the state could not be encoded as JSON: \(error)")
        }
    }

    static func decode<State: Decodable>(_ data: Data, as type: State.Type, actorID: String) throws(PGStoreError) -> State {
        if let first = data.first, first < 0x20, first != 0x09, first != 0x0A, first != 0x0D {
            throw PGStoreError.actors(.database, "the state of \(actorID) has format marker \(first), which this version does not read")
        }
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw PGStoreError.actors(.database, "the state of \(actorID) does not decode as \(State.self): \(error)")
        }
    }
}

/// What the save function answered.
struct PGActorSaveOutcome: Sendable {
    var outcome: String
    var sequence: Int64
    var state: Data?
    var token: Int64?
}

extension PGActorStateStore {
    // MARK: - Trebuchet's surface

    /// Saves `state` for `actorID` whatever is stored (the seed's `save`), as the next sequence number.
    /// Refused with `.fenced` while another process holds a live activation of the actor.
    ///
    /// ```swift
    /// let sequence = try await store.save(myState, for: "actor-123")
    /// ```
    /// - Returns: the new sequence number.
    @discardableResult
    public func save<State: Codable & Sendable>(_ state: State, for actorID: String) async throws(PGStoreError) -> Int64 {
        let o = try await saveRaw(actorID, PGActorStateCodec.encode(state), check: false, expected: 0, token: nil)
        return try finish(o, actorID: actorID, token: nil)
    }

    /// Saves `state` only if the actor is at `expectedSequence` (0: it has never been written) — one
    /// statement. A conflict is an answer carrying what is stored now.
    ///
    /// ```swift
    /// let r = try await store.save(state, for: "room-1", expectedSequence: 0)   // create, only if new
    /// ```
    /// - Throws: `.fenced` when another process holds a live activation of the actor.
    public func save<State: Codable & Sendable>(
        _ state: State, for actorID: String, expectedSequence: Int64
    ) async throws(PGStoreError) -> PGActorSaveResult<State> {
        let o = try await saveRaw(actorID, PGActorStateCodec.encode(state), check: true, expected: expectedSequence, token: nil)
        return try result(o, actorID: actorID, token: nil)
    }

    /// Saves as the holder of `activation`: refused with `.fenced` once another activation took the actor over.
    /// With `expectedSequence` it is also a compare-and-set.
    ///
    /// ```swift
    /// let a = try await store.activate("room-1")
    /// _ = try await store.save(room, for: "room-1", activation: a)
    /// ```
    public func save<State: Codable & Sendable>(
        _ state: State, for actorID: String, expectedSequence: Int64? = nil, activation: PGActorActivation
    ) async throws(PGStoreError) -> PGActorSaveResult<State> {
        let token = activation.lease.token.rawValue
        let o = try await saveRaw(actorID, PGActorStateCodec.encode(state), check: expectedSequence != nil,
                                  expected: expectedSequence ?? 0, token: token)
        return try result(o, actorID: actorID, token: token)
    }

    /// Trebuchet's `saveIfVersion`: true when saved, false on a conflict.
    ///
    /// ```swift
    /// if try await store.saveIfVersion(state, for: "room-1", expectedVersion: 3) == false { reload() }
    /// ```
    public func saveIfVersion<State: Codable & Sendable>(
        _ state: State, for actorID: String, expectedVersion: Int64
    ) async throws(PGStoreError) -> Bool {
        try await save(state, for: actorID, expectedSequence: expectedVersion).isSaved
    }

    /// The state of `actorID`, or nil when it has none (never written, or deleted).
    ///
    /// ```swift
    /// let state = try await store.load(for: "actor-123", as: MyState.self)
    /// ```
    public func load<State: Codable & Sendable>(for actorID: String, as type: State.Type) async throws(PGStoreError) -> State? {
        try await snapshot(for: actorID, as: type).state
    }

    /// The state together with the sequence number it was read at (0 when never written).
    ///
    /// ```swift
    /// let snap = try await store.snapshot(for: "room-1", as: GameState.self)
    /// ```
    public func snapshot<State: Codable & Sendable>(for actorID: String, as type: State.Type) async throws(PGStoreError) -> PGActorSnapshot<State> {
        try Self.validate(actorID)
        let sql = statements.load
        metrics.loads.increment()
        let row = try await write("load") { c, timeout in
            try await c.queryOptional(PGQuery(unsafeSQL: sql, [actorID]), as: (Int64, Bool, Data).self, timeout: timeout)
        }
        guard let row else { return PGActorSnapshot(state: nil, sequenceNumber: 0) }
        if row.1 { return PGActorSnapshot(state: nil, sequenceNumber: row.0) }
        return PGActorSnapshot(state: try PGActorStateCodec.decode(row.2, as: type, actorID: actorID), sequenceNumber: row.0)
    }

    /// Deletes the state, leaving a tombstone whose sequence keeps counting, so a writer holding a sequence
    /// from before the delete gets a conflict even after the actor is created again (no ABA).
    ///
    /// ```swift
    /// try await store.delete(for: "actor-123")
    /// ```
    /// - Returns: true when there was a state to delete.
    /// - Throws: `.fenced` while another process holds a live activation of the actor.
    @discardableResult
    public func delete(for actorID: String) async throws(PGStoreError) -> Bool {
        try await deleteRaw(actorID, check: false, expected: 0, token: nil).0
    }

    /// Deletes only if the actor is at `expectedSequence` (and, with `activation`, only as its holder).
    ///
    /// ```swift
    /// let r = try await store.delete(for: "room-1", expectedSequence: 7)
    /// ```
    /// - Returns: `.saved` with the tombstone's sequence, or `.conflict` with the current sequence.
    public func delete(for actorID: String, expectedSequence: Int64,
                       activation: PGActorActivation? = nil) async throws(PGStoreError) -> PGActorSaveResult<Data> {
        let (_, outcome, sequence) = try await deleteRaw(actorID, check: true, expected: expectedSequence,
                                                         token: activation?.lease.token.rawValue)
        if outcome == "conflict" { return .conflict(current: PGActorSnapshot(state: nil, sequenceNumber: sequence)) }
        return .saved(sequenceNumber: sequence)
    }

    /// True when the actor has a state.
    ///
    /// ```swift
    /// if try await store.exists(for: "actor-123") == false { … }
    /// ```
    public func exists(for actorID: String) async throws(PGStoreError) -> Bool {
        try Self.validate(actorID)
        let sql = statements.exists
        return try await write("read") { c, timeout in try await c.queryOne(PGQuery(unsafeSQL: sql, [actorID]), as: Bool.self, timeout: timeout) }
    }

    /// The actor's current sequence number: 0 when never written; a deleted actor keeps its tombstone's.
    ///
    /// ```swift
    /// let seq = try await store.sequenceNumber(for: "actor-123")
    /// ```
    public func sequenceNumber(for actorID: String) async throws(PGStoreError) -> Int64 {
        try Self.validate(actorID)
        let sql = statements.sequence
        return try await write("read") { c, timeout in try await c.queryOne(PGQuery(unsafeSQL: sql, [actorID]), as: Int64.self, timeout: timeout) }
    }

    /// Trebuchet's name for ``sequenceNumber(for:)``: nil when the actor was never written.
    public func getSequenceNumber(for actorID: String) async throws(PGStoreError) -> Int64? {
        let s = try await sequenceNumber(for: actorID)
        return s == 0 ? nil : s
    }

    // MARK: - Internals

    func saveRaw(_ actorID: String, _ bytes: Data, check: Bool, expected: Int64, token: Int64?,
                 on connection: PGConnection? = nil) async throws(PGStoreError) -> PGActorSaveOutcome {
        try Self.validate(actorID)
        let sql = statements.save
        let binds: [any PGEncodable] = [actorID, bytes, check, expected, token]
        let body: @Sendable (PGConnection, Duration) async throws -> PGActorSaveOutcome = { c, timeout in
            let r = try await c.queryOne(PGQuery(unsafeSQL: sql, binds), as: (String, Int64, Data?, Int64?).self, timeout: timeout)
            return PGActorSaveOutcome(outcome: r.0, sequence: r.1, state: r.2, token: r.3)
        }
        if let connection {
            do { return try await body(connection, configuration.statementTimeout) } catch { throw PGStoreError.from(error, store: "actors") }
        }
        return try await write("save", body)
    }

    func result<State: Codable & Sendable>(_ o: PGActorSaveOutcome, actorID: String, token: Int64?) throws(PGStoreError) -> PGActorSaveResult<State> {
        switch o.outcome {
        case "saved":
            metrics.saves.increment()
            return .saved(sequenceNumber: o.sequence)
        case "conflict":
            metrics.conflicts.increment()
            let state = try o.state.map { d throws(PGStoreError) in try PGActorStateCodec.decode(d, as: State.self, actorID: actorID) }
            return .conflict(current: PGActorSnapshot(state: state, sequenceNumber: o.sequence))
        default:
            throw fenced(actorID, token: token)
        }
    }

    func finish(_ o: PGActorSaveOutcome, actorID: String, token: Int64?) throws(PGStoreError) -> Int64 {
        guard o.outcome == "saved" else { throw fenced(actorID, token: token) }
        metrics.saves.increment()
        return o.sequence
    }

    func fenced(_ actorID: String, token: Int64?) -> PGStoreError {
        metrics.fenced.increment()
        if let token { return PGStoreError.fenced(store: "actors", what: "actor \(actorID)", token: PGFencingToken(rawValue: token)) }
        return PGStoreError.actors(.fenced, "actor \(actorID) is activated by another holder; write through its activation")
    }

    func deleteRaw(_ actorID: String, check: Bool, expected: Int64, token: Int64?) async throws(PGStoreError) -> (Bool, String, Int64) {
        try Self.validate(actorID)
        let sql = statements.delete
        let binds: [any PGEncodable] = [actorID, check, expected, token]
        let r = try await write("delete") { c, timeout in
            try await c.queryOne(PGQuery(unsafeSQL: sql, binds), as: (String, Int64).self, timeout: timeout)
        }
        if r.0 == "fenced" { throw fenced(actorID, token: token) }
        if r.0 == "conflict" { metrics.conflicts.increment() }
        return (r.0 == "deleted", r.0, r.1)
    }
}
