@testable import PGPoolCore
import Testing

/// Drives the machine with seeded random events through a model runner that carries out every
/// action, and checks the invariants after each step.
@Suite struct PropertyTests {
    /// What a well-behaved runner knows, built only from the actions it was given.
    struct Runner {
        var machine: Machine
        let clock: PGMockClock
        let configuration: PGPoolConfiguration
        var random: PGPoolRandom

        var nextRequest: UInt64 = 0
        var connecting: Set<PGPoolConnectionID> = []
        var open: Set<PGPoolConnectionID> = []
        var closing: Set<PGPoolConnectionID> = []
        var everCreated: Set<PGPoolConnectionID> = []
        var pinging: Set<PGPoolConnectionID> = []
        var waiting: Set<PGPoolRequestID> = []
        var leases: [PGPoolRequestID: PGPoolConnectionID] = [:]
        var outcomes: [PGPoolRequestID: [String]] = [:]
        var timers: [PGPoolTimerID: PGMockClock.Instant] = [:]
        var readyCount = 0
        var completeCount = 0
        var issues: [String] = []
        /// The kinds of action seen, to check that the walk reaches every behaviour.
        var actionKinds: Set<String> = []

        init(seed: UInt64) {
            var random = PGPoolRandom(seed: seed)
            let max = Int.random(in: 1...5, using: &random)
            configuration = PGPoolConfiguration(
                minimumConnections: Int.random(in: 0...max, using: &random),
                maximumConnections: max,
                leasesPerConnection: Int.random(in: 1...3, using: &random),
                acquireTimeout: Bool.random(using: &random) ? .seconds(Int.random(in: 1...6, using: &random)) : nil,
                maximumWaiters: Bool.random(using: &random) ? Int.random(in: 0...6, using: &random) : nil,
                idleTimeout: .seconds(Int.random(in: 2...20, using: &random)),
                maximumLifetime: .seconds(Int.random(in: 5...40, using: &random)),
                maximumLifetimeJitter: .seconds(3),
                healthCheckAfterIdle: .seconds(Int.random(in: 1...10, using: &random)),
                leakWarningThreshold: .seconds(Int.random(in: 2...10, using: &random)),
                connectBackoffInitial: .milliseconds(500),
                connectBackoffMaximum: .seconds(4),
                connectBackoffJitter: 0.5
            )
            clock = PGMockClock()
            machine = Machine(configuration: configuration, clock: clock, random: PGPoolRandom(seed: seed &+ 1))
            self.random = random
        }

        func leaseCount(_ id: PGPoolConnectionID) -> Int { leases.values.count { $0 == id } }

        /// The last few actions, so a failing seed shows how it got there.
        var recent: [String] = []

        mutating func note(_ issue: String) { issues.append("\(issue) after \(recent.suffix(12))") }

        mutating func resolve(_ request: PGPoolRequestID, _ outcome: String) {
            if !waiting.contains(request) { note("\(request) resolved (\(outcome)) while not waiting") }
            waiting.remove(request)
            outcomes[request, default: []].append(outcome)
        }

        mutating func dropLeases(of id: PGPoolConnectionID) {
            for (request, connection) in leases where connection == id { leases[request] = nil }
        }

        mutating func run(_ actions: [Action]) {
            var served: [PGPoolRequestID] = []
            recent.append("\(actions)")
            for action in actions {
                actionKinds.insert(String("\(action)".prefix { $0 != "(" }))
                if case .leaseConnection(_, let request) = action { served.append(request) }
                switch action {
                case .createConnection(let id):
                    if everCreated.contains(id) { note("\(id) created twice") }
                    everCreated.insert(id)
                    connecting.insert(id)
                case .leaseConnection(let id, let request):
                    if !open.contains(id) || closing.contains(id) || pinging.contains(id) { note("\(id) lent while not open") }
                    if leaseCount(id) >= configuration.leasesPerConnection { note("\(id) lent beyond its capacity") }
                    resolve(request, "served")
                    leases[request] = id
                case .failRequest(let request, _):
                    resolve(request, "failed")
                case .pingConnection(let id):
                    if !open.contains(id) || leaseCount(id) > 0 || pinging.contains(id) { note("\(id) pinged while busy") }
                    pinging.insert(id)
                case .closeConnection(let id):
                    if leaseCount(id) > 0 { note("\(id) closed politely while leased") }
                    if open.contains(id) { closing.insert(id) } else { note("\(id) closed while not open") }
                    pinging.remove(id)
                case .forceCloseConnection(let id):
                    dropLeases(of: id)
                    pinging.remove(id)
                    closing.insert(id)
                case .scheduleTimer(let timer, let deadline):
                    timers[timer] = deadline
                case .cancelTimer(let timer):
                    timers[timer] = nil
                case .warnLeak(let id, let request, _):
                    if leases[request] != id { note("leak warning for a lease not held") }
                case .poolReady:
                    readyCount += 1
                case .shutdownComplete:
                    completeCount += 1
                    if !(connecting.isEmpty && open.isEmpty) { note("shutdown complete with connections left") }
                }
            }
            // FIFO: nobody still in the queue arrived before a request just served.
            if let last = served.max(), let oldestWaiting = machine.waiters.filter({ machine.requests[$0] == .waiting }).min(),
               oldestWaiting < last {
                note("\(last) served before the older \(oldestWaiting)")
            }
            check()
        }

        mutating func check() {
            let m = machine.metrics
            if m.total > configuration.maximumConnections { note("\(m.total) connections > max") }
            if m.total != connecting.count + open.count { note("metrics total \(m.total) != runner's \(connecting.count + open.count)") }
            if m.leases != leases.count { note("metrics leases \(m.leases) != runner's \(leases.count)") }
            // An attempt force-closed at the shutdown deadline counts as closing, not connecting.
            let abandoned = connecting.intersection(closing).count
            if m.open + m.closing != open.count + abandoned { note("open+closing: \(m) vs runner's \(open.count) + \(abandoned)") }
            if m.connecting != connecting.count - abandoned { note("connecting: \(m) vs runner's \(connecting.count) - \(abandoned)") }
            if machine.requests.count != waiting.count + leases.count { note("requests \(machine.requests.count) != waiting+leased") }
            if m.waiters > waiting.count { note("more waiters than requests waiting") }
            if readyCount > 1 || completeCount > 1 { note("ready or complete sent twice") }
            // Nothing left undone: no waiter next to a free connection, no growth missed.
            if machine.firstWaiting() != nil, machine.availableConnection() != nil { note("a waiter waits beside a free connection") }
            for (id, connection) in machine.connections {
                if case .pinging(let request?) = connection.phase,
                   machine.requests[request] != .awaitingPing(id) || !machine.waiters.contains(request) {
                    note("\(id) checked for \(request), which is not waiting on it")
                }
            }
            let awaiting = machine.requests.values.count { if case .awaitingPing = $0 { true } else { false } }
            let checked = machine.connections.values.count { if case .pinging(.some) = $0.phase { true } else { false } }
            if awaiting != checked { note("\(awaiting) requests await a check, \(checked) connections are checked for one") }
            var copy = machine
            var missed: [Action] = []
            copy.fillDemand(into: &missed)
            if !missed.isEmpty { note("demand left unfilled: \(missed)") }
        }

        /// Fires every due timer, earliest first, including ones scheduled meanwhile.
        mutating func fireDueTimers() {
            while let (timer, _) = timers.filter({ $0.value <= clock.now }).min(by: { ($0.value, "\($0.key)") < ($1.value, "\($1.key)") }) {
                timers[timer] = nil
                run(machine.timerFired(timer))
            }
        }

        mutating func step() {
            switch Int.random(in: 0..<11, using: &random) {
            case 0, 1:
                let request = PGPoolRequestID(nextRequest)
                nextRequest += 1
                waiting.insert(request)
                let timeout: Duration? = Bool.random(using: &random) ? .seconds(Int.random(in: 1...5, using: &random)) : nil
                run(machine.leaseRequested(request, timeout: timeout))
            case 2:
                if let request = waiting.sorted().randomElement(using: &random) {
                    resolve(request, "cancelled")
                    run(machine.requestCancelled(request))
                    if machine.requests[request] != nil { note("\(request) still known after cancellation") }
                }
            case 3:
                if let id = connecting.sorted().randomElement(using: &random) {
                    connecting.remove(id)
                    if Int.random(in: 0..<3, using: &random) == 0 {
                        run(machine.connectionCreationFailed(id))
                    } else {
                        open.insert(id)
                        run(machine.connectionCreated(id))
                    }
                }
            case 4, 5:
                if let (request, id) = leases.sorted(by: { $0.key < $1.key }).randomElement(using: &random) {
                    leases[request] = nil
                    run(machine.connectionReleased(id, request: request))
                }
            case 6:
                if let id = pinging.sorted().randomElement(using: &random) {
                    pinging.remove(id)
                    run(Bool.random(using: &random) ? machine.pingSucceeded(id) : machine.pingFailed(id))
                }
            case 7:
                if let id = closing.sorted().randomElement(using: &random) { closed(id) }
            case 8:
                // A connection dies on its own.
                if Int.random(in: 0..<4, using: &random) == 0, let id = open.subtracting(closing).sorted().randomElement(using: &random) {
                    closed(id)
                }
            default:
                clock.advance(by: .milliseconds(Int.random(in: 0...3000, using: &random)))
                fireDueTimers()
            }
        }

        mutating func closed(_ id: PGPoolConnectionID) {
            if connecting.remove(id) != nil {
                closing.remove(id)
                run(machine.connectionCreationFailed(id))
                return
            }
            open.remove(id)
            closing.remove(id)
            pinging.remove(id)
            dropLeases(of: id)
            run(machine.connectionClosed(id))
        }

        /// Shuts down and plays the runner's part until the machine reports completion.
        mutating func drain() {
            run(machine.shutdownRequested(gracePeriod: .seconds(Int.random(in: 0...5, using: &random))))
            var rounds = 0
            while completeCount == 0, rounds < 1000 {
                rounds += 1
                if let id = connecting.sorted().first {
                    connecting.remove(id)
                    if closing.contains(id) {
                        closing.remove(id)
                        run(machine.connectionCreationFailed(id))
                    } else {
                        open.insert(id)
                        run(machine.connectionCreated(id))
                    }
                } else if let id = closing.sorted().first {
                    closed(id)
                } else if let id = pinging.sorted().first {
                    pinging.remove(id)
                    run(machine.pingSucceeded(id))
                } else if let (request, id) = leases.sorted(by: { $0.key < $1.key }).first, Bool.random(using: &random) {
                    leases[request] = nil
                    run(machine.connectionReleased(id, request: request))
                } else {
                    clock.advance(by: .seconds(1))
                    fireDueTimers()
                }
            }
        }
    }

    @Test(arguments: 1...100)
    func invariantsHoldUnderRandomEvents(seed: Int) {
        var runner = Runner(seed: UInt64(seed))
        runner.run(runner.machine.startRequested())
        for _ in 0..<600 { runner.step() }
        runner.drain()
        #expect(runner.issues.isEmpty, "seed \(seed), \(runner.configuration): \(runner.issues.prefix(5))")
        #expect(runner.completeCount == 1, "seed \(seed): shutdown did not complete")
        #expect(runner.waiting.isEmpty, "seed \(seed): requests left unresolved: \(runner.waiting.sorted())")
        let twice = runner.outcomes.filter { $0.value.count != 1 }
        #expect(twice.isEmpty, "seed \(seed): requests resolved more or less than once: \(twice.prefix(3))")
        #expect(runner.outcomes.count == Int(runner.nextRequest))
        #expect(runner.machine.metrics == PGPoolMetrics())
    }

    @Test func theRandomWalkReachesEveryAction() {
        var kinds: Set<String> = []
        for seed in 1...40 {
            var runner = Runner(seed: UInt64(seed))
            runner.run(runner.machine.startRequested())
            for _ in 0..<600 { runner.step() }
            runner.drain()
            kinds.formUnion(runner.actionKinds)
        }
        let all: Set<String> = [
            "createConnection", "leaseConnection", "failRequest", "pingConnection", "closeConnection",
            "forceCloseConnection", "scheduleTimer", "cancelTimer", "warnLeak", "poolReady", "shutdownComplete",
        ]
        #expect(all.subtracting(kinds).isEmpty, "never produced: \(all.subtracting(kinds).sorted())")
    }
}
