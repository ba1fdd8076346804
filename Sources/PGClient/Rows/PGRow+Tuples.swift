import PGWire

// Fixed-arity tuple decoding (2 to 6 columns). The parameter-pack versions are general, but packs are not
// specialised across modules and look up tuple metadata on every row; these overloads are, and the
// compiler prefers them over the pack versions.

extension PGRow {

    /// Decodes the row's 2 columns into a tuple.
    @inlinable
    public func decode<A: PGDecodable, B: PGDecodable>(_ types: (A, B).Type) throws -> (A, B) {
        guard data.columnCount == 2 else {
            throw PGError(code: .decoding, message: "cannot decode \(data.columnCount) columns into a tuple of 2 values")
        }
        var cursor = FieldCursor(fields: data.fields)
        return (try cursor.next(A.self, columns: columns), try cursor.next(B.self, columns: columns))
    }

    /// Decodes the row's 3 columns into a tuple.
    @inlinable
    public func decode<A: PGDecodable, B: PGDecodable, C: PGDecodable>(_ types: (A, B, C).Type) throws -> (A, B, C) {
        guard data.columnCount == 3 else {
            throw PGError(code: .decoding, message: "cannot decode \(data.columnCount) columns into a tuple of 3 values")
        }
        var cursor = FieldCursor(fields: data.fields)
        return (try cursor.next(A.self, columns: columns), try cursor.next(B.self, columns: columns), try cursor.next(C.self, columns: columns))
    }

    /// Decodes the row's 4 columns into a tuple.
    @inlinable
    public func decode<A: PGDecodable, B: PGDecodable, C: PGDecodable, D: PGDecodable>(_ types: (A, B, C, D).Type) throws -> (A, B, C, D) {
        guard data.columnCount == 4 else {
            throw PGError(code: .decoding, message: "cannot decode \(data.columnCount) columns into a tuple of 4 values")
        }
        var cursor = FieldCursor(fields: data.fields)
        return (try cursor.next(A.self, columns: columns), try cursor.next(B.self, columns: columns), try cursor.next(C.self, columns: columns), try cursor.next(D.self, columns: columns))
    }

    /// Decodes the row's 5 columns into a tuple.
    @inlinable
    public func decode<A: PGDecodable, B: PGDecodable, C: PGDecodable, D: PGDecodable, E: PGDecodable>(_ types: (A, B, C, D, E).Type) throws -> (A, B, C, D, E) {
        guard data.columnCount == 5 else {
            throw PGError(code: .decoding, message: "cannot decode \(data.columnCount) columns into a tuple of 5 values")
        }
        var cursor = FieldCursor(fields: data.fields)
        return (try cursor.next(A.self, columns: columns), try cursor.next(B.self, columns: columns), try cursor.next(C.self, columns: columns), try cursor.next(D.self, columns: columns), try cursor.next(E.self, columns: columns))
    }

    /// Decodes the row's 6 columns into a tuple.
    @inlinable
    public func decode<A: PGDecodable, B: PGDecodable, C: PGDecodable, D: PGDecodable, E: PGDecodable, F: PGDecodable>(_ types: (A, B, C, D, E, F).Type) throws -> (A, B, C, D, E, F) {
        guard data.columnCount == 6 else {
            throw PGError(code: .decoding, message: "cannot decode \(data.columnCount) columns into a tuple of 6 values")
        }
        var cursor = FieldCursor(fields: data.fields)
        return (try cursor.next(A.self, columns: columns), try cursor.next(B.self, columns: columns), try cursor.next(C.self, columns: columns), try cursor.next(D.self, columns: columns), try cursor.next(E.self, columns: columns), try cursor.next(F.self, columns: columns))
    }

}

extension PGRowSequence {

    /// Decodes each row into a tuple of 2 values as it streams.
    @inlinable
    public func decode<A: PGDecodable, B: PGDecodable>(_ types: (A, B).Type) -> PGTypedRowSequence<(A, B)> {
        PGTypedRowSequence(base: self) { row, _ in try row.decode((A, B).self) }
    }

    /// Decodes each row into a tuple of 3 values as it streams.
    @inlinable
    public func decode<A: PGDecodable, B: PGDecodable, C: PGDecodable>(_ types: (A, B, C).Type) -> PGTypedRowSequence<(A, B, C)> {
        PGTypedRowSequence(base: self) { row, _ in try row.decode((A, B, C).self) }
    }

    /// Decodes each row into a tuple of 4 values as it streams.
    @inlinable
    public func decode<A: PGDecodable, B: PGDecodable, C: PGDecodable, D: PGDecodable>(_ types: (A, B, C, D).Type) -> PGTypedRowSequence<(A, B, C, D)> {
        PGTypedRowSequence(base: self) { row, _ in try row.decode((A, B, C, D).self) }
    }

    /// Decodes each row into a tuple of 5 values as it streams.
    @inlinable
    public func decode<A: PGDecodable, B: PGDecodable, C: PGDecodable, D: PGDecodable, E: PGDecodable>(_ types: (A, B, C, D, E).Type) -> PGTypedRowSequence<(A, B, C, D, E)> {
        PGTypedRowSequence(base: self) { row, _ in try row.decode((A, B, C, D, E).self) }
    }

    /// Decodes each row into a tuple of 6 values as it streams.
    @inlinable
    public func decode<A: PGDecodable, B: PGDecodable, C: PGDecodable, D: PGDecodable, E: PGDecodable, F: PGDecodable>(_ types: (A, B, C, D, E, F).Type) -> PGTypedRowSequence<(A, B, C, D, E, F)> {
        PGTypedRowSequence(base: self) { row, _ in try row.decode((A, B, C, D, E, F).self) }
    }

}
