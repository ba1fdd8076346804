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
}
