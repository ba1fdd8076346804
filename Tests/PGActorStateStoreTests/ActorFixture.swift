import Foundation
import PGActorStateStore
import PGClient
import PGStoreSupport
import PGTestSupport
import Synchronization
import Testing

/// Every suite of this target, one at a time (the multi-process and stream tests load the same two cores).
@Suite(.serialized) struct ActorStateSuites {}

/// A store in a schema of its own on the shared test server, created by the store itself (`autoCreate`).
struct ActorFixture {
    let pg: TemporaryPostgres
    let schema: String
    let store: PGActorStateStore
    let admin: PGConnection

    static func make(configure: (inout PGActorStateStore.Configuration) -> Void = { _ in }) async throws -> ActorFixture {
        let pg = try await TemporaryPostgres.shared()
        let schema = "as_\(UInt32.random(in: 0...UInt32.max))"
        var configuration = PGActorStateStore.Configuration(schemaName: schema, autoCreate: true)
        configure(&configuration)
        let store = try PGActorStateStore(.url(pg.url()), configuration: configuration)
        try await store.start()
        let admin = try await PGConnection.connect(try PGConnectionConfiguration(url: pg.url()))
        return ActorFixture(pg: pg, schema: schema, store: store, admin: admin)
    }

    /// Another store on the same schema (another instance), optionally through `url`.
    func another(url: String? = nil, configure: (inout PGActorStateStore.Configuration) -> Void = { _ in }) async throws -> PGActorStateStore {
        var configuration = PGActorStateStore.Configuration(schemaName: schema)
        configure(&configuration)
        let store = try PGActorStateStore(.url(url ?? pg.url()), configuration: configuration)
        try await store.start()
        return store
    }

    var clock: PGStoreClock { PGStoreClock(schema: try! PGStoreIdentifier(schema)) }

    func advance(_ d: Duration) async throws { try await clock.advance(by: d, on: admin) }

    func finish() async {
        await store.shutdown()
        _ = try? await admin.simpleQuery("DROP SCHEMA \"\(schema)\" CASCADE")
        await admin.close()
    }
}

struct Counter: Codable, Sendable, Equatable { var value: Int }

struct GameState: Codable, Sendable, Equatable {
    var scores: [String: Int] = [:]
    var round = 0
}

/// Collects a change stream's events in a task.
final class Collector: Sendable {
    let events = Mutex<[PGActorChangeEvent]>([])
    let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    init(_ stream: AsyncStream<PGActorChangeEvent>) {
        let t = Task { [self] in
            for await e in stream { self.events.withLock { $0.append(e) } }
        }
        task.withLock { $0 = t }
    }

    var changes: [PGActorStateChange] {
        events.withLock { $0.compactMap { if case .changed(let c) = $0 { return c } else { return nil } } }
    }

    func stop() { task.withLock { $0?.cancel() } }
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(_ timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}
