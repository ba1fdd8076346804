@testable import PGTransport
import Testing

/// The books behind the adaptive poll budget: which parks are sampled, how samples fold in, and the budget rule.
@Suite struct PGParkCostEstimateTests {
    @Test func theBudgetIsTheConfiguredOneUntilParkingCostsMore() {
        #expect(PGParkCostEstimate.budget(configured: 50_000, parkCost: 0) == 50_000)
        #expect(PGParkCostEstimate.budget(configured: 50_000, parkCost: 20_000) == 50_000)
        #expect(PGParkCostEstimate.budget(configured: 50_000, parkCost: 120_000) == 120_000)
        #expect(PGParkCostEstimate.budget(configured: 50_000, parkCost: 5_000_000) == PGParkCostEstimate.maxBudget)
        // A configured budget above the cap stays as configured; polling off stays off.
        #expect(PGParkCostEstimate.budget(configured: 1_000_000_000, parkCost: 120_000) == 1_000_000_000)
        #expect(PGParkCostEstimate.budget(configured: 0, parkCost: 120_000) == 0)
    }

    @Test func everyEighthParkIsSampledAndANonSleepingSampleIsRetried() {
        var e = PGParkCostEstimate()
        let first = e.sampleThisPark()
        // That park did not sleep (nothing recorded): the next one is sampled instead.
        let second = e.sampleThisPark()
        #expect(first && second)
        e.parked(costing: 40)
        var pattern: [Bool] = []
        for _ in 0..<16 { pattern.append(e.sampleThisPark()) }
        #expect(pattern == Array(repeating: false, count: 7) + [true] + Array(repeating: true, count: 8))
        e.stopSampling()
        var sampled = 0
        for _ in 0..<1_000 where e.sampleThisPark() { sampled += 1 }
        #expect(sampled == 0)
    }

    @Test func samplesFoldInAsAMovingAverageWithinBounds() {
        var e = PGParkCostEstimate()
        #expect(e.nanoseconds == 0)
        e.parked(costing: 40)
        #expect(e.nanoseconds == 40_000)
        e.parked(costing: 120)
        #expect(e.nanoseconds == 60_000)   // (3 × 40 + 120) / 4
        // Samples count as at least 1 µs (0 means "not measured") and at most 1 ms.
        var tiny = PGParkCostEstimate()
        tiny.parked(costing: 0)
        #expect(tiny.nanoseconds == 1_000)
        var huge = PGParkCostEstimate()
        huge.parked(costing: 50_000)
        #expect(huge.nanoseconds == 1_000_000)
        // A spell of cheap parks brings a high estimate down.
        for _ in 0..<30 { huge.parked(costing: 15) }
        #expect(huge.nanoseconds < 16_000)
    }
}
