import Foundation
import PGActorStateStore
import PGClient
import PGStoreSupport
import PGTestSupport
import Testing

/// The seed's GameRoom, on the helper protocol.
actor GameRoom: PGStatefulActor {
    typealias PersistentState = GameState
    let stateID: String
    let stateStore: PGActorStateStore
    var persistentState = GameState()
    var persistedSequence: Int64 = 0
    var activation: PGActorActivation? = nil

    init(id: String, store: PGActorStateStore) async throws {
        (stateID, stateStore) = (id, store)
        try await loadState()
    }

    func updateScore(player: String, points: Int) async throws {
        try await transformState { current in
            var next = current
            next.scores[player, default: 0] += points
            return next
        }
    }

    func score(_ player: String) -> Int { persistentState.scores[player] ?? 0 }
}

extension ActorStateSuites {
@Suite struct StatefulActorTests {
    /// Two live copies of one room (two instances) update concurrently: no point is lost, and each copy's
    /// own state is the newest it saved.
    @Test func twoCopiesOfAGameRoomLoseNoPoints() async throws {
        let f = try await ActorFixture.make()
        let other = try await f.another()
        let a = try await GameRoom(id: "room-1", store: f.store)
        let b = try await GameRoom(id: "room-1", store: other)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for room in [a, b] {
                group.addTask { for _ in 0..<50 { try await room.updateScore(player: "ann", points: 1) } }
            }
            try await group.waitForAll()
        }
        let stored = try await f.store.snapshot(for: "room-1", as: GameState.self)
        #expect(stored.state?.scores["ann"] == 100)
        #expect(stored.sequenceNumber == 100)
        let c = try await GameRoom(id: "room-1", store: f.store)
        #expect(await c.score("ann") == 100)
        await other.shutdown()
        await f.finish()
    }
}
}
