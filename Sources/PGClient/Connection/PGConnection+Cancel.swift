import Logging
import PGTransport
import PGWire

// Cancelling a running statement: a CancelRequest on a new socket, sent once the server holds the request
// and only if that request is still running; encrypted when the session is.
extension PGConnection {
    /// Cancels the statement `unit` if it is the one the server is running now (CancelRequest on a new
    /// socket). A unit still queued behind others is marked, and cancelled when its turn comes.
    func cancelUnit(_ unit: UInt64) {
        guard contexts[unit] != nil else { return }
        if let oldest = contexts.oldestID, oldest == unit {
            sendCancelRequest()
        } else {
            if let stream = stream(of: unit), !stream.execution.cancelWhenStarted {
                stream.execution.cancelWhenStarted = true
                pendingEarlyCancels += 1
            }
        }
    }

    /// Asks the server to cancel whatever this connection is running now. Best effort, like libpq's PQcancel:
    /// the running statement fails with SQLSTATE 57014 if the request arrives in time.
    ///
    /// ```swift
    /// Task { try await Task.sleep(for: .seconds(1)); await connection.cancelCurrentQuery() }
    /// ```
    public func cancelCurrentQuery() {
        sendCancelRequest()
    }

    /// A request at least this large (Parse and Bind) is followed by a Flush, so the server acknowledges with
    /// BindComplete once it has read it: a cancel for it waits for that (see `sendCancelRequest`).
    static let largeRequest = 64 << 10

    /// Cancels the request the server is running now (the oldest in flight), with a CancelRequest on a new
    /// socket. The server drops a cancel that arrives while it is still reading the request, so for a request
    /// not yet in its hands — bytes still unwritten, or a large one whose BindComplete has not come — the
    /// cancel waits (`retryDeferredCancel`, after each write and on BindComplete). The request on the new
    /// socket goes out only if that same request is still running once the socket is open.
    func sendCancelRequest() {
        guard case .ready = phase, let target = contexts.oldestID else { return }
        if let stream = stream(of: target),
           stream.execution.requestEnd > outBase &+ outOffset || (stream.execution.acksBind && lastBoundUnit < target) {
            cancelDeferredUnit = target
            return
        }
        cancelDeferredUnit = 0
        var message = PGWriteBuffer(capacity: 16)
        PGFrontendEncoder.cancelRequest(processID: backendProcessID, secretKey: secretKey, into: &message)
        let request = message.bytes
        let (address, host, configuration, loop, logger) = (self.address, self.host, self.configuration, eventLoop, self.logger)
        let encrypted = tls != nil
        Task {
            do {
                try await Self.deliverCancelRequest(
                    request, to: address, host: host, configuration: configuration, encrypted: encrypted, loop: loop,
                    stillWanted: { await self.isRunning(target) })
            } catch {
                logger.warning("could not send a cancel request", metadata: ["error": "\(error)"])
            }
        }
    }

    /// A deferred cancel, checked again: sent if its request is still the one running (and now in the
    /// server's hands), dropped if that request has finished.
    func retryDeferredCancel() {
        let unit = cancelDeferredUnit
        cancelDeferredUnit = 0
        if contexts.oldestID == unit { sendCancelRequest() }
    }

    /// True while `unit` is the request the server is running.
    func isRunning(_ unit: UInt64) -> Bool {
        guard case .ready = phase else { return false }
        return contexts.oldestID == unit
    }

    /// Opens a new socket to the server and sends `request` (a CancelRequest) on it. When the session being
    /// cancelled is encrypted, so is this socket: the request carries the session's secret key, which must not
    /// cross the network in the clear (libpq's PQcancel sends it unencrypted; PostgreSQL 17's PQcancelCreate
    /// encrypts it too). The server verifies its certificate as `sslmode` says, like the session's.
    static func deliverCancelRequest(
        _ request: [UInt8], to address: PGSocketAddress, host: String?, configuration: PGConnectionConfiguration,
        encrypted: Bool, loop: PGEventLoop, stillWanted: @Sendable () async -> Bool
    ) async throws {
        let timeout = min(configuration.connectTimeout, .seconds(10))
        let started = ContinuousClock.now
        let fd = try await PGSocket.connect(to: address, on: loop, timeout: timeout)
        defer { PGSocket.close(fd) }
        guard encrypted else {
            guard await stillWanted() else { return }
            _ = request.withUnsafeBytes { PGSocket.write(fd, from: $0.baseAddress!, count: $0.count) }
            return
        }
        guard let session = try await negotiateTLS(
            fd: fd, host: host, configuration: configuration, mode: .required, loop: loop,
            timeout: timeout - (ContinuousClock.now - started)) else { return }
        defer { session.shutdown() }
        // The handshake took round trips: the request may have finished, and another may be running.
        guard await stillWanted() else { return }
        var written = 0
        var attempts = 0
        while written < request.count {
            let result = request.withUnsafeBytes { session.write(from: $0.baseAddress! + written, count: $0.count - written) }
            switch result {
            case .bytes(let n):
                written += n
            case .wouldBlock where attempts < 100:
                // 16 bytes on a fresh socket: only a full send buffer or pending handshake data gets here.
                attempts += 1
                try await Task.sleep(for: .milliseconds(1))
            case .wouldBlock, .endOfStream, .error:
                throw PGError(code: .connectionClosed, message: "the cancel request could not be written",
                              underlying: session.lastError)
            }
        }
    }
}
