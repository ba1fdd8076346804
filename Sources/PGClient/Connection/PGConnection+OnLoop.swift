import PGTransport

extension PGConnection {
    /// A function of the connection's isolated state, which `onLoop` calls synchronously on the event-loop thread.
    /// The closure should capture nothing (whatever it needs comes as the argument): then a call costs no
    /// allocation. `assumeIsolated` boxes its closure and asks the runtime which executor is current, which on
    /// the paths below (every read, every flush, every request started on the loop) cost a malloc and a few
    /// runtime calls each.
    struct LoopCall<Argument, R, Failure: Error> {
        let body: (isolated PGConnection, Argument) throws(Failure) -> R
    }

    /// The same function seen without its isolation: the layouts are identical, an isolated parameter is an
    /// ordinary one at the ABI level (this is what `assumeIsolated` itself does).
    private struct PlainCall<Argument, R, Failure: Error> {
        let body: (PGConnection, Argument) throws(Failure) -> R
    }

    /// Runs `call` isolated to the connection, synchronously. Only from the connection's event-loop thread:
    /// its callbacks, closures the loop runs, and tasks that checked `eventLoop.inEventLoop`. The loop is the
    /// actor's executor and runs one job at a time, so the actor's state is ours for the call; that is the
    /// guarantee `assumeIsolated` checks at run time, and a debug build asserts it here.
    @inline(__always)
    nonisolated func onLoop<Argument, R, Failure: Error>(_ argument: Argument,
                                                        _ call: LoopCall<Argument, R, Failure>) throws(Failure) -> R {
        assert(eventLoop.inEventLoop, "PGConnection.onLoop called off the connection's event loop")
        return try unsafeBitCast(call, to: PlainCall<Argument, R, Failure>.self).body(self, argument)
    }

    // MARK: Requests started in place (a task on the loop, or one that borrowed it)

    /// Starts a request from a caller acting as the loop — a task on the connection's loop thread (checked by
    /// the caller), or one that borrowed the parked loop (`borrowed`; `PGEventLoop.borrowIfParked`) — runs
    /// `afterSend` once it is queued, and polls for the reply in place (`pollInPlace(for:)`). The loop runs one
    /// job at a time (and is not running while borrowed), so the actor's state is ours for this synchronous
    /// call. A borrower mutes the socket's read interest meanwhile, so the reply does not wake the parked
    /// thread (a wake-up would cost what borrowing saves), and restores it before returning. Nil: the request
    /// needs the full path (`afterSend` not run).
    nonisolated func startInPlace(
        _ sql: String, _ bindings: [any PGEncodable], timeout: Duration?, borrowed: Bool, afterSend: (@Sendable () -> Void)?
    ) throws -> PGRowStream? {
        try onLoop((sql, bindings, timeout, borrowed, afterSend), LoopCall { c, a throws(any Error) in
            let mute = a.3 && !c.fdClosed
            if mute { c.eventLoop.setInterest(fd: c.fd, read: false, write: false) }
            defer { if mute && !c.fdClosed { c.eventLoop.setInterest(fd: c.fd, read: !c.readPaused, write: c.writeInterest) } }
            guard let stream = try c.startWithoutSuspending(a.0, a.1, timeout: a.2) else { return nil }
            a.4?()
            c.eventLoop.expectReplyOnLoop()
            c.pollInPlace(for: stream)
            return stream
        })
    }

    /// Reads the socket here until `stream`'s first event arrives, when the loop allows a poll now
    /// (`PGEventLoop.beginPollInPlace`), yielding the core between reads, so a fast reply is consumed with no
    /// suspension, continuation, cancellation handler or job, and costs one recv. Stops for the loop's sake
    /// (other work, another descriptor, a timer), at the budget's end, or on cancellation; the usual wait
    /// does the rest.
    func pollInPlace(for stream: PGRowStream) {
        guard eventLoop.beginPollInPlace() else { return }
        var round = 0
        while true {
            readable()
            if stream.hasEvent {
                eventLoop.endPollInPlace()
                return
            }
            // Unwritten output (a request the socket did not take whole, or a reply such as CopyFail queued
            // by the reads) needs the loop: the server may be waiting for it.
            if fdClosed || readPaused || outOffset < out.count || Task.isCancelled
                || !eventLoop.keepPollingInPlace(besides: fd, round: round) { return }
            round += 1
        }
    }
}
