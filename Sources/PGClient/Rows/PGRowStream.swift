import PGTransport
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The producer of a row stream (a connection), told when its consumer wants more or was cancelled.
protocol PGRowStreamOwner: AnyObject, Sendable {
    /// A paused producer may read again, or the consumer went away (called from any thread).
    func rowStreamWantsMore()
    /// The consuming task was cancelled while waiting for request `unit`.
    func rowStreamCancelled(unit: UInt64)
}

/// The channel between a connection (producer, on its event loop) and one result's consumer.
///
/// Rows arrive in batches (one per socket read) under one lock; the consumer takes everything buffered at
/// once. Above `highWatermark` buffered rows the producer is told to stop reading the socket, and it is
/// asked to resume once the consumer has taken them: memory stays flat however large the result.
/// The lock is a spin lock held for a few loads and stores only (producer and consumer rarely meet); it is
/// inline, so a stream costs one allocation.
final class PGRowStream: @unchecked Sendable {
    enum Completion: Sendable {
        case success(commandTag: String)
        indirect case failure(PGError)
    }

    struct State {
        var rows: [PGDataRow] = []
        var completion: Completion?
        var columns: PGRowDescription?
        var waiter: UnsafeContinuation<Bool, Never>?
        var producerPaused = false
        var abandoned = false
        var receivedAny = false
        var recoverable = false
        var onFinish: (@Sendable (Completion) -> Void)?
        /// The request; 0 until a submitted stream is started on the connection's loop.
        var unit: UInt64 = 0
        /// The consumer was cancelled before the request started (submitted streams only).
        var cancelRequested = false
        /// The connection could not start a submitted request without suspending: the caller takes the full path.
        var declined = false
    }

    let highWatermark: Int
    let owner: any PGRowStreamOwner
    /// The connection's bookkeeping for the request (its statement, timer, command tag, error). Only the
    /// connection's event loop touches it, so it sits outside the lock; keeping it here rather than in a
    /// table of its own saves an insert, lookups and a removal per request.
    @exclusivity(unchecked) var execution = PGConnection.ExecutionInfo()
    private let lockWord = Atomic<Bool>(false)
    /// Guarded by `lockWord`, so the run-time exclusivity check (a thread-local lookup per access) is off.
    @exclusivity(unchecked) private var state: State

    init(columns: PGRowDescription?, unit: UInt64, owner: any PGRowStreamOwner, highWatermark: Int = 8192) {
        self.highWatermark = highWatermark
        self.owner = owner
        self.state = State(columns: columns, unit: unit)
    }

    /// The request this stream belongs to (0 while a submitted stream has not started).
    var unit: UInt64 { withState { $0.unit } }

    @inline(__always)
    private func withState<R>(_ body: (inout State) -> R) -> R {
        if !lockWord.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged { lockSlow() }
        defer { lockWord.store(false, ordering: .releasing) }
        return body(&state)
    }

    private func lockSlow() {
        var spins = 0
        while true {
            if !lockWord.load(ordering: .relaxed),
               lockWord.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged { return }
            spins += 1
            if spins > 64 { sched_yield() }
        }
    }

    func onCancel() {
        let unit = withState { s -> UInt64 in
            s.cancelRequested = true
            return s.unit
        }
        if unit != 0 { owner.rowStreamCancelled(unit: unit) }
    }

    // MARK: Submitted requests (a caller off the connection's loop)

    /// Registers the caller as the waiter, has `submit` run on `loop` (it starts the request, or declines), and
    /// waits for the first event or the decline. The waiting task stays on its own executor: the loop runs a
    /// closure rather than the task, and the reply resumes the task where it belongs.
    func submitAndWait(on loop: PGEventLoop, _ submit: @escaping @Sendable () -> Void) async {
        await withTaskCancellationHandler {
            _ = await withUnsafeContinuation { (cont: UnsafeContinuation<Bool, Never>) in
                withState { $0.waiter = cont }
                loop.execute(submit)
            }
        } onCancel: { [self] in
            self.onCancel()
        }
        // A wake-up other than the first event or the decline cannot happen (only push, finish and decline
        // resume the waiter), but stay safe: wait on until one of them is visible.
        while !withState({ !$0.rows.isEmpty || $0.completion != nil || $0.declined }) {
            if !(await wait()) { return }
        }
    }

    /// Called on the loop before starting a submitted request: false when its consumer was cancelled already.
    func mayStart() -> Bool { withState { !$0.cancelRequested } }

    /// Called on the loop once the request is queued: records its unit and columns. Returns true when the
    /// consumer was cancelled meanwhile (the caller then cancels the unit).
    func started(unit: UInt64, columns: PGRowDescription?) -> Bool {
        withState { s in
            s.unit = unit
            if s.columns == nil { s.columns = columns }
            return s.cancelRequested
        }
    }

    /// The connection declined to start a submitted request without suspending.
    func decline() {
        let waiter = withState { s -> UnsafeContinuation<Bool, Never>? in
            s.declined = true
            let w = s.waiter
            s.waiter = nil
            return w
        }
        waiter?.resume(returning: true)
    }

    var wasDeclined: Bool { withState { $0.declined } }

    /// True once any row arrived.
    var receivedAny: Bool { withState { $0.receivedAny } }

    /// Set by the connection when the failure was a stale cached statement and a retry is safe.
    var isRecoverable: Bool { withState { $0.recoverable } }

    func markRecoverable() { withState { $0.recoverable = true } }

    // MARK: Producer side (event loop)

    /// Sets the columns (when they arrive with the response rather than from the statement cache).
    func setColumns(_ columns: PGRowDescription) {
        withState { $0.columns = columns }
    }

    /// Adds rows; returns false when the producer should pause reading.
    func push(_ batch: [PGDataRow]) -> Bool {
        var waiter: UnsafeContinuation<Bool, Never>?
        let keepReading = withState { s -> Bool in
            if s.abandoned || s.completion != nil { return true }
            s.receivedAny = true
            if s.rows.isEmpty { s.rows = batch } else { s.rows.append(contentsOf: batch) }
            waiter = s.waiter
            s.waiter = nil
            if s.rows.count >= highWatermark {
                s.producerPaused = true
                return false
            }
            return true
        }
        waiter?.resume(returning: true)
        return keepReading
    }

    /// Ends the stream.
    func finish(_ completion: Completion) {
        var hook: (@Sendable (Completion) -> Void)?
        let waiter = withState { s -> UnsafeContinuation<Bool, Never>? in
            guard s.completion == nil else { return nil }
            s.completion = completion
            hook = s.onFinish
            s.onFinish = nil
            let w = s.waiter
            s.waiter = nil
            return w
        }
        waiter?.resume(returning: true)
        hook?(completion)
    }

    /// Runs `hook` once the result has ended (at once if it already has), after any hook added before.
    func whenFinished(_ hook: @escaping @Sendable (Completion) -> Void) {
        let ended = withState { s -> Completion? in
            if let done = s.completion { return done }
            if let earlier = s.onFinish {
                s.onFinish = { completion in
                    earlier(completion)
                    hook(completion)
                }
            } else {
                s.onFinish = hook
            }
            return nil
        }
        if let ended { hook(ended) }
    }

    /// True once rows or the end are available (what `waitForFirstEvent` waits for).
    var hasEvent: Bool { withState { !$0.rows.isEmpty || $0.completion != nil } }

    /// True unless the result has ended and the producer is not paused for this consumer (a finished stream
    /// takes no more rows, so neither can change later).
    var needsConsumerToken: Bool { withState { $0.completion == nil || $0.producerPaused } }

    /// The columns as known now.
    var currentColumns: PGRowDescription? { withState { $0.columns } }

    // MARK: Consumer side

    enum Next {
        case rows([PGDataRow], PGRowDescription)
        case end(Completion)
    }

    /// Waits until rows or the end are available and takes all buffered rows.
    nonisolated(nonsending) func next() async -> Next {
        while true {
            var resume = false
            let taken = withState { s -> Next? in
                if !s.rows.isEmpty, let columns = s.columns {
                    let rows = s.rows
                    s.rows = []
                    if s.producerPaused {
                        s.producerPaused = false
                        resume = true
                    }
                    return .rows(rows, columns)
                }
                if let c = s.completion { return .end(c) }
                return nil
            }
            if resume { owner.rowStreamWantsMore() }
            if let taken { return taken }
            if Task.isCancelled {
                onCancel()
                // Wait for the connection to finish the query (it fails it as cancelled).
            }
            if !(await wait()) {
                return .end(.failure(PGError(
                    code: .misuse, message: "the rows are already being read by another task; a result has one reader")))
            }
        }
    }

    /// Suspends until the producer pushes rows or finishes (returns at once if it already has). Returns false,
    /// at once, when another task is already waiting on this stream (a result has a single reader).
    @discardableResult
    private nonisolated(nonsending) func wait() async -> Bool {
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (cont: UnsafeContinuation<Bool, Never>) in
                let outcome = withState { s -> Bool? in
                    if !s.rows.isEmpty || s.completion != nil { return true }
                    if s.waiter != nil { return false }
                    s.waiter = cont
                    return nil
                }
                if let outcome { cont.resume(returning: outcome) }
            }
        } onCancel: { [self] in
            self.onCancel()
        }
    }

    /// Waits for the first event (a row or the end) without taking it: lets `query()` throw early errors.
    nonisolated(nonsending) func waitForFirstEvent() async {
        while !hasEvent {
            if !(await wait()) { return }
        }
    }

    /// The early error, if the first event was a failure.
    var earlyFailure: PGError? {
        withState { s in
            if s.rows.isEmpty, case .failure(let e) = s.completion { return e }
            return nil
        }
    }

    /// The consumer stopped iterating: drop buffered rows and let the producer drain the rest.
    func abandon() {
        var dropped: [PGDataRow] = []
        let resume = withState { s -> Bool in
            s.abandoned = true
            swap(&dropped, &s.rows)  // released after the lock: up to `highWatermark` rows
            let paused = s.producerPaused
            s.producerPaused = false
            return paused
        }
        dropped = []
        if resume { owner.rowStreamWantsMore() }
    }

    func peekCompletion() -> Next? {
        withState { s in s.completion.map { .end($0) } }
    }
}

/// The rows of a query, streamed as they arrive with backpressure.
///
/// ```swift
/// let rows = try await connection.query("SELECT generate_series(1, $1)", [1_000_000])
/// var sum = 0
/// for try await row in rows { sum += try row.decode(Int.self, column: 0) }
/// print(rows.commandTag ?? "")
/// ```
public struct PGRowSequence: AsyncSequence, Sendable {
    public typealias Element = PGRow
    let stream: PGRowStream
    /// Abandons the stream when the last copy of the sequence (or an iterator) goes away, so the connection
    /// drains the rest, or reads again if it had paused for this consumer. Nil when the result had already
    /// ended with the connection reading on (the usual case for a small one): nothing is left to drain or
    /// resume, and no object is allocated.
    let token: ConsumerToken?

    final class ConsumerToken: Sendable {
        let stream: PGRowStream
        init(stream: PGRowStream) { self.stream = stream }
        deinit { stream.abandon() }
    }

    init(stream: PGRowStream) {
        self.stream = stream
        self.token = stream.needsConsumerToken ? ConsumerToken(stream: stream) : nil
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(stream: stream, token: token)
    }

    /// Iterates over the rows.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: PGRowStream
        let token: ConsumerToken?
        var batch: [PGDataRow] = []
        var index = 0
        var columns: PGRowDescription?
        var done = false

        public nonisolated(nonsending) mutating func next() async throws -> PGRow? {
            if index < batch.count, let columns {
                defer { index += 1 }
                return PGRow(columns: columns, data: batch[index])
            }
            if done { return nil }
            switch await stream.next() {
            case .rows(let rows, let cols):
                batch = rows
                columns = cols
                index = 1
                return PGRow(columns: cols, data: rows[0])
            case .end(.success):
                done = true
                batch = []
                return nil
            case .end(.failure(let error)):
                done = true
                batch = []
                throw error
            }
        }
    }

    /// Reads to the end and returns the first row; more than one row is a `.decoding` error naming the count.
    func atMostOneRow(sql: String) async throws -> PGRow? {
        var first: PGRow?
        var count = 0
        for try await row in self {
            if count == 0 { first = row }
            count += 1
        }
        if count > 1 {
            throw PGError(code: .decoding, message: "the query returned \(count) rows; expected at most one", query: sql)
        }
        return first
    }

    /// Reads to the end and returns the affected-row count of the command tag.
    func drainCount() async throws -> Int? {
        for try await _ in self {}
        return commandTag.flatMap(PGQueryResult.affectedRows(from:))
    }

    /// Collects every row into an array (for results known to be small).
    public func collect() async throws -> [PGRow] {
        var rows: [PGRow] = []
        for try await row in self { rows.append(row) }
        return rows
    }

    /// The command tag once the result has been fully consumed (e.g. "SELECT 3").
    public var commandTag: String? {
        if case .end(.success(let tag)) = stream.peekCompletion() { return tag }
        return nil
    }
}

