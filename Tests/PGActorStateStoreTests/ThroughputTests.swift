import Foundation
import PGActorStateStore
import PGClient
import PGStoreSupport
import PGTestSupport
import Testing

extension ActorStateSuites {
/// Rough figures from the test machine (the Benchmarks package is the place for measured ones): 64 tasks,
/// 4 KiB states, one actor per task.
@Suite struct ThroughputTests {
    struct Blob: Codable, Sendable { var n: Int; var pad: String }

    static func rate(_ ops: Int, _ d: Duration) -> String {
        let s = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        return String(format: "%.0f/s", Double(ops) / s)
    }

    @Test func savesLoadsAndTransformsFromSixtyFourTasks() async throws {
        let f = try await ActorFixture.make { $0.poolMaxSize = 8 }
        let (tasks, each) = (64, 40)
        let pad = String(repeating: "x", count: 4_000)
        func run(_ body: @escaping @Sendable (Int, Int) async throws -> Void) async throws -> Duration {
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for t in 0..<tasks { group.addTask { for i in 0..<each { try await body(t, i) } } }
                try await group.waitForAll()
            }
            return ContinuousClock.now - start
        }
        let saves = try await run { t, i in try await f.store.save(Blob(n: i, pad: pad), for: "t\(t)") }
        let loads = try await run { t, _ in _ = try await f.store.load(for: "t\(t)", as: Blob.self) }
        let transforms = try await run { t, _ in
            try await f.store.transform(for: "t\(t)", as: Blob.self) { Blob(n: ($0?.n ?? 0) + 1, pad: pad) }
        }
        let ops = tasks * each
        print("actors: 64 tasks, 4 KiB state, pool 8 (debug build): save \(Self.rate(ops, saves)), load \(Self.rate(ops, loads)), "
              + "transform (load + CAS) \(Self.rate(ops, transforms))")
        #expect(try await f.store.load(for: "t0", as: Blob.self)?.n == each - 1 + each)
        await f.finish()
    }
}
}
