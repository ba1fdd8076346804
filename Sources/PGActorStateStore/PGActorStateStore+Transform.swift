import CoreMetrics
import Foundation
import Logging
import PGClient
import PGStoreSupport

extension PGActorStateStore {
    /// Applies `transform` to the actor's current state and saves the result atomically: no concurrent
    /// transform, save or delete is lost. Each attempt is a compare-and-set against the sequence the
    /// transform saw (a conflict answer carries the current state, so a retry costs one statement); after
    /// ``Configuration/optimisticAttempts`` conflicts the transform takes the row lock (`SELECT … FOR UPDATE` in
    /// one short transaction), which always makes progress. `transform` may run more than once: keep it free
    /// of side effects, and quick (under the lock other writers of this actor wait for it).
    ///
    /// ```swift
    /// let counter = try await store.transform(for: "counter", as: Int.self) { ($0 ?? 0) + 1 }
    /// print(counter.state ?? 0, counter.sequenceNumber)
    /// ```
    /// - Parameters:
    ///   - from: what the caller already holds (state and sequence); when current, the transform costs one
    ///     round trip.
    ///   - activation: write as this activation's holder (refused with `.fenced` once taken over).
    /// - Returns: the saved state and its sequence number.
    /// - Throws: what `transform` throws, `.fenced`, or a database error.
    @discardableResult
    public func transform<State: Codable & Sendable>(
        for actorID: String, as type: State.Type, from: PGActorSnapshot<State>? = nil, activation: PGActorActivation? = nil,
        _ transform: @Sendable (State?) async throws -> State
    ) async throws -> PGActorSnapshot<State> {
        try Self.validate(actorID)
        let token = activation?.lease.token.rawValue
        var current: PGActorSnapshot<State>
        if let from { current = from } else { current = try await snapshot(for: actorID, as: type) }
        for attempt in 0..<configuration.optimisticAttempts {
            if attempt > 0 { metrics.retries.increment() }
            let next = try await transform(current.state)
            let o = try await saveRaw(actorID, PGActorStateCodec.encode(next), check: true, expected: current.sequenceNumber, token: token)
            switch try result(o, actorID: actorID, token: token) as PGActorSaveResult<State> {
            case .saved(let sequence): return PGActorSnapshot(state: next, sequenceNumber: sequence)
            case .conflict(let now): current = now
            }
        }
        return try await lockedTransform(actorID, as: type, token: token, transform)
    }

    /// Trebuchet's `update`: ``transform(for:as:from:activation:_:)`` returning the new state.
    ///
    /// ```swift
    /// let state = try await store.update(for: "room-1", as: GameState.self) { s in var s = s ?? .init(); s.round += 1; return s }
    /// ```
    @discardableResult
    public func update<State: Codable & Sendable>(
        for actorID: String, as type: State.Type, transform: @Sendable (State?) async throws -> State
    ) async throws -> State {
        let saved = try await self.transform(for: actorID, as: type, transform)
        guard let state = saved.state else { throw PGStoreError.actors(.database, "the transform saved no state") }
        return state
    }

    /// The contended path: one short transaction that locks the row (creating a state-less placeholder at
    /// sequence 0 when the actor has no row, so there is something to lock), transforms and saves.
    func lockedTransform<State: Codable & Sendable>(
        _ actorID: String, as type: State.Type, token: Int64?, _ transform: @Sendable (State?) async throws -> State
    ) async throws -> PGActorSnapshot<State> {
        metrics.lockedTransforms.increment()
        let (placeholder, lock) = (statements.placeholder, statements.lockRow)
        let timeout = configuration.statementTimeout
        return try await database.write { c in
            try await c.withTransaction { tx in
                _ = try await tx.execute(PGQuery(unsafeSQL: placeholder, [actorID]), timeout: timeout)
                let row = try await tx.queryOne(PGQuery(unsafeSQL: lock, [actorID]), as: (Int64, Bool, Data).self, timeout: timeout)
                let state = row.1 ? nil : try PGActorStateCodec.decode(row.2, as: type, actorID: actorID)
                let next = try await transform(state)
                let o = try await self.saveRaw(actorID, PGActorStateCodec.encode(next), check: true, expected: row.0, token: token, on: tx)
                switch try self.result(o, actorID: actorID, token: token) as PGActorSaveResult<State> {
                case .saved(let sequence): return PGActorSnapshot(state: next, sequenceNumber: sequence)
                case .conflict(let now):
                    // Cannot happen under the row lock; say so rather than lose the update silently.
                    throw PGStoreError.actors(.conflict, "actor \(actorID) moved to \(now.sequenceNumber) under its row lock")
                }
            }
        }
    }

    // MARK: - Activations

    /// Takes the actor's activation lease for `lease` (database clock): a new fencing token that refuses the
    /// writes of every older activation. Granted when the lease is free, expired, or already `holder`'s.
    ///
    /// ```swift
    /// guard let a = try await store.tryActivate("room-1", lease: .seconds(30)) else { return }  // held elsewhere
    /// ```
    /// - Returns: nil while another holder's lease is live.
    public func tryActivate(_ actorID: String, holder: String? = nil, lease: Duration = .seconds(30)) async throws(PGStoreError) -> PGActorActivation? {
        try Self.validate(actorID)
        let sql = statements.activate
        let who = holder ?? configuration.holderName
        let binds: [any PGEncodable] = [actorID, who, Self.milliseconds(lease)]
        let r = try await write("activate") { c, timeout in
            try await c.queryOne(PGQuery(unsafeSQL: sql, binds), as: (Bool, Int64, String, Date).self, timeout: timeout)
        }
        guard r.0 else { return nil }
        let holder = PGLeaseHolder(parsing: r.2) ?? PGLeaseHolder(host: r.2, pid: 0, random: "")
        return PGActorActivation(actorID: actorID, lease: PGLease(holder: holder, token: PGFencingToken(rawValue: r.1), expiresAt: r.3))
    }

    /// ``tryActivate(_:holder:lease:)`` that throws `.conflict` (naming the holder) while another lease is live.
    ///
    /// ```swift
    /// let a = try await store.activate("room-1")
    /// ```
    public func activate(_ actorID: String, holder: String? = nil, lease: Duration = .seconds(30)) async throws(PGStoreError) -> PGActorActivation {
        guard let a = try await tryActivate(actorID, holder: holder, lease: lease) else {
            throw PGStoreError.actors(.conflict, "actor \(actorID) is activated by another holder whose lease is live")
        }
        return a
    }

    /// Extends the lease; `.fenced` when another activation took the actor over.
    ///
    /// ```swift
    /// activation = try await store.renew(activation, lease: .seconds(30))
    /// ```
    public func renew(_ activation: PGActorActivation, lease: Duration = .seconds(30)) async throws(PGStoreError) -> PGActorActivation {
        let sql = statements.renew
        let binds: [any PGEncodable] = [activation.actorID, activation.lease.token.rawValue, Self.milliseconds(lease)]
        let until = try await write("renew") { c, timeout in
            try await c.queryOptional(PGQuery(unsafeSQL: sql, binds), as: Date.self, timeout: timeout)
        }
        guard let until else { throw fenced(activation.actorID, token: activation.lease.token.rawValue) }
        var renewed = activation
        renewed.lease.expiresAt = until
        return renewed
    }

    /// Gives the lease up (nothing happens when it was already taken over).
    ///
    /// ```swift
    /// try await store.release(activation)
    /// ```
    public func release(_ activation: PGActorActivation) async throws(PGStoreError) {
        let sql = statements.release
        let binds: [any PGEncodable] = [activation.actorID, activation.lease.token.rawValue]
        _ = try await write("release") { c, timeout in try await c.execute(PGQuery(unsafeSQL: sql, binds), timeout: timeout) }
    }

    static func milliseconds(_ d: Duration) -> Int64 {
        let (s, a) = d.components
        return max(1, s * 1_000 + a / 1_000_000_000_000_000)
    }
}
