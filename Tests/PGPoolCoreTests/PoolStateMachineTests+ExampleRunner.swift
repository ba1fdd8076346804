import PGPoolCore
import Testing

/// A minimal actor that runs the state machine, as `PGPool` does: continuations keyed by request
/// id, one task per timer sleeping on the clock, fake connections that open at once.
actor ExampleRunner {
    private var machine: Machine
    private let clock: PGMockClock
    private var nextRequest: UInt64 = 0
    private var waiters: [PGPoolRequestID: CheckedContinuation<PGPoolConnectionID, any Error>] = [:]
    private var timers: [PGPoolTimerID: Task<Void, Never>] = [:]
    private var shutdownWaiter: CheckedContinuation<Void, Never>?

    init(configuration: PGPoolConfiguration, clock: PGMockClock) {
        self.machine = Machine(configuration: configuration, clock: clock)
        self.clock = clock
    }

    var waiting: Int { waiters.count }

    func lease() async throws -> (PGPoolConnectionID, PGPoolRequestID) {
        let id = PGPoolRequestID(nextRequest)
        nextRequest += 1
        let connection = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                waiters[id] = continuation
                run(machine.leaseRequested(id))
            }
        } onCancel: {
            Task { await self.cancel(id) }
        }
        return (connection, id)
    }

    func release(_ connection: PGPoolConnectionID, _ request: PGPoolRequestID) {
        run(machine.connectionReleased(connection, request: request))
    }

    func shutdown(gracePeriod: Duration) async {
        await withCheckedContinuation { continuation in
            shutdownWaiter = continuation
            run(machine.shutdownRequested(gracePeriod: gracePeriod))
        }
    }

    private func cancel(_ request: PGPoolRequestID) {
        guard let continuation = waiters.removeValue(forKey: request) else { return }
        run(machine.requestCancelled(request))
        continuation.resume(throwing: CancellationError())
    }

    private func fire(_ timer: PGPoolTimerID) {
        timers[timer] = nil
        run(machine.timerFired(timer))
    }

    private func run(_ actions: [Machine.Action]) {
        for action in actions {
            switch action {
            case .createConnection(let id):
                Task { self.run(self.machine.connectionCreated(id)) }
            case .leaseConnection(let id, let request):
                waiters.removeValue(forKey: request)?.resume(returning: id)
            case .failRequest(let request, let error):
                waiters.removeValue(forKey: request)?.resume(throwing: error)
            case .pingConnection(let id):
                Task { self.run(self.machine.pingSucceeded(id)) }
            case .closeConnection(let id), .forceCloseConnection(let id):
                Task { self.run(self.machine.connectionClosed(id)) }
            case .scheduleTimer(let timer, let deadline):
                timers[timer]?.cancel()
                timers[timer] = Task { [clock] in
                    do { try await clock.sleep(until: deadline, tolerance: nil) } catch { return }
                    self.fire(timer)
                }
            case .cancelTimer(let timer):
                timers.removeValue(forKey: timer)?.cancel()
            case .warnLeak, .poolReady:
                break
            case .shutdownComplete:
                shutdownWaiter?.resume()
                shutdownWaiter = nil
            }
        }
    }
}

@Suite struct ExampleRunnerTests {
    @Test func anActorDrivesTheMachineWithRealTasksAndTheMockClock() async throws {
        let clock = PGMockClock()
        let pool = ExampleRunner(configuration: quiet(max: 1, acquireTimeout: .seconds(5)), clock: clock)
        let (first, firstRequest) = try await pool.lease()
        #expect(first == c(0))

        let timedOut = Task { try await pool.lease() }
        while clock.sleeperCount < 1 { await Task.yield() }
        clock.advance(by: .seconds(5))
        await #expect(throws: PGPoolError.acquireTimedOut) { try await timedOut.value }

        let cancelled = Task { try await pool.lease() }
        while await pool.waiting < 1 { await Task.yield() }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }

        let next = Task { try await pool.lease() }
        while await pool.waiting < 1 { await Task.yield() }
        await pool.release(first, firstRequest)
        let (again, againRequest) = try await next.value
        #expect(again == first)
        await pool.release(again, againRequest)
        await pool.shutdown(gracePeriod: .seconds(1))
        await #expect(throws: PGPoolError.poolShutDown) { try await pool.lease() }
    }
}
