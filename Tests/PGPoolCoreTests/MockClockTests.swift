import PGPoolCore
import Testing

@Suite struct MockClockTests {
    @Test func sleepersWakeWhenTimeReachesTheirDeadline() async throws {
        let clock = PGMockClock()
        let sleeper = Task { try await clock.sleep(until: clock.now.advanced(by: .seconds(5)), tolerance: nil) }
        while clock.sleeperCount < 1 { await Task.yield() }
        clock.advance(by: .seconds(4))
        #expect(clock.sleeperCount == 1)
        clock.advance(by: .seconds(1))
        try await sleeper.value
        #expect(clock.sleeperCount == 0)
        #expect(clock.now == PGMockClock.Instant(offset: .seconds(5)))
    }

    @Test func aCancelledSleeperThrows() async {
        let clock = PGMockClock()
        let sleeper = Task { try await clock.sleep(until: clock.now.advanced(by: .seconds(5)), tolerance: nil) }
        while clock.sleeperCount < 1 { await Task.yield() }
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.sleeperCount == 0)
    }

    @Test func aPastDeadlineReturnsAtOnce() async throws {
        let clock = PGMockClock()
        clock.advance(by: .seconds(1))
        try await clock.sleep(until: PGMockClock.Instant(offset: .zero), tolerance: nil)
    }

    @Test func seededRandomRepeats() {
        var a = PGPoolRandom(seed: 9)
        var b = PGPoolRandom(seed: 9)
        #expect((0..<4).map { _ in a.next() } == (0..<4).map { _ in b.next() })
    }
}
