import PGWire

// Fixed-arity binary COPY rows (1 to 6 values): specialised across modules, unlike the parameter-pack
// version, which looks up tuple metadata on every row.

extension PGCopyBinaryRowWriter {

    /// Writes one row of 1 value.
    @inlinable
    public func writeRow<A: PGEncodable>(_ a: A) async throws {
        try checkCount(1)
        writer.buffer.writeInteger(Int16(1))
        try Self.encode(a, into: &writer.buffer)
        rowsWritten += 1
        if writer.buffer.count >= PGCopyInWriter.chunkSize { try await writer.flush() }
    }

    /// Writes one row of 2 values.
    @inlinable
    public func writeRow<A: PGEncodable, B: PGEncodable>(_ a: A, _ b: B) async throws {
        try checkCount(2)
        writer.buffer.writeInteger(Int16(2))
        try Self.encode(a, into: &writer.buffer)
        try Self.encode(b, into: &writer.buffer)
        rowsWritten += 1
        if writer.buffer.count >= PGCopyInWriter.chunkSize { try await writer.flush() }
    }

    /// Writes one row of 3 values.
    @inlinable
    public func writeRow<A: PGEncodable, B: PGEncodable, C: PGEncodable>(_ a: A, _ b: B, _ c: C) async throws {
        try checkCount(3)
        writer.buffer.writeInteger(Int16(3))
        try Self.encode(a, into: &writer.buffer)
        try Self.encode(b, into: &writer.buffer)
        try Self.encode(c, into: &writer.buffer)
        rowsWritten += 1
        if writer.buffer.count >= PGCopyInWriter.chunkSize { try await writer.flush() }
    }

    /// Writes one row of 4 values.
    @inlinable
    public func writeRow<A: PGEncodable, B: PGEncodable, C: PGEncodable, D: PGEncodable>(_ a: A, _ b: B, _ c: C, _ d: D) async throws {
        try checkCount(4)
        writer.buffer.writeInteger(Int16(4))
        try Self.encode(a, into: &writer.buffer)
        try Self.encode(b, into: &writer.buffer)
        try Self.encode(c, into: &writer.buffer)
        try Self.encode(d, into: &writer.buffer)
        rowsWritten += 1
        if writer.buffer.count >= PGCopyInWriter.chunkSize { try await writer.flush() }
    }

    /// Writes one row of 5 values.
    @inlinable
    public func writeRow<A: PGEncodable, B: PGEncodable, C: PGEncodable, D: PGEncodable, E: PGEncodable>(_ a: A, _ b: B, _ c: C, _ d: D, _ e: E) async throws {
        try checkCount(5)
        writer.buffer.writeInteger(Int16(5))
        try Self.encode(a, into: &writer.buffer)
        try Self.encode(b, into: &writer.buffer)
        try Self.encode(c, into: &writer.buffer)
        try Self.encode(d, into: &writer.buffer)
        try Self.encode(e, into: &writer.buffer)
        rowsWritten += 1
        if writer.buffer.count >= PGCopyInWriter.chunkSize { try await writer.flush() }
    }

    /// Writes one row of 6 values.
    @inlinable
    public func writeRow<A: PGEncodable, B: PGEncodable, C: PGEncodable, D: PGEncodable, E: PGEncodable, F: PGEncodable>(_ a: A, _ b: B, _ c: C, _ d: D, _ e: E, _ f: F) async throws {
        try checkCount(6)
        writer.buffer.writeInteger(Int16(6))
        try Self.encode(a, into: &writer.buffer)
        try Self.encode(b, into: &writer.buffer)
        try Self.encode(c, into: &writer.buffer)
        try Self.encode(d, into: &writer.buffer)
        try Self.encode(e, into: &writer.buffer)
        try Self.encode(f, into: &writer.buffer)
        rowsWritten += 1
        if writer.buffer.count >= PGCopyInWriter.chunkSize { try await writer.flush() }
    }

}
