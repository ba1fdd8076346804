import Foundation
import PGActorStateStore
import PGClient
import PGStoreSupport
import PGTestSupport
import Testing

extension ActorStateSuites {
/// Worker processes transform the same counters through one database; crashes are SIGKILLs.
@Suite struct MultiProcessTests {
    static let environment = ProcessInfo.processInfo.environment
    /// The issue's size is 4 × 100 actors × 200 transforms; `TUSK_ACTORS_ACTORS` / `TUSK_ACTORS_INCREMENTS` set it.
    static let actors = Int(environment["TUSK_ACTORS_ACTORS"] ?? "") ?? 100
    static let increments = Int(environment["TUSK_ACTORS_INCREMENTS"] ?? "") ?? 50

    @Test func fourProcessesLoseNoIncrement() async throws {
        let f = try await ActorFixture.make()
        let workers = try PGWorkerProcess.start(count: 4, "actors") { _ in
            ["--url", f.pg.url(), "--schema", f.schema, "--actors", String(Self.actors), "--increments", String(Self.increments),
             "--tasks", "8", "--pool", "4"]
        }
        let started = ContinuousClock.now
        var ok = 0
        for w in workers {
            let done = try await w.waitForEvent(named: "done", timeout: .seconds(600))
            #expect(done["failed"] == "0", "\(w.summary())")
            ok += Int(done["ok"] ?? "") ?? 0
            _ = try await w.waitForExit(timeout: .seconds(10))
        }
        let elapsed = ContinuousClock.now - started
        #expect(ok == 4 * Self.actors * Self.increments)
        var wrong: [String] = []
        for a in 0..<Self.actors {
            let snap = try await f.store.snapshot(for: "a\(a)", as: Counter.self)
            if snap.state?.value != 4 * Self.increments || snap.sequenceNumber != Int64(4 * Self.increments) {
                wrong.append("a\(a)=\(snap.state?.value ?? -1)@\(snap.sequenceNumber)")
            }
        }
        #expect(wrong.isEmpty, "counters off: \(wrong.prefix(10))")
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("actors: 4 processes × 8 tasks × \(Self.actors) actors × \(Self.increments) transforms each: "
              + "\(ok) transforms in \(String(format: "%.2f", seconds)) s (\(String(format: "%.0f", Double(ok) / seconds))/s), "
              + "\(Self.actors - wrong.count)/\(Self.actors) counters exact")
        await f.finish()
    }

    /// Two instances activate one actor: the first writes, the second is refused; SIGKILL the first and the
    /// second takes over once the lease runs out, after which the killed holder's token is fenced.
    @Test func aKilledHoldersActivationExpiresAndIsTakenOver() async throws {
        let f = try await ActorFixture.make()
        let holder = try PGWorkerProcess.start("actors", arguments: [
            "--url", f.pg.url(), "--schema", f.schema, "--mode", "hold", "--actor", "room", "--lease-ms", "2000",
        ])
        let activated = try await holder.waitForEvent(named: "activated", timeout: .seconds(60))
        _ = try await holder.waitForEvent(named: "saved", timeout: .seconds(30))
        let token = Int64(activated["token"] ?? "") ?? -1
        #expect(try await f.store.tryActivate("room", holder: "second", lease: .seconds(2)) == nil)
        let refused = await #expect(throws: PGStoreError.self) { try await f.store.save(Counter(value: 0), for: "room") }
        #expect(refused?.code == .fenced)
        holder.kill()
        _ = try await holder.waitForExit(timeout: .seconds(10))
        let killed = ContinuousClock.now
        var taken: PGActorActivation?
        while taken == nil, ContinuousClock.now - killed < .seconds(15) {
            taken = try await f.store.tryActivate("room", holder: "second", lease: .seconds(10))
            if taken == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let second = try #require(taken)
        let waited = ContinuousClock.now - killed
        #expect(waited < .seconds(5), "took over after \(waited) (lease 2 s)")
        #expect(second.lease.token.rawValue > token)
        let before = try await f.store.snapshot(for: "room", as: Counter.self)
        let after = try await f.store.transform(for: "room", as: Counter.self, activation: second) { Counter(value: ($0?.value ?? 0) + 1) }
        #expect(after.sequenceNumber == before.sequenceNumber + 1)
        // The dead holder's token is refused.
        let stale = PGActorActivation(actorID: "room", lease: PGLease(holder: second.lease.holder, token: PGFencingToken(rawValue: token),
                                                                      expiresAt: second.lease.expiresAt))
        let fenced = await #expect(throws: PGStoreError.self) { _ = try await f.store.save(Counter(value: -1), for: "room", activation: stale) }
        #expect(fenced?.code == .fenced)
        print("actors: activation taken over \(waited) after SIGKILL of the holder (lease 2 s)")
        await f.finish()
    }
}
}
