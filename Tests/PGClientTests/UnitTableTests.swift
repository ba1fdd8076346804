@testable import PGClient
import Testing

/// The table of requests in flight: FIFO in the common case, gaps and out-of-order removal allowed.
@Suite struct UnitTableTests {
    @Test func fifoInsertLookupAndRemoveOverManyRequests() {
        var table = PGUnitTable<String>()
        // Far more requests than the compaction threshold, one in flight at a time (the sequential pattern).
        for id in UInt64(1)...1_000 {
            table[id] = "r\(id)"
            #expect(table.count == 1)
            #expect(table.oldestID == id)
            #expect(table[id] == "r\(id)")
            #expect(table.removeValue(forKey: id) == "r\(id)")
            #expect(table.isEmpty)
            #expect(table[id] == nil)
            #expect(table.oldestID == nil)
        }
    }

    @Test func pipelinedRequestsWithGapsAndOutOfOrderRemoval() {
        var table = PGUnitTable<Int>()
        var live: [UInt64: Int] = [:]
        var next: UInt64 = 1
        // Insert in increasing order with gaps (ids that never got an entry), remove mostly from the front and
        // sometimes from the middle; check against a dictionary after every step.
        for step in 0..<3_000 {
            if step % 7 == 3 { next += 1 }  // a gap
            table[next] = Int(next) * 10
            live[next] = Int(next) * 10
            next += 1
            if step % 3 == 2, let oldest = live.keys.min() {
                #expect(table.removeValue(forKey: oldest) == live.removeValue(forKey: oldest))
            }
            if step % 11 == 5, let middle = live.keys.sorted().dropFirst(live.count / 2).first {
                #expect(table.removeValue(forKey: middle) == live.removeValue(forKey: middle))
            }
            if step % 13 == 0, let some = live.keys.max() {
                table[some] = table[some]! + 1
                live[some]! += 1
            }
            #expect(table.count == live.count)
            #expect(table.oldestID == live.keys.min())
        }
        for (id, value) in live { #expect(table[id] == value) }
        #expect(table.allValues == live.keys.sorted().map { live[$0]! })
        table[next + 5] = nil  // removing an absent id changes nothing
        #expect(table.count == live.count)
        table.removeAll()
        #expect(table.isEmpty)
        #expect(table.oldestID == nil)
    }
}
