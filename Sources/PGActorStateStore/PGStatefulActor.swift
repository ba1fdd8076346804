import PGStoreSupport

/// An actor whose state lives in a ``PGActorStateStore`` (the seed's `StatefulStreamingActor`): it names its
/// state, its store and its id, and keeps the sequence number of the state it holds, so
/// ``transformState(_:)`` costs one round trip when nobody else wrote meanwhile.
///
/// The atomicity is not this protocol's: ``transformState(_:)`` calls the store's concrete
/// ``PGActorStateStore/transform(for:as:from:activation:_:)`` (compare-and-set, then the row lock), which no
/// conforming type can replace with a blind save.
///
/// ```swift
/// actor GameRoom: PGStatefulActor {
///     typealias PersistentState = GameState
///     let stateID: String
///     let stateStore: PGActorStateStore
///     var persistentState = GameState()
///     var persistedSequence: Int64 = 0
///     var activation: PGActorActivation? = nil
///
///     init(id: String, store: PGActorStateStore) async throws {
///         (stateID, stateStore) = (id, store)
///         try await loadState()
///     }
///
///     func updateScore(player: String, points: Int) async throws {
///         try await transformState { current in
///             var next = current
///             next.scores[player, default: 0] += points
///             return next
///         }
///     }
/// }
/// ```
public protocol PGStatefulActor: Actor {
    /// The persisted state.
    associatedtype PersistentState: Codable & Sendable
    /// The actor's id in the store.
    var stateID: String { get }
    /// The store.
    var stateStore: PGActorStateStore { get }
    /// The state this actor holds.
    var persistentState: PersistentState { get set }
    /// The sequence number of ``persistentState`` (0: never saved).
    var persistedSequence: Int64 { get set }
    /// The activation this actor writes under (nil: unfenced writes, refused while someone holds one).
    var activation: PGActorActivation? { get }
}

extension PGStatefulActor {
    /// Loads the stored state (keeps the current one when the actor has none).
    ///
    /// ```swift
    /// try await room.loadState()
    /// ```
    public func loadState() async throws(PGStoreError) {
        let snap = try await stateStore.snapshot(for: stateID, as: PersistentState.self)
        if snap.sequenceNumber >= persistedSequence {
            if let state = snap.state { persistentState = state }
            persistedSequence = snap.sequenceNumber
        }
    }

    /// Transforms the state and persists it atomically (the seed's `transformState`): no concurrent writer's
    /// update is lost; `transform` may run again on the newer state after a conflict.
    ///
    /// ```swift
    /// try await transformState { s in var s = s; s.round += 1; return s }
    /// ```
    @discardableResult
    public func transformState(_ transform: @Sendable (PersistentState) async throws -> PersistentState) async throws -> PersistentState {
        let held = PGActorSnapshot(state: Optional(persistentState), sequenceNumber: persistedSequence)
        let fallback = persistentState
        let saved = try await stateStore.transform(for: stateID, as: PersistentState.self, from: held, activation: activation) { current in
            try await transform(current ?? fallback)
        }
        // Reentrant calls may finish out of order: keep the newest.
        if saved.sequenceNumber > persistedSequence, let state = saved.state {
            persistentState = state
            persistedSequence = saved.sequenceNumber
        }
        return saved.state ?? persistentState
    }
}
