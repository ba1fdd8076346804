@testable import PGClient
import PGWire
import Synchronization
import Testing

/// The row stream's hand-off between a connection and one consumer, without a server.
@Suite struct RowStreamTests {
    final class Owner: PGRowStreamOwner {
        let wantsMore = Atomic<Int>(0)
        func rowStreamWantsMore() { wantsMore.add(1, ordering: .relaxed) }
        func rowStreamCancelled(unit: UInt64) {}
    }

    static func rows(_ n: Int) -> [PGDataRow] {
        Array(repeating: PGDataRow(fields: [0, 0, 0, 1, 7][...], columnCount: 1), count: n)
    }

    @Test func droppingAResultThatEndedWhileItsProducerWasPausedLetsTheConnectionReadAgain() {
        let owner = Owner()
        let stream = PGRowStream(columns: PGRowDescription(columns: []), unit: 1, owner: owner, highWatermark: 4)
        // The rows of the last read pass the watermark (the producer pauses) and the same read ends the result.
        #expect(stream.push(Self.rows(5)) == false)
        stream.finish(.success(commandTag: "SELECT 5"))
        var sequence: PGRowSequence? = PGRowSequence(stream: stream)
        #expect(sequence != nil)
        sequence = nil  // dropped unread
        #expect(owner.wantsMore.load(ordering: .relaxed) == 1, "a paused connection must be told to read again")
    }

    @Test func droppingAnUnfinishedResultAbandonsIt() {
        let owner = Owner()
        let stream = PGRowStream(columns: PGRowDescription(columns: []), unit: 1, owner: owner, highWatermark: 4)
        #expect(stream.push(Self.rows(2)) == true)
        var sequence: PGRowSequence? = PGRowSequence(stream: stream)
        #expect(sequence != nil)
        sequence = nil
        // Later rows are dropped rather than buffered for nobody.
        #expect(stream.push(Self.rows(10)) == true)
        #expect(owner.wantsMore.load(ordering: .relaxed) == 0)
    }

    @Test func aResultReadToItsEndNeedsNoCleanUp() async throws {
        let owner = Owner()
        let stream = PGRowStream(columns: PGRowDescription(columns: []), unit: 1, owner: owner, highWatermark: 4)
        #expect(stream.push(Self.rows(3)) == true)
        stream.finish(.success(commandTag: "SELECT 3"))
        var count = 0
        for try await _ in PGRowSequence(stream: stream) { count += 1 }
        #expect(count == 3)
        #expect(owner.wantsMore.load(ordering: .relaxed) == 0)
    }
}
