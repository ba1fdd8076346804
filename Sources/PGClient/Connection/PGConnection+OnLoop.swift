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

    // MARK: Requests from tasks on the loop

    /// `startWithoutSuspending` from a caller already on the connection's event loop thread (checked by the caller):
    /// the loop runs one job at a time, so the actor's state is ours for the duration of this synchronous call.
    nonisolated func startOnOwnThread(_ sql: String, _ bindings: [any PGEncodable], timeout: Duration?) throws -> PGRowStream? {
        try onLoop((sql, bindings, timeout), LoopCall { c, a throws(any Error) in
            let stream = try c.startWithoutSuspending(a.0, a.1, timeout: a.2)
            if stream != nil { c.eventLoop.expectReplyOnLoop() }
            return stream
        })
    }

    /// A caller on the loop whose request just went out: when the loop has nothing else queued, reads the socket
    /// here until the reply's first event arrives (`PGEventLoop.beginPollInPlace`), yielding the core between
    /// reads, so a fast reply is consumed with no suspension, continuation, cancellation handler or job, and
    /// costs one recv. Stops for the loop's sake (other work, another descriptor, a timer), at the budget's
    /// end, or on cancellation; the usual wait does the rest.
    nonisolated func pollForReplyOnLoop(_ stream: PGRowStream) {
        onLoop(stream, LoopCall { c, stream in c.pollInPlace(for: stream) })
    }

    /// Reads the socket here until `stream`'s first event arrives, when the loop allows a poll now
    /// (`PGEventLoop.beginPollInPlace`), yielding the core between reads. Stops for the loop's sake, at the
    /// budget's end, or on cancellation; the usual wait does the rest.
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

    /// A request from a task elsewhere that borrowed the parked loop (`PGEventLoop.borrowIfParked`): the
    /// request starts as on the loop and the caller polls for the reply in place. Meanwhile the socket does
    /// not wake the loop's thread (the caller reads the reply; a wake-up would cost what borrowing saves);
    /// its interest is restored before the loop is given back.
    nonisolated func startBorrowed(_ sql: String, _ bindings: [any PGEncodable], timeout: Duration?) throws -> PGRowStream? {
        try onLoop((sql, bindings, timeout), LoopCall { c, a throws(any Error) in
            guard !c.fdClosed else { return try c.startWithoutSuspending(a.0, a.1, timeout: a.2) }
            c.eventLoop.setInterest(fd: c.fd, read: false, write: false)
            defer { if !c.fdClosed { c.eventLoop.setInterest(fd: c.fd, read: !c.readPaused, write: c.writeInterest) } }
            guard let stream = try c.startWithoutSuspending(a.0, a.1, timeout: a.2) else { return nil }
            c.eventLoop.expectReplyOnLoop()
            c.pollInPlace(for: stream)
            return stream
        })
    }
}
