import CTuskShims
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed set of event loops, one per core by default.
///
/// ```swift
/// let loop = PGEventLoopGroup.shared.next()
/// ```
public final class PGEventLoopGroup: Sendable {
    /// The loops.
    public let loops: [PGEventLoop]
    private let counter = Atomic<Int>(0)

    /// A process-wide group with one loop per available core (at least 1).
    public static let shared: PGEventLoopGroup = {
        var cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        if let v = getenv("TUSK_EVENT_LOOPS"), let n = Int(String(cString: v)), n > 0 { cores = n }
        // Event loop creation only fails when the process is out of descriptors; report that at first use.
        return (try? PGEventLoopGroup(threads: max(1, cores))) ?? PGEventLoopGroup(failed: ())
    }()

    /// Creates `threads` loops (see `PGEventLoop.init` for `pollBeforeParking`).
    ///
    /// ```swift
    /// let group = try PGEventLoopGroup(threads: 2, pollBeforeParking: .zero)
    /// ```
    public init(threads: Int, pollBeforeParking: Duration = PGEventLoop.defaultPollBeforeParking) throws {
        var loops: [PGEventLoop] = []
        for i in 0..<max(1, threads) { loops.append(try PGEventLoop(name: "tusk-io-\(i)", pollBeforeParking: pollBeforeParking)) }
        self.loops = loops
    }

    private init(failed: Void) { loops = [] }

    /// The next loop, round-robin. Throws when the group could not start any loop.
    public func next() throws -> PGEventLoop {
        guard !loops.isEmpty else { throw PGTransportError.system("event loop start", errno: EMFILE) }
        let i = counter.add(1, ordering: .relaxed).oldValue
        return loops[i % loops.count]
    }
}
