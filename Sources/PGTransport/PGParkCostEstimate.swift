/// What a park (sleeping in `epoll_wait` while a reply is awaited, then being woken) costs an event loop's
/// thread in CPU time, as a moving average of sampled parks, and the poll budget that follows from it.
///
/// The budget is the ski-rental rule: poll for at most what giving up and parking costs, so a poll that runs
/// out has spent at most twice what parking at once would have, while a reply that comes within it costs no
/// sleep and no wake-up. On a quiet machine a park costs ~10–20 µs and the configured budget
/// (`pollBeforeParking`) rules; on a busy virtual machine a park and its wake-up were measured here at
/// 30–160 µs of the client's CPU, against ~30–40 µs for a whole polled round trip, and a fixed 50 µs budget
/// that kept running out left the loop parking (and backing off) instead. Pure: the loop measures, this keeps
/// the books.
struct PGParkCostEstimate {
    /// The estimate in nanoseconds; 0 until a park was measured.
    private(set) var nanoseconds: UInt64 = 0
    /// Parks to let pass before the next sample.
    private var parksUntilSample = 0

    /// Parks to let pass between two samples (a sample is two `getrusage` calls).
    static let sampleInterval = 8
    /// The most a measured park cost raises the poll budget to.
    static let maxBudget: UInt64 = 1_000_000

    /// Whether the park about to start is one to measure (every `sampleInterval`-th, and each one after a
    /// sample that did not sleep).
    mutating func sampleThisPark() -> Bool {
        guard parksUntilSample == 0 else {
            parksUntilSample -= 1
            return false
        }
        return true
    }

    /// The loop cannot measure (no per-thread usage on this system): never sample again.
    mutating func stopSampling() {
        parksUntilSample = .max
    }

    /// A measured park that slept cost `microseconds` of the thread's CPU time: folded in with weight ¼, each
    /// sample taken as at least 1 µs and at most 1 ms.
    mutating func parked(costing microseconds: UInt64) {
        parksUntilSample = Self.sampleInterval - 1
        let sample = min(max(microseconds, 1), 1_000) &* 1_000
        nanoseconds = nanoseconds == 0 ? sample : (nanoseconds &* 3 &+ sample) / 4
    }

    /// How long a poll for a reply may go on: polling off (`configured` 0) stays off; otherwise `configured`,
    /// or the measured park cost (capped at `maxBudget`) when that is longer.
    @inline(__always)
    static func budget(configured: UInt64, parkCost: UInt64) -> UInt64 {
        configured == 0 ? 0 : max(configured, min(parkCost, maxBudget))
    }
}
