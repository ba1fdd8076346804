/// The pool's source of jitter: SplitMix64, seeded, so tests are deterministic and the state
/// machine stays a plain `Sendable` value.
///
/// ```swift
/// var random = PGPoolRandom(seed: 42)
/// let n = random.next()                       // same sequence for the same seed
/// let production = PGPoolRandom()             // seeded from the system generator
/// ```
public struct PGPoolRandom: RandomNumberGenerator, Hashable, Sendable {
    private var state: UInt64

    /// A generator with a fixed seed.
    ///
    /// ```swift
    /// let random = PGPoolRandom(seed: 1)
    /// ```
    public init(seed: UInt64) { self.state = seed }

    /// A generator seeded from the system's random source.
    ///
    /// ```swift
    /// let random = PGPoolRandom()
    /// ```
    public init() {
        var system = SystemRandomNumberGenerator()
        self.state = system.next()
    }

    /// The next 64 random bits.
    ///
    /// ```swift
    /// var r = PGPoolRandom(seed: 1); _ = r.next()
    /// ```
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
