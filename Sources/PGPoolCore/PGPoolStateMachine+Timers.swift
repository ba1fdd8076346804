extension PGPoolStateMachine {
    /// A timer the machine scheduled is due. A timer that was cancelled, or fires before the
    /// deadline it was last scheduled for (a stale fire of an earlier schedule), is ignored.
    ///
    /// ```swift
    /// try await clock.sleep(until: deadline); run(machine.timerFired(.acquireTimeout(id)))
    /// ```
    public mutating func timerFired(_ timer: PGPoolTimerID) -> [Action] {
        let now = clock.now
        guard let deadline = timers[timer], deadline <= now else { return [] }
        timers[timer] = nil
        var actions: [Action] = []
        switch timer {
        case .acquireTimeout(let request):
            acquireTimedOut(request, into: &actions)
        case .idleTimeout(let id):
            idleTimedOut(id, into: &actions)
        case .maximumLifetime(let id):
            lifetimeEnded(id, into: &actions)
        case .leakWarning(let request):
            if case .leased(let id)? = requests[request], let since = connections[id]?.leases[request] {
                actions.append(.warnLeak(id, request: request, heldFor: since.duration(to: now)))
            }
        case .connectionBackoff:
            backingOff = false
            fillDemand(into: &actions)
        case .shutdownDeadline:
            shutdownDeadlinePassed(into: &actions)
        }
        return actions
    }

    private mutating func acquireTimedOut(_ request: PGPoolRequestID, into actions: inout [Action]) {
        switch requests[request] {
        case .waiting:
            break
        case .awaitingPing(let id):
            connections[id]?.phase = .pinging(nil)
        case .leased, nil:
            return
        }
        waiters.removeAll { $0 == request }
        requests[request] = nil
        actions.append(.failRequest(request, .acquireTimedOut))
    }

    private mutating func idleTimedOut(_ id: PGPoolConnectionID, into actions: inout [Action]) {
        guard lifecycle == .running, let connection = connections[id], connection.phase == .open,
              connection.leases.isEmpty, !connection.retiring
        else { return }
        let open = connections.values.count { $0.opened && $0.phase != .closing && !$0.retiring }
        guard open > configuration.minimumConnections else { return }
        close(id, into: &actions)
    }

    private mutating func lifetimeEnded(_ id: PGPoolConnectionID, into actions: inout [Action]) {
        guard let connection = connections[id], connection.phase != .closing else { return }
        connections[id]?.retiring = true
        if connection.phase == .open, connection.leases.isEmpty {
            close(id, into: &actions)
        }
        // A leased or pinging connection closes when its lease ends or its ping answers.
        fillDemand(into: &actions)
    }

    // MARK: - Scheduling

    mutating func schedule(_ timer: PGPoolTimerID, at deadline: Clock.Instant, into actions: inout [Action]) {
        timers[timer] = deadline
        actions.append(.scheduleTimer(timer, deadline: deadline))
    }

    mutating func cancel(_ timer: PGPoolTimerID, into actions: inout [Action]) {
        if timers.removeValue(forKey: timer) != nil { actions.append(.cancelTimer(timer)) }
    }

    // MARK: - Jitter

    /// The lifetime less a random part of the configured jitter (never negative).
    mutating func jitteredLifetime(_ lifetime: Duration) -> Duration {
        let jitter = min(Self.nanoseconds(configuration.maximumLifetimeJitter), Self.nanoseconds(lifetime))
        guard jitter > 0 else { return lifetime }
        return lifetime - .nanoseconds(Int64.random(in: 0...jitter, using: &random))
    }

    /// Initial back-off doubled per further consecutive failure, capped, less a random fraction.
    mutating func backoffDelay() -> Duration {
        let cap = Self.nanoseconds(configuration.connectBackoffMaximum)
        var base = Self.nanoseconds(configuration.connectBackoffInitial)
        for _ in 1..<max(1, consecutiveCreationFailures) {
            guard base < cap else { break }
            base = base > cap / 2 ? cap : base * 2
        }
        base = min(base, cap)
        let jitter = Int64(Double(base) * configuration.connectBackoffJitter)
        guard jitter > 0 else { return .nanoseconds(base) }
        return .nanoseconds(base - Int64.random(in: 0...jitter, using: &random))
    }

    /// Whole nanoseconds in a non-negative duration, saturating instead of overflowing.
    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        guard seconds < Int64.max / 1_000_000_000 - 1 else { return Int64.max / 2 }
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
