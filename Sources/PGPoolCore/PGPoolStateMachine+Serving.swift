extension PGPoolStateMachine {
    /// A connection that may take one more lease: idle ones first, the most recently used first
    /// (so surplus connections stay idle long enough to time out), then the least loaded
    /// multiplexed one.
    func availableConnection() -> PGPoolConnectionID? {
        guard lifecycle == .running else { return nil }
        var best: (id: PGPoolConnectionID, connection: Connection)?
        for (id, candidate) in connections
        where candidate.phase == .open && !candidate.retiring && candidate.leases.count < configuration.leasesPerConnection {
            guard let current = best else {
                best = (id, candidate)
                continue
            }
            if isBetter(candidate, id, than: current.connection, current.id) { best = (id, candidate) }
        }
        return best?.id
    }

    private func isBetter(_ a: Connection, _ aID: PGPoolConnectionID, than b: Connection, _ bID: PGPoolConnectionID) -> Bool {
        switch (a.idleSince, b.idleSince) {
        case (let x?, let y?): x != y ? x > y : aID < bID
        case (.some, nil): true
        case (nil, .some): false
        case (nil, nil): a.leases.count != b.leases.count ? a.leases.count < b.leases.count : aID < bID
        }
    }

    /// Gives the connection to the request, health-checking it first when it sat idle too long.
    mutating func assign(_ request: PGPoolRequestID, to id: PGPoolConnectionID, now: Clock.Instant, into actions: inout [Action]) {
        if needsHealthCheck(id, now: now) {
            connections[id]?.phase = .pinging(request)
            connections[id]?.idleSince = nil
            requests[request] = .awaitingPing(id)
            cancel(.idleTimeout(id), into: &actions)
            actions.append(.pingConnection(id))
            return
        }
        lease(request, on: id, now: now, into: &actions)
    }

    /// Whether the connection sat idle longer than the health-check threshold.
    func needsHealthCheck(_ id: PGPoolConnectionID, now: Clock.Instant) -> Bool {
        guard let threshold = configuration.healthCheckAfterIdle, let idleSince = connections[id]?.idleSince else { return false }
        return idleSince.duration(to: now) > threshold
    }

    mutating func lease(_ request: PGPoolRequestID, on id: PGPoolConnectionID, now: Clock.Instant, into actions: inout [Action]) {
        if let index = waiters.firstIndex(of: request) { waiters.remove(at: index) }
        cancel(.acquireTimeout(request), into: &actions)
        if connections[id]?.idleSince != nil {
            connections[id]?.idleSince = nil
            cancel(.idleTimeout(id), into: &actions)
        }
        connections[id]?.leases[request] = now
        requests[request] = .leased(id)
        actions.append(.leaseConnection(id, to: request))
        if let threshold = configuration.leakWarningThreshold {
            schedule(.leakWarning(request), at: now.advanced(by: threshold), into: &actions)
        }
    }

    /// After a connection opened, passed a ping or lost a lease: it takes waiters (no ping, it
    /// was just in use), else goes idle, or closes when retiring or shutting down.
    mutating func connectionAvailable(_ id: PGPoolConnectionID, now: Clock.Instant, into actions: inout [Action]) {
        guard let connection = connections[id], connection.phase == .open else { return }
        if lifecycle != .running || connection.retiring {
            if connection.leases.isEmpty { close(id, into: &actions) }
            return
        }
        while let head = firstWaiting(), let c = connections[id], c.leases.count < configuration.leasesPerConnection {
            lease(head, on: id, now: now, into: &actions)
        }
        if connections[id]?.leases.isEmpty == true, connections[id]?.idleSince == nil {
            connections[id]?.idleSince = now
            if let timeout = configuration.idleTimeout {
                schedule(.idleTimeout(id), at: now.advanced(by: timeout), into: &actions)
            }
        }
    }

    /// Serves waiters, oldest first, while any connection can take a lease.
    mutating func serveWaiters(into actions: inout [Action]) {
        let now = clock.now
        while let head = firstWaiting(), let id = availableConnection() {
            assign(head, to: id, now: now, into: &actions)
        }
    }

    /// Opens connections to reach the minimum (after start) and to cover waiters that the
    /// connections already being opened will not serve, never above the maximum and not while
    /// backing off.
    mutating func fillDemand(into actions: inout [Action]) {
        guard lifecycle == .running, !backingOff else { return }
        var live = 0
        var connecting = 0
        for connection in connections.values where connection.phase != .closing && !connection.retiring {
            live += 1
            if connection.phase == .connecting { connecting += 1 }
        }
        let capacity = configuration.leasesPerConnection
        let forMinimum = started ? max(0, configuration.minimumConnections - live) : 0
        // Requests in the queue whose connection is being checked need no new connection.
        let checked = connections.values.count { if case .pinging(.some) = $0.phase { true } else { false } }
        let uncovered = max(0, waiters.count - checked - connecting * capacity)
        let forWaiters = (uncovered + capacity - 1) / capacity
        let room = max(0, configuration.maximumConnections - connections.count)
        for _ in 0..<min(max(forMinimum, forWaiters), room) {
            let id = PGPoolConnectionID(nextConnectionID)
            nextConnectionID += 1
            connections[id] = Connection()
            actions.append(.createConnection(id))
        }
    }

    mutating func checkReady(into actions: inout [Action]) {
        guard started, !readyReported, lifecycle == .running else { return }
        let open = connections.values.count { $0.opened && $0.phase != .closing }
        if open >= configuration.minimumConnections {
            readyReported = true
            actions.append(.poolReady)
        }
    }

    /// Asks the runner to close a connection without a lease, dropping its timers.
    mutating func close(_ id: PGPoolConnectionID, into actions: inout [Action]) {
        guard let connection = connections[id], connection.phase != .closing else { return }
        connections[id]?.phase = .closing
        connections[id]?.idleSince = nil
        cancel(.idleTimeout(id), into: &actions)
        cancel(.maximumLifetime(id), into: &actions)
        actions.append(.closeConnection(id))
    }

    /// The oldest request waiting without a connection being checked for it.
    func firstWaiting() -> PGPoolRequestID? {
        waiters.first { requests[$0] == .waiting }
    }

    /// Fails every waiting request, oldest first, including those waiting on a ping.
    mutating func failAllWaiters(with error: PGPoolError, into actions: inout [Action]) {
        let failed = waiters
        waiters.removeAll()
        for request in failed {
            if case .awaitingPing(let id)? = requests[request] { connections[id]?.phase = .pinging(nil) }
            requests[request] = nil
            cancel(.acquireTimeout(request), into: &actions)
            actions.append(.failRequest(request, error))
        }
    }
}
