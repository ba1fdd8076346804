import PGWire

/// Writes typed rows into a binary `COPY … FROM STDIN`. Every value is sent in its binary encoding, so its
/// type's `pgFormat` must be `.binary`.
///
/// ```swift
/// try await connection.copyInRows(table: "t", columns: ["id", "name"]) { rows in
///     try await rows.writeRow(Int64(1), "one")
///     try await rows.writeRow(Int64(2), nil as String?)
/// }
/// ```
public final class PGCopyBinaryRowWriter: @unchecked Sendable {
    @usableFromInline let writer: PGCopyInWriter
    @usableFromInline let columnCount: Int?
    /// Rows written so far.
    public var rowCount: Int { rowsWritten }
    @usableFromInline var rowsWritten = 0

    static let signature: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]

    init(writer: PGCopyInWriter, columnCount: Int?) {
        self.writer = writer
        self.columnCount = columnCount
    }

    func start() async throws {
        writer.buffer.writeBytes(Self.signature)
        writer.buffer.writeInteger(Int32(0))  // flags
        writer.buffer.writeInteger(Int32(0))  // header extension length
    }

    func finish() async throws {
        writer.buffer.writeInteger(Int16(-1))
        try await writer.flush()
    }

    /// Writes one row. The number of values must match the column list.
    public func writeRow<each T: PGEncodable>(_ values: repeat each T) async throws {
        var count = 0
        for _ in repeat (each T).self { count += 1 }
        try checkCount(count)
        writer.buffer.writeInteger(Int16(truncatingIfNeeded: count))
        for value in repeat each values { try Self.encode(value, into: &writer.buffer) }
        rowsWritten += 1
        if writer.buffer.count >= PGCopyInWriter.chunkSize { try await writer.flush() }
    }

    /// Writes one row of values of any types.
    public func writeRow(_ values: [any PGEncodable]) async throws {
        try checkCount(values.count)
        writer.buffer.writeInteger(Int16(truncatingIfNeeded: values.count))
        for value in values { try Self.encode(value, into: &writer.buffer) }
        rowsWritten += 1
        if writer.buffer.count >= PGCopyInWriter.chunkSize { try await writer.flush() }
    }

    @usableFromInline
    func checkCount(_ count: Int) throws {
        if let columnCount, count != columnCount {
            throw PGError(code: .encoding, message: "row \(rowCount + 1) has \(count) values for \(columnCount) columns")
        }
        if count > Int(Int16.max) { throw PGError(code: .encoding, message: "a row may hold at most 32767 values") }
    }

    @inlinable @inline(__always)
    static func encode<T: PGEncodable>(_ value: T, into buffer: inout PGWriteBuffer) throws {
        if value.pgIsNull {
            buffer.writeInteger(Int32(-1))
            return
        }
        guard T.pgFormat == .binary else {
            throw PGError(code: .encoding, message: "\(T.self) has no binary encoding; binary COPY needs one (use a text or CSV COPY)")
        }
        let lengthAt = buffer.count
        buffer.writeInteger(Int32(0))
        try value.encode(into: &buffer)
        buffer.setInt32(Int32(buffer.count - lengthAt - 4), at: lengthAt)
    }
}

/// The data of a `COPY … TO STDOUT`, one chunk per CopyData message.
///
/// ```swift
/// for try await chunk in try await connection.copyOut("COPY t TO STDOUT") { print(chunk.count) }
/// ```
public struct PGCopyOutSequence: AsyncSequence, Sendable {
    public typealias Element = ArraySlice<UInt8>
    let rows: PGRowSequence

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: rows.makeAsyncIterator()) }

    /// Iterates over the chunks.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: PGRowSequence.AsyncIterator
        public mutating func next() async throws -> ArraySlice<UInt8>? {
            try await base.next()?.data.fields
        }
    }

    /// The COPY's command tag once fully consumed ("COPY 1000").
    public var commandTag: String? { rows.commandTag }
}

/// The rows of a binary `COPY … TO STDOUT`, parsed from the binary COPY format and decoded like query rows.
///
/// ```swift
/// for try await row in rows { let id = try row.decode(Int.self, column: 0) }
/// ```
public struct PGCopyRowSequence: AsyncSequence, Sendable {
    public typealias Element = PGRow
    let chunks: PGCopyOutSequence
    let columns: PGRowDescription

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: chunks.makeAsyncIterator(), columns: columns)
    }

    /// Decodes each row into a tuple as it streams.
    public func decode<each T: PGDecodable>(_ types: (repeat each T).Type) -> PGTypedCopyRowSequence<(repeat each T)> {
        PGTypedCopyRowSequence(base: self) { row in try row.decode((repeat each T).self) }
    }

    /// Parses the binary COPY stream; a tuple may span CopyData messages (servers send one per message).
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: PGCopyOutSequence.AsyncIterator
        let columns: PGRowDescription
        var pending: ArraySlice<UInt8> = []
        var headerDone = false
        var finished = false

        public mutating func next() async throws -> PGRow? {
            while !finished {
                if let row = try parseOne() { return row }
                guard let chunk = try await base.next() else {
                    guard pending.isEmpty, headerDone else {
                        throw PGError.violation("binary COPY data ended in the middle of a row")
                    }
                    return nil
                }
                pending = pending.isEmpty ? chunk : ArraySlice(Array(pending) + chunk)
            }
            // Drain to the end so the connection's request completes.
            while try await base.next() != nil {}
            return nil
        }

        mutating func parseOne() throws -> PGRow? {
            if !headerDone {
                guard pending.count >= 19 else { return nil }
                guard pending.prefix(11).elementsEqual(PGCopyBinaryRowWriter.signature) else {
                    throw PGError.violation("binary COPY data does not start with the PGCOPY signature")
                }
                var cursor = PGReadCursor(pending)
                _ = cursor.readSlice(11)
                guard let _ = cursor.readInteger(as: Int32.self), let ext = cursor.readInteger(as: Int32.self), ext >= 0 else {
                    throw PGError.violation("bad binary COPY header")
                }
                guard cursor.remaining >= Int(ext) else { return nil }
                _ = cursor.readSlice(Int(ext))
                pending = pending[cursor.index...]
                headerDone = true
            }
            guard pending.count >= 2 else { return nil }
            var cursor = PGReadCursor(pending)
            guard let count = cursor.readInteger(as: Int16.self) else { return nil }
            if count == -1 {
                finished = true
                pending = []
                return nil
            }
            guard Int(count) == columns.columns.count else {
                throw PGError.violation("binary COPY row has \(count) fields; \(columns.columns.count) column types were given")
            }
            let fieldsStart = cursor.index
            for _ in 0..<Int(count) {
                guard let length = cursor.readInteger(as: Int32.self) else { return nil }
                if length < -1 { throw PGError.violation("binary COPY field has length \(length)") }
                if length > 0 {
                    guard cursor.readSlice(Int(length)) != nil else { return nil }
                }
            }
            let fields = pending[fieldsStart..<cursor.index]
            pending = pending[cursor.index...]
            return PGRow(columns: columns, data: PGDataRow(fields: fields, columnCount: Int(count)))
        }
    }
}

/// Binary COPY rows decoded into a Swift type as they stream.
public struct PGTypedCopyRowSequence<Element>: AsyncSequence, Sendable {
    let base: PGCopyRowSequence
    let transform: @Sendable (PGRow) throws -> Element

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), transform: transform) }

    /// Iterates, decoding each row.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: PGCopyRowSequence.AsyncIterator
        let transform: @Sendable (PGRow) throws -> Element
        public mutating func next() async throws -> Element? {
            guard let row = try await base.next() else { return nil }
            return try transform(row)
        }
    }
}
