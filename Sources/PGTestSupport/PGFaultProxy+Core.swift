// The proxy's poll loop. Only the loop thread touches sockets; other threads queue commands.

import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension PGFaultProxy {
    enum Command: Sendable {
        case setFlow(Flow)
        case setAdmission(Admission)
        case drop(reset: Bool)
        case stop
    }

    /// A command's answer: set by the loop, awaited (bounded) by the sender.
    final class Reply: Sendable {
        let value = Mutex(0)
        let done = DispatchSemaphore(value: 0)
    }

    struct Shared: Sendable {
        var flow: Flow
        var admission: Admission
        var statistics = Statistics()
        var stopped = false
        var commands: [(Command, Reply)] = []
    }

    /// Bytes held in one direction: chunks with the instant they may be written.
    final class Direction {
        var chunks: [(release: ContinuousClock.Instant, bytes: [UInt8])] = []
        var head = 0          // index of the first chunk not fully written
        var offset = 0        // bytes of chunks[head] already written
        var pending = 0       // bytes held
        var sourceClosed = false

        var isEmpty: Bool { pending == 0 }

        func append(_ bytes: [UInt8], release: ContinuousClock.Instant) {
            chunks.append((release, bytes))
            pending += bytes.count
        }

        /// The release instant of the next chunk, if any.
        var nextRelease: ContinuousClock.Instant? { head < chunks.count ? chunks[head].release : nil }

        func compact() {
            if head == chunks.count {
                chunks.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 64 && head * 2 > chunks.count {
                chunks.removeFirst(head)
                head = 0
            }
        }
    }

    /// One proxied connection (loop thread only).
    final class Connection {
        let client: Int32
        let server: Int32
        let toServer = Direction()
        let toClient = Direction()
        init(client: Int32, server: Int32) {
            self.client = client
            self.server = server
        }
    }

    final class Core: Sendable {
        static let directionCap = 4 << 20
        static let readSize = 64 << 10
        static let commandTimeout = DispatchTimeInterval.seconds(10)

        let shared: Mutex<Shared>
        let listener: Int32
        let wakeRead: Int32
        let wakeWrite: Int32
        let targetAddress: in_addr_t
        let targetPort: Int
        let finished = DispatchSemaphore(value: 0)
        let started = Atomic<Bool>(false)
        let joined = Mutex(false)

        init(listener: Int32, targetHost: String, targetPort: Int, flow: Flow, admission: Admission) throws {
            self.targetAddress = try Sockets.resolve(targetHost)
            self.targetPort = targetPort
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else { throw Sockets.error("pipe()") }
            for fd in fds {
                Sockets.setNonBlocking(fd)
                Sockets.setCloseOnExec(fd)
            }
            self.wakeRead = fds[0]
            self.wakeWrite = fds[1]
            self.listener = listener
            self.shared = Mutex(Shared(flow: flow, admission: admission))
        }

        func start() {
            started.store(true, ordering: .sequentiallyConsistent)
            let thread = Thread { [self] in
                run()
                finished.signal()
            }
            thread.name = "PGFaultProxy"
            thread.start()
        }

        func wake() {
            var byte: UInt8 = 1
            _ = Glibc.write(wakeWrite, &byte, 1)
        }

        /// Queues a command and waits until the loop applied it; returns its answer (0 once stopped).
        @discardableResult
        func send(_ command: Command) -> Int {
            let reply = Reply()
            let queued = shared.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.commands.append((command, reply))
                wake()  // under the lock: stop() closes the pipe under it too
                return true
            }
            guard queued else { return 0 }
            _ = reply.done.wait(timeout: .now() + Self.commandTimeout)
            return reply.value.withLock { $0 }
        }

        /// Stops the loop (which closes every socket), waits for its thread, closes the wake pipe.
        func stop() {
            let first = joined.withLock { done -> Bool in
                if done { return false }
                done = true
                return true
            }
            guard first else { return }
            send(.stop)
            if started.load(ordering: .sequentiallyConsistent) {
                _ = finished.wait(timeout: .now() + Self.commandTimeout)
            }
            shared.withLock { _ in
                Sockets.close(wakeRead)
                Sockets.close(wakeWrite)
            }
        }

        // MARK: The loop

        private func run() {
            var connections: [Connection] = []
            var flow = shared.withLock { $0.flow }
            var admission = shared.withLock { $0.admission }
            var buffer = [UInt8](repeating: 0, count: Self.readSize)
            var running = true

            func close(_ c: Connection, reset: Bool) {
                if reset {
                    Sockets.reset(c.client)
                    Sockets.reset(c.server)
                } else {
                    Sockets.close(c.client)
                    Sockets.close(c.server)
                }
            }

            while running {
                // 1. Commands.
                let commands = shared.withLock { state -> [(Command, Reply)] in
                    defer { state.commands.removeAll() }
                    return state.commands
                }
                for (command, reply) in commands {
                    var answer = 0
                    switch command {
                    case .setFlow(let f):
                        flow = f
                        shared.withLock { $0.flow = f }
                    case .setAdmission(let a):
                        admission = a
                        shared.withLock { $0.admission = a }
                    case .drop(let reset):
                        answer = connections.count
                        for c in connections { close(c, reset: reset) }
                        connections.removeAll()
                        shared.withLock {
                            if reset { $0.statistics.reset += answer } else { $0.statistics.dropped += answer }
                            $0.statistics.active = 0
                        }
                    case .stop:
                        running = false
                    }
                    reply.value.withLock { $0 = answer }
                    if running { reply.done.signal() } else {
                        // Close everything before the stopper is released.
                        for c in connections { close(c, reset: false) }
                        connections.removeAll()
                        Sockets.close(listener)
                        let pendingReplies = shared.withLock { state -> [(Command, Reply)] in
                            state.stopped = true
                            state.statistics.active = 0
                            defer { state.commands.removeAll() }
                            return state.commands
                        }
                        reply.done.signal()
                        for (_, other) in pendingReplies { other.done.signal() }
                    }
                }
                if !running { break }

                // 2. What to wait for.
                let now = ContinuousClock.now
                let flowing = flow != .stall
                var nextRelease: ContinuousClock.Instant?
                var fds: [pollfd] = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
                fds.append(pollfd(fd: admission == .unanswered ? -1 : listener, events: Int16(POLLIN), revents: 0))
                for c in connections {
                    for (fd, incoming, outgoing) in [(c.client, c.toServer, c.toClient), (c.server, c.toClient, c.toServer)] {
                        var events: Int32 = 0
                        if !incoming.sourceClosed && incoming.pending < Self.directionCap { events |= Int32(POLLIN) }
                        if flowing, let release = outgoing.nextRelease {
                            if release <= now {
                                events |= Int32(POLLOUT)
                            } else if nextRelease.map({ release < $0 }) ?? true {
                                nextRelease = release
                            }
                        }
                        fds.append(pollfd(fd: events == 0 ? -1 : fd, events: Int16(events), revents: 0))
                    }
                }
                var timeout: Int32 = 1000
                if let nextRelease {
                    let wait = nextRelease - now
                    let ms = wait.components.seconds * 1000 + (wait.components.attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
                    timeout = Int32(clamping: max(0, min(ms, 1000)))
                }

                // 3. Wait.
                let ready = poll(&fds, nfds_t(fds.count), timeout)
                if ready < 0 && errno != EINTR { usleep(1000) }

                // 4. Wake-ups.
                if fds[0].revents != 0 {
                    while buffer.withUnsafeMutableBytes({ Glibc.read(wakeRead, $0.baseAddress, $0.count) }) > 0 {}
                }

                // 5. New connections (appended after the ones polled, which keep their pollfd indexes).
                let polled = connections.count
                if fds[1].revents != 0 {
                    while let client = Sockets.accept(listener) {
                        switch admission {
                        case .accept, .unanswered:
                            if let server = Sockets.connect(to: targetAddress, port: targetPort, timeoutMilliseconds: 2000) {
                                connections.append(Connection(client: client, server: server))
                                shared.withLock {
                                    $0.statistics.accepted += 1
                                    $0.statistics.active = connections.count
                                }
                            } else {
                                Sockets.reset(client)
                                shared.withLock { $0.statistics.targetFailures += 1 }
                            }
                        case .close:
                            Sockets.close(client)
                            shared.withLock { $0.statistics.refused += 1 }
                        case .reset:
                            Sockets.reset(client)
                            shared.withLock { $0.statistics.refused += 1 }
                        }
                    }
                }

                // 6. Reads and writes.
                let delay: Duration = if case .latency(let d) = flow { d } else { .zero }
                var closed: [ObjectIdentifier] = []
                for (i, c) in connections.enumerated() {
                    let clientEvents = i < polled ? fds[2 + 2 * i].revents : 0
                    let serverEvents = i < polled ? fds[3 + 2 * i].revents : 0
                    var failed = false
                    if clientEvents & Int16(POLLIN | POLLHUP | POLLERR) != 0 && !c.toServer.sourceClosed {
                        failed = !Self.receive(c.client, into: c.toServer, buffer: &buffer, delay: delay)
                    }
                    if !failed && serverEvents & Int16(POLLIN | POLLHUP | POLLERR) != 0 && !c.toClient.sourceClosed {
                        failed = !Self.receive(c.server, into: c.toClient, buffer: &buffer, delay: delay)
                    }
                    if !failed && flowing {
                        let before = (c.toServer.pending, c.toClient.pending)
                        failed = !Self.transmit(c.toServer, to: c.server) || !Self.transmit(c.toClient, to: c.client)
                        let sentToServer = before.0 - c.toServer.pending
                        let sentToClient = before.1 - c.toClient.pending
                        if sentToServer + sentToClient > 0 {
                            shared.withLock {
                                $0.statistics.bytesToServer += sentToServer
                                $0.statistics.bytesToClient += sentToClient
                            }
                        }
                    }
                    // A side that closed ends the connection once what it sent has been passed on.
                    let finished = (c.toServer.sourceClosed && c.toServer.isEmpty) || (c.toClient.sourceClosed && c.toClient.isEmpty)
                    if failed || finished {
                        close(c, reset: failed)
                        closed.append(ObjectIdentifier(c))
                    }
                }
                if !closed.isEmpty {
                    connections.removeAll { closed.contains(ObjectIdentifier($0)) }
                    shared.withLock { $0.statistics.active = connections.count }
                }
            }
        }

        /// Reads what is there into `direction`; false on a socket error (EOF marks the source closed).
        private static func receive(_ fd: Int32, into direction: Direction, buffer: inout [UInt8], delay: Duration) -> Bool {
            while direction.pending < directionCap {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n > 0 {
                    direction.append(Array(buffer[0..<n]), release: ContinuousClock.now + delay)
                    if n < buffer.count { return true }
                } else if n == 0 {
                    direction.sourceClosed = true
                    return true
                } else if errno == EINTR {
                    continue
                } else {
                    return errno == EAGAIN || errno == EWOULDBLOCK
                }
            }
            return true
        }

        /// Writes every released chunk it can; false on a socket error.
        private static func transmit(_ direction: Direction, to fd: Int32) -> Bool {
            let now = ContinuousClock.now
            while direction.head < direction.chunks.count, direction.chunks[direction.head].release <= now {
                let chunk = direction.chunks[direction.head].bytes
                let n = chunk.withUnsafeBytes { raw in
                    Glibc.send(fd, raw.baseAddress! + direction.offset, raw.count - direction.offset, Int32(MSG_NOSIGNAL))
                }
                if n > 0 {
                    direction.offset += n
                    direction.pending -= n
                    if direction.offset == chunk.count {
                        direction.chunks[direction.head].bytes = []
                        direction.head += 1
                        direction.offset = 0
                    }
                } else if n < 0 && errno == EINTR {
                    continue
                } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    break
                } else {
                    return false
                }
            }
            direction.compact()
            return true
        }
    }
}
