import PGTransport
import PGWire

extension PGConnection {
    /// The state of one `COPY … FROM STDIN` between the server and the writer.
    /// Touched only on the connection's executor; the writer holds it only to hand it back.
    final class CopyInState: @unchecked Sendable {
        var readyContinuation: CheckedContinuation<Void, any Error>?
        var doneContinuation: CheckedContinuation<String, any Error>?
        var isStarted = false
        var isDone = false
        var error: PGError?
        var tag: String?

        /// CopyInResponse arrived.
        func started() {
            isStarted = true
            readyContinuation?.resume()
            readyContinuation = nil
        }

        /// The server reported an error: a writer waiting to start learns it now.
        func wakeWriter() {
            if let error, let c = readyContinuation {
                readyContinuation = nil
                c.resume(throwing: error)
            }
        }

        /// ReadyForQuery (or the connection closed).
        func done() {
            isDone = true
            let failure = error ?? PGError.violation("COPY ended without completing")
            if let c = readyContinuation {
                readyContinuation = nil
                c.resume(throwing: failure)
            }
            if let c = doneContinuation {
                doneContinuation = nil
                if let tag, error == nil { c.resume(returning: tag) } else { c.resume(throwing: failure) }
            }
        }
    }

    /// Streams data into `COPY … FROM STDIN` (any format: text, CSV, binary) and returns the row count.
    ///
    /// `body` writes raw bytes through the writer; memory stays flat because writes wait while the socket's
    /// buffer is full. If `body` throws (or the task is cancelled), Tusk sends CopyFail: nothing is copied,
    /// the connection stays usable, and the error is rethrown. A server-side error (a bad row, a violated
    /// constraint) ends the copy with that typed error.
    ///
    /// ```swift
    /// let n = try await connection.copyIn("COPY items (id, name) FROM STDIN (FORMAT csv)") { writer in
    ///     try await writer.write("1,apple\n2,pear\n")
    /// }
    /// ```
    @discardableResult
    public nonisolated func copyIn(_ sql: String, _ body: (PGCopyInWriter) async throws -> Void) async throws -> Int {
        let state = try await startCopyIn(sql)
        let writer = PGCopyInWriter(connection: self, state: state)
        do {
            try await body(writer)
            try await writer.flush()
            try Task.checkCancellation()
        } catch {
            let reason: String
            if let e = error as? PGError, e.serverInfo != nil {
                reason = "aborted after a server error"
            } else if error is CancellationError {
                reason = "the writing task was cancelled"
            } else {
                reason = "the client's row source failed"
            }
            let outcome = await Task { try await self.endCopyIn(state, failure: reason) }.result
            if let e = error as? PGError { throw e }
            if error is CancellationError {
                throw PGError(code: .cancelled, message: "COPY FROM STDIN was cancelled; nothing was copied")
            }
            _ = outcome
            throw error
        }
        let tag = try await endCopyIn(state, failure: nil)
        return PGQueryResult.affectedRows(from: tag) ?? 0
    }

    /// Copies rows into `table` in binary format, with values encoded by their binary codecs.
    ///
    /// ```swift
    /// try await connection.copyInRows(table: "measurements", columns: ["id", "label", "value"]) { rows in
    ///     for i in 0..<1_000_000 { try await rows.writeRow(Int64(i), "m\(i)", Double(i) * 1.5) }
    /// }
    /// ```
    @discardableResult
    public nonisolated func copyInRows(
        table: String, schema: String? = nil, columns: [String],
        _ body: (PGCopyBinaryRowWriter) async throws -> Void
    ) async throws -> Int {
        try PGIdentifier.validate(table, what: "table name")
        if let schema { try PGIdentifier.validate(schema, what: "schema name") }
        for column in columns { try PGIdentifier.validate(column, what: "column name") }
        let target = (schema.map { PGIdentifier.quote($0) + "." } ?? "") + PGIdentifier.quote(table)
        let list = columns.isEmpty ? "" : " (" + columns.map(PGIdentifier.quote).joined(separator: ", ") + ")"
        return try await copyIn("COPY \(target)\(list) FROM STDIN (FORMAT binary)") { writer in
            let rows = PGCopyBinaryRowWriter(writer: writer, columnCount: columns.isEmpty ? nil : columns.count)
            try await rows.start()
            try await body(rows)
            try await rows.finish()
        }
    }

    /// Copies every element of an async sequence of rows into `table` in binary format.
    ///
    /// ```swift
    /// let source = AsyncStream<[any PGEncodable]> { … }
    /// try await connection.copyInRows(table: "t", columns: ["a", "b"], from: source)
    /// ```
    @discardableResult
    public nonisolated func copyInRows<S: AsyncSequence>(
        table: String, schema: String? = nil, columns: [String], from rows: S
    ) async throws -> Int where S.Element == [any PGEncodable] {
        try await copyInRows(table: table, schema: schema, columns: columns) { writer in
            for try await row in rows { try await writer.writeRow(row) }
        }
    }

    // MARK: Isolated steps

    func startCopyIn(_ sql: String) async throws -> CopyInState {
        try ensureOpen()
        let state = CopyInState()
        let unit = makeUnitID()
        PGFrontendEncoder.query(sql, into: &out)
        responses.unitSent(.init(id: unit, kind: .copyIn))
        contexts[unit] = .copyIn(state)
        eventLoop.scheduleFlush(self)
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Void, any Error>) in
            if state.isStarted { cont.resume(); return }
            if state.isDone || state.error != nil {
                cont.resume(throwing: state.error ?? PGError.closed())
                return
            }
            state.readyContinuation = cont
        }
        return state
    }

    /// Sends one chunk as CopyData; waits while more than `limit` bytes are queued for the socket.
    func copyWrite(_ state: CopyInState, _ bytes: [UInt8]) async throws {
        if let error = state.error { throw error }
        if state.isDone { throw PGError.closed("the COPY already ended") }
        try ensureOpen()
        PGFrontendEncoder.copyData(bytes, into: &out)
        eventLoop.scheduleFlush(self)
        if out.count - outOffset > 4 << 20 {
            flush()
            if out.count - outOffset > 4 << 20 {
                await withCheckedContinuation { drainWaiters.append($0) }
            }
            if let error = state.error { throw error }
            try ensureOpen()
        }
    }

    func endCopyIn(_ state: CopyInState, failure: String?) async throws -> String {
        if !state.isDone, case .ready = phase {
            if let failure {
                PGFrontendEncoder.copyFail(reason: failure, into: &out)
            } else {
                PGFrontendEncoder.copyDone(into: &out)
            }
            eventLoop.scheduleFlush(self)
        }
        return try await withCheckedThrowingContinuation { (cont: CheckedContinuation<String, any Error>) in
            if state.isDone {
                if let tag = state.tag, state.error == nil { cont.resume(returning: tag) } else {
                    cont.resume(throwing: state.error ?? PGError.closed())
                }
                return
            }
            state.doneContinuation = cont
        }
    }

    func resumeDrainWaiters() {
        let waiters = drainWaiters
        drainWaiters.removeAll()
        for w in waiters { w.resume() }
    }

    // MARK: COPY TO

    /// Runs `COPY … TO STDOUT` and streams the data as raw chunks (one per CopyData message, in the format the
    /// statement asked for), with backpressure.
    ///
    /// ```swift
    /// var csv: [UInt8] = []
    /// for try await chunk in try await connection.copyOut("COPY items TO STDOUT (FORMAT csv)") { csv += chunk }
    /// ```
    public nonisolated func copyOut(_ sql: String) async throws -> PGCopyOutSequence {
        let stream = try await startCopyOut(sql)
        await stream.waitForFirstEvent()
        if let error = stream.earlyFailure { throw Self.adjustForCancellation(error) }
        return PGCopyOutSequence(rows: PGRowSequence(stream: stream))
    }

    /// Runs a binary `COPY … TO STDOUT` and decodes it into rows. Binary COPY carries no type information, so
    /// give the columns' types; rows then decode like query rows (by index, tuple or `Decodable`).
    ///
    /// ```swift
    /// let rows = try await connection.copyOutRows("COPY t (id, name) TO STDOUT (FORMAT binary)",
    ///                                             columns: [("id", .int8), ("name", .text)])
    /// for try await (id, name) in rows.decode((Int, String).self) { … }
    /// ```
    public nonisolated func copyOutRows(_ sql: String, columns: [(name: String, type: PGDataType)]) async throws -> PGCopyRowSequence {
        let description = PGRowDescription(columns: columns.map {
            PGRowDescription.Column(name: $0.name, tableOID: 0, columnAttributeNumber: 0, dataType: $0.type,
                                    dataTypeSize: -1, dataTypeModifier: -1, format: .binary)
        })
        return PGCopyRowSequence(chunks: try await copyOut(sql), columns: description)
    }

    func startCopyOut(_ sql: String) throws -> PGRowStream {
        try ensureOpen()
        let unit = makeUnitID()
        let stream = makeStream(columns: PGRowDescription(columns: []), unit: unit)
        PGFrontendEncoder.query(sql, into: &out)
        responses.unitSent(.init(id: unit, kind: .copyOut))
        contexts[unit] = .copyOut(stream)
        eventLoop.scheduleFlush(self)
        return stream
    }
}

/// Writes raw bytes into a running `COPY … FROM STDIN`. Small writes are gathered into 64 KiB CopyData messages.
///
/// ```swift
/// try await connection.copyIn("COPY t FROM STDIN") { writer in
///     try await writer.write("1\tone\n")
/// }
/// ```
public final class PGCopyInWriter: @unchecked Sendable {
    let connection: PGConnection
    let state: PGConnection.CopyInState
    @usableFromInline var buffer = PGWriteBuffer(capacity: chunkSize + 1024)
    @usableFromInline static let chunkSize = 64 * 1024

    init(connection: PGConnection, state: PGConnection.CopyInState) {
        self.connection = connection
        self.state = state
    }

    /// Writes bytes (any chunking: rows may span writes).
    public func write(_ bytes: some Collection<UInt8>) async throws {
        buffer.writeBytes(bytes)
        if buffer.count >= Self.chunkSize { try await flush() }
    }

    /// Writes a string's UTF-8 bytes.
    public func write(_ text: String) async throws {
        try await write(text.utf8)
    }

    /// Sends what is gathered now.
    public func flush() async throws {
        guard buffer.count > 0 else { return }
        let chunk = buffer.bytes
        buffer.clear()
        try await connection.copyWrite(state, chunk)
    }

}
