import Foundation
import PGClient
import PGTestSupport
import Testing

@Suite(.serialized) struct NotifyTests {
    @Test func notificationsAcrossTwoConnections() async throws {
        let listener = try await TestDB.connect()
        let sender = try await TestDB.connect()
        let events = try await listener.listen("tusk_events")
        #expect(await listener.listeningChannels == ["tusk_events"])
        for i in 0..<5 { try await sender.notify(channel: "tusk_events", payload: "p\(i)") }
        var received: [PGNotification] = []
        for try await n in events {
            received.append(n)
            if received.count == 5 { break }
        }
        #expect(received.map(\.payload) == ["p0", "p1", "p2", "p3", "p4"])
        #expect(received.allSatisfy { $0.channel == "tusk_events" })
        #expect(received[0].processID == (await sender.backendProcessID))
        // Payload limit checked before sending.
        await #expect(throws: PGError.self) { try await sender.notify(channel: "tusk_events", payload: String(repeating: "x", count: 8000)) }
        await sender.close()
        await listener.close()
    }

    @Test func listenerStreamEndsWhenTheConnectionCloses() async throws {
        let c = try await TestDB.connect()
        let events = try await c.listen("tusk_close")
        await c.close()
        do {
            for try await _ in events {}
            Issue.record("stream ended without an error")
        } catch let e as PGError {
            #expect(e.code == .connectionClosed)
        }
    }

    @Test func listenerReconnectsAfterTheBackendIsKilled() async throws {
        let pg = try await TestDB.server()
        let config = try await TestDB.configuration()
        let listener = PGListener(configuration: config, initialBackoff: .milliseconds(50))
        let events = try await listener.notifications(on: "tusk_hub")
        let sender = try await TestDB.connect()
        try await sender.notify(channel: "tusk_hub", payload: "before")
        let queue = EventQueue(events)
        #expect(await queue.next(within: .seconds(5)) == .notification(PGNotification(channel: "tusk_hub", payload: "before", processID: await sender.backendProcessID)))
        let pid = try #require(await listener.backendProcessID)
        _ = try await pg.psql("SELECT pg_terminate_backend(\(pid))")
        #expect(await queue.next(within: .seconds(5)) == .reconnected)
        try await sender.notify(channel: "tusk_hub", payload: "after")
        let after = await queue.next(within: .seconds(5))
        if case .notification(let n) = after { #expect(n.payload == "after") } else { Issue.record("got \(String(describing: after))") }
        await listener.shutdown()
        await sender.close()
    }

    @Test func listenerSurvivesAServerRestart() async throws {
        let shared = try await TemporaryPostgres.shared()
        guard !shared.isExternal else { return }
        let pg = try await TemporaryPostgres.start()
        defer { Task { await pg.stop() } }
        let config = try PGConnectionConfiguration(url: pg.url())
        let listener = PGListener(configuration: config, initialBackoff: .milliseconds(50), maximumBackoff: .milliseconds(500))
        let events = try await listener.notifications(on: "tusk_restart")
        try await pg.restart()
        let queue = EventQueue(events)
        #expect(await queue.next(within: .seconds(15)) == .reconnected)
        let sender = try await PGConnection.connect(config)
        try await sender.notify(channel: "tusk_restart", payload: "back")
        let second = await queue.next(within: .seconds(5))
        if case .notification(let n) = second { #expect(n.payload == "back") } else { Issue.record("got \(String(describing: second))") }
        await sender.close()
        await listener.shutdown()
        await pg.stop()
    }
}

/// Collects a listener's events so a test can wait for the next one with a deadline.
actor EventQueue {
    var items: [PGListenerEvent] = []
    var task: Task<Void, Never>?

    init(_ events: AsyncStream<PGListenerEvent>) {
        let (stream, continuation) = AsyncStream<PGListenerEvent>.makeStream()
        _ = stream
        task = nil
        let forward = Task { [weak self] in
            for await e in events { await self?.append(e) }
            continuation.finish()
        }
        Task { await self.setTask(forward) }
    }

    func setTask(_ t: Task<Void, Never>) { task = t }
    func append(_ e: PGListenerEvent) { items.append(e) }

    /// The next event, or nil when none came within `limit`.
    func next(within limit: Duration) async -> PGListenerEvent? {
        let deadline = ContinuousClock.now + limit
        while items.isEmpty {
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return items.removeFirst()
    }
}
