import Foundation
import PGActorStateStore
import PGClient
import PGStoreSupport
import PGTestSupport
import Testing

extension ActorStateSuites {
@Suite struct ActorStateTests {
    @Test func saveLoadExistsSequenceAndDelete() async throws {
        let f = try await ActorFixture.make()
        let s = f.store
        #expect(try await s.load(for: "actor-123", as: GameState.self) == nil)
        #expect(try await s.exists(for: "actor-123") == false)
        #expect(try await s.sequenceNumber(for: "actor-123") == 0)
        #expect(try await s.getSequenceNumber(for: "actor-123") == nil)
        var state = GameState(scores: ["ann": 3], round: 1)
        #expect(try await s.save(state, for: "actor-123") == 1)
        #expect(try await s.load(for: "actor-123", as: GameState.self) == state)
        #expect(try await s.exists(for: "actor-123"))
        state.round = 2
        #expect(try await s.save(state, for: "actor-123") == 2)
        #expect(try await s.sequenceNumber(for: "actor-123") == 2)
        #expect(try await s.delete(for: "actor-123"))
        #expect(try await s.load(for: "actor-123", as: GameState.self) == nil)
        #expect(try await s.exists(for: "actor-123") == false)
        #expect(try await s.sequenceNumber(for: "actor-123") == 3, "the tombstone keeps counting")
        #expect(try await s.delete(for: "actor-123") == false)
        // The seed's columns hold readable JSON.
        try await s.save(Counter(value: 7), for: "other")
        let text = try await f.admin.queryOne(
            "SELECT (convert_from(state, 'UTF8')::jsonb ->> 'value')::int FROM \(identifier: f.schema).actor_states WHERE actor_id = 'other'",
            as: Int32.self)
        #expect(text == 7)
        await f.finish()
    }

    @Test func compareAndSetAnswersConflictsWithTheCurrentState() async throws {
        let f = try await ActorFixture.make()
        let s = f.store
        guard case .saved(let first) = try await s.save(Counter(value: 1), for: "c", expectedSequence: 0) else {
            Issue.record("the first CAS of a new actor did not save"); return
        }
        #expect(first == 1)
        // A second "create" is a conflict carrying what is there.
        guard case .conflict(let current) = try await s.save(Counter(value: 99), for: "c", expectedSequence: 0) else {
            Issue.record("a second create saved"); return
        }
        #expect(current.sequenceNumber == 1 && current.state == Counter(value: 1))
        #expect(try await s.save(Counter(value: 2), for: "c", expectedSequence: 1).isSaved)
        guard case .conflict(let now) = try await s.save(Counter(value: 3), for: "c", expectedSequence: 1) else {
            Issue.record("a stale CAS saved"); return
        }
        #expect(now.sequenceNumber == 2 && now.state == Counter(value: 2))
        #expect(try await s.saveIfVersion(Counter(value: 3), for: "c", expectedVersion: 2))
        #expect(try await s.saveIfVersion(Counter(value: 4), for: "c", expectedVersion: 2) == false)
        #expect(try await s.load(for: "c", as: Counter.self) == Counter(value: 3))
        await f.finish()
    }

    /// Delete then recreate: a writer holding the pre-delete sequence gets a conflict, and sequences only grow.
    @Test func deleteAndRecreateKeepTheSequenceIncreasing() async throws {
        let f = try await ActorFixture.make()
        let s = f.store
        try await s.save(Counter(value: 1), for: "x")
        let held = try await s.snapshot(for: "x", as: Counter.self)   // a writer reads sequence 1
        #expect(held.sequenceNumber == 1)
        let deleted = try await s.delete(for: "x", expectedSequence: 1)
        guard case .saved(let tombstone) = deleted else { Issue.record("delete at 1 refused"); return }
        #expect(tombstone == 2)
        try await s.save(Counter(value: 100), for: "x")              // recreated at 3
        #expect(try await s.sequenceNumber(for: "x") == 3)
        guard case .conflict(let current) = try await s.save(Counter(value: 2), for: "x", expectedSequence: held.sequenceNumber) else {
            Issue.record("a pre-delete sequence wrote over the recreated actor (ABA)"); return
        }
        #expect(current.sequenceNumber == 3 && current.state == Counter(value: 100))
        // Recreate by CAS needs the tombstone's sequence, not 0.
        _ = try await s.delete(for: "x")
        #expect(try await s.save(Counter(value: 5), for: "x", expectedSequence: 0).isSaved == false)
        #expect(try await s.save(Counter(value: 5), for: "x", expectedSequence: 4) .isSaved)
        #expect(try await s.sequenceNumber(for: "x") == 5)
        await f.finish()
    }

    @Test func concurrentTransformsLoseNoUpdate() async throws {
        let f = try await ActorFixture.make()
        let (tasks, each) = (8, 50)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    for _ in 0..<each {
                        try await f.store.transform(for: "hot", as: Counter.self) { Counter(value: ($0?.value ?? 0) + 1) }
                    }
                }
            }
            try await group.waitForAll()
        }
        let final = try await f.store.snapshot(for: "hot", as: Counter.self)
        #expect(final.state == Counter(value: tasks * each))
        #expect(final.sequenceNumber == Int64(tasks * each))
        // The seed's update() name, same guarantee.
        let v = try await f.store.update(for: "hot", as: Counter.self) { Counter(value: ($0?.value ?? 0) + 1) }
        #expect(v.value == tasks * each + 1)
        print("actors: \(tasks) tasks × \(each) transforms on one actor: final \(final.state?.value ?? -1)")
        await f.finish()
    }

    @Test func aStaleActivationIsFenced() async throws {
        let f = try await ActorFixture.make()
        let s = f.store
        let a = try await s.activate("room", holder: "host-a:1:aa", lease: .seconds(10))
        #expect(try await s.tryActivate("room", holder: "host-b:2:bb", lease: .seconds(10)) == nil, "a live lease was taken")
        #expect(try await s.save(Counter(value: 1), for: "room", activation: a).isSaved)
        // An unfenced write while the lease is live is refused.
        let plain = await #expect(throws: PGStoreError.self) { try await s.save(Counter(value: 666), for: "room") }
        #expect(plain?.code == .fenced)
        // The lease runs out (database clock); B takes over with a larger token.
        try await f.advance(.seconds(11))
        let b = try #require(try await s.tryActivate("room", holder: "host-b:2:bb", lease: .seconds(10)))
        #expect(b.lease.token > a.lease.token)
        let stale = await #expect(throws: PGStoreError.self) { _ = try await s.save(Counter(value: 2), for: "room", activation: a) }
        #expect(stale?.code == .fenced)
        let staleTransform = await #expect(throws: PGStoreError.self) {
            try await s.transform(for: "room", as: Counter.self, activation: a) { Counter(value: ($0?.value ?? 0) + 10) }
        }
        #expect(staleTransform?.code == .fenced)
        let renew = await #expect(throws: PGStoreError.self) { _ = try await s.renew(a) }
        #expect(renew?.code == .fenced)
        #expect(try await s.save(Counter(value: 3), for: "room", activation: b).isSaved)
        #expect(try await s.load(for: "room", as: Counter.self) == Counter(value: 3))
        try await s.release(b)
        #expect(try await s.save(Counter(value: 4), for: "room") == 3)
        await f.finish()
    }

    /// The seed's "Verify Setup" SQL runs against our table and its trigger feeds the change log.
    @Test func theSeedsVerifySetupSQLWorks() async throws {
        let f = try await ActorFixture.make()
        let changes = Collector(try await f.store.changes())
        try await f.admin.simpleQuery("SET search_path TO \"\(f.schema)\"")
        _ = try await f.admin.simpleQuery("SELECT * FROM actor_states LIMIT 1")
        _ = try await f.admin.simpleQuery("INSERT INTO actor_states (actor_id, state, sequence_number) VALUES ('test-actor', '\\x00', 0)")
        #expect(await eventually { changes.changes.contains { $0.actorID == "test-actor" && $0.sequenceNumber == 0 } })
        let functions = try await f.admin.queryOne(
            "SELECT count(*)::int8 FROM pg_proc WHERE proname = 'notify_actor_state_change'", as: Int64.self)
        #expect(functions >= 1)
        changes.stop()
        await f.finish()
    }
}
}
