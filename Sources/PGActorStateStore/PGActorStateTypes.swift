import CoreMetrics
import Foundation
import Logging
import PGStoreSupport

/// The answer of a compare-and-set save: a conflict is an answer, not an error.
///
/// ```swift
/// switch try await store.save(room, for: "room-1", expectedSequence: 4) {
/// case .saved(let sequence): print("now at", sequence)
/// case .conflict(let current): print("someone else wrote", current.sequenceNumber)
/// }
/// ```
public enum PGActorSaveResult<State: Codable & Sendable>: Sendable {
    /// Written; the actor's new sequence number.
    case saved(sequenceNumber: Int64)
    /// Not written: the actor is at another sequence. `current` is what is stored now (state `nil` when the
    /// actor has none), so a retry needs no extra load.
    case conflict(current: PGActorSnapshot<State>)

    /// True for `.saved`.
    public var isSaved: Bool {
        if case .saved = self { return true }
        return false
    }
}

/// An actor's stored state and the sequence number it was read at.
///
/// `sequenceNumber` is 0 for an actor never written; a deleted actor has `state == nil` and the tombstone's
/// sequence (deletes keep counting). Pass `sequenceNumber` as `expectedSequence` to save over exactly this.
///
/// ```swift
/// let snap = try await store.snapshot(for: "room-1", as: GameState.self)
/// var next = snap.state ?? GameState()
/// next.round += 1
/// _ = try await store.save(next, for: "room-1", expectedSequence: snap.sequenceNumber)
/// ```
public struct PGActorSnapshot<State: Codable & Sendable>: Sendable {
    /// The state, `nil` when the actor has none (never written or deleted).
    public var state: State?
    /// The sequence number of what was read.
    public var sequenceNumber: Int64

    /// Creates a snapshot.
    public init(state: State?, sequenceNumber: Int64) {
        self.state = state
        self.sequenceNumber = sequenceNumber
    }
}

/// A change the stream reports: which actor changed to which sequence (and whether it was a delete).
///
/// ```swift
/// for await event in store.changes() {
///     if case .changed(let c) = event { await cache[c.actorID]?.reload(upTo: c.sequenceNumber) }
/// }
/// ```
public struct PGActorStateChange: Sendable, Hashable {
    /// The actor.
    public var actorID: String
    /// Its sequence number after the change.
    public var sequenceNumber: Int64
    /// True when the change was a delete (the state is gone; the sequence keeps counting).
    public var deleted: Bool
    /// When it was written, by the database clock.
    public var timestamp: Date
    /// Where it is in the change log; resume a stream after it with ``PGActorStateStore/changes(after:)``.
    public var position: PGActorChangePosition
}

/// A position in the change log: the writing transaction's id and the row's position in it.
///
/// ```swift
/// var last = PGActorChangePosition.beginning
/// for await case .changed(let c) in store.changes(after: last) { last = c.position }
/// ```
public struct PGActorChangePosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The writing transaction's id (`pg_current_xact_id()`).
    public var transaction: Int64
    /// The log row's identity.
    public var position: Int64

    /// Creates a position.
    public init(transaction: Int64, position: Int64) {
        self.transaction = transaction
        self.position = position
    }

    /// Before every change still in the log.
    public static let beginning = PGActorChangePosition(transaction: 0, position: 0)

    public static func < (a: PGActorChangePosition, b: PGActorChangePosition) -> Bool {
        (a.transaction, a.position) < (b.transaction, b.position)
    }

    public var description: String { "\(transaction)/\(position)" }
}

/// What a change stream delivers.
public enum PGActorChangeEvent: Sendable, Hashable {
    /// One change, in log order, exactly once.
    case changed(PGActorStateChange)
    /// The stream fell behind the log's retention (``PGActorStateStore/pruneChanges(olderThan:)``): changes
    /// were removed before it read them. Reload every actor you cache; the stream continues after the gap.
    case reloadAll
    /// The database could not be read (`reason`); the stream retries and then catches up, so nothing is lost.
    case interrupted(reason: String)
}

/// An activation lease: this process holds the actor, with a fencing token that refuses the writes of any
/// older activation (another process's, or one of this process's whose lease was taken over).
///
/// ```swift
/// let activation = try await store.activate("room-1", lease: .seconds(30))
/// try await store.save(room, for: "room-1", activation: activation)
/// ```
public struct PGActorActivation: Sendable, Hashable {
    /// The actor.
    public var actorID: String
    /// The lease (holder, fencing token, expiry on the database clock).
    public var lease: PGLease

    /// An activation value (e.g. one passed between processes); the database decides whether its token is current.
    public init(actorID: String, lease: PGLease) {
        self.actorID = actorID
        self.lease = lease
    }
}

extension PGStoreError {
    static func actors(_ code: Code, _ message: String) -> PGStoreError {
        PGStoreError(code: code, message: message, store: "actors")
    }
}
