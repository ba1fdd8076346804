/// One row of a query result. Field bytes stay in the connection's read buffer and are decoded only when asked.
///
/// ```swift
/// for try await row in try await connection.query("SELECT id, name FROM users") {
///     let (id, name) = try row.decode((Int, String).self)
///     let same = try row.decode(String.self, column: "name")
/// }
/// ```
public struct PGRow: Sendable {
    /// The result's columns.
    public let columns: PGRowDescription
    /// The raw row.
    public let data: PGDataRow

    /// Creates a row.
    public init(columns: PGRowDescription, data: PGDataRow) {
        self.columns = columns
        self.data = data
    }

    /// The number of columns.
    public var count: Int { data.columnCount }

    /// The raw bytes of a column (nil for NULL).
    public func bytes(at column: Int) -> ArraySlice<UInt8>? { data.field(at: column) }

    /// True when the column is NULL.
    public func isNull(_ column: Int) -> Bool { data.field(at: column) == nil }

    /// Decodes one column by index.
    @inlinable
    public func decode<T: PGDecodable>(_ type: T.Type = T.self, column: Int) throws -> T {
        guard column >= 0, column < data.columnCount else {
            throw PGError(code: .decoding, message: "column index \(column) is out of range (the row has \(data.columnCount) columns)")
        }
        return try Self.decodeField(T.self, data.field(at: column), column: column, columns: columns)
    }

    /// Decodes one column by name (the first column with that name).
    public func decode<T: PGDecodable>(_ type: T.Type = T.self, column name: String) throws -> T {
        guard let index = columns.index(of: name) else {
            throw PGError(code: .decoding, message: "no column named \"\(name)\" in the result")
        }
        return try decode(T.self, column: index)
    }

    /// Decodes all columns, in order, into a tuple. The tuple's arity must match the column count.
    @inlinable
    public func decode<each T: PGDecodable>(_ types: (repeat each T).Type) throws -> (repeat each T) {
        var arity = 0
        for _ in repeat (each T).self { arity += 1 }
        guard arity == data.columnCount else {
            throw PGError(code: .decoding, message: "cannot decode \(data.columnCount) columns into a tuple of \(arity) values")
        }
        var cursor = FieldCursor(fields: data.fields)
        return (repeat try cursor.next((each T).self, columns: columns))
    }

    @usableFromInline
    struct FieldCursor {
        @usableFromInline let fields: ArraySlice<UInt8>
        @usableFromInline var index: Int
        @usableFromInline var column = 0
        @usableFromInline init(fields: ArraySlice<UInt8>) {
            self.fields = fields
            self.index = fields.startIndex
        }

        @inlinable
        mutating func next<T: PGDecodable>(_ type: T.Type, columns: PGRowDescription) throws -> T {
            let length = Int(fields.pgInt32(at: index))
            index += 4
            let bytes: ArraySlice<UInt8>?
            if length < 0 {
                bytes = nil
            } else {
                bytes = fields[index..<(index + length)]
                index += length
            }
            defer { column += 1 }
            return try PGRow.decodeField(T.self, bytes, column: column, columns: columns)
        }
    }

    @inlinable
    static func decodeField<T: PGDecodable>(_ type: T.Type, _ bytes: ArraySlice<UInt8>?, column: Int, columns: PGRowDescription) throws -> T {
        guard let bytes else {
            if let null = T.pgNullValue { return null }
            let info = columns.columns[column]
            throw PGError(code: .decoding,
                          message: "column \(column) \"\(info.name)\" (\(info.dataType)) is NULL; decode it as \(T.self)? to accept NULL")
        }
        do {
            // Two fields read in place: copying the whole column (its name) cost a retain and release per value.
            return try T(pgBytes: bytes, type: columns.columns[column].dataType, format: columns.columns[column].format)
        } catch let error as PGError {
            let info = columns.columns[column]
            var e = error
            e.message = "column \(column) \"\(info.name)\" (\(info.dataType), \(info.format == .binary ? "binary" : "text")) as \(T.self): \(error.message)"
            throw e
        } catch {
            let info = columns.columns[column]
            throw PGError(code: .decoding, message: "column \(column) \"\(info.name)\" (\(info.dataType)) as \(T.self): \(error)")
        }
    }
}

extension ArraySlice where Element == UInt8 {
    @inlinable
    func pgInt32(at index: Int) -> Int32 {
        Int32(bitPattern: UInt32(self[index]) << 24 | UInt32(self[index + 1]) << 16
            | UInt32(self[index + 2]) << 8 | UInt32(self[index + 3]))
    }
}

/// The result of one statement of a simple query (rows collected).
public struct PGQueryResult: Sendable {
    /// The columns (nil for statements that return no rows).
    public var columns: PGRowDescription?
    /// The rows (text format).
    public var rows: [PGRow]
    /// The command tag, e.g. "INSERT 0 3", "SELECT 2" (empty for an empty query).
    public var commandTag: String

    /// Rows affected, parsed from the command tag (nil when the tag carries no count).
    public var affectedRows: Int? { PGQueryResult.affectedRows(from: commandTag) }

    static func affectedRows(from tag: String) -> Int? {
        guard let last = tag.split(separator: " ").last, let n = Int(last) else { return nil }
        let first = tag.split(separator: " ").first ?? ""
        let withCount: Set<Substring> = ["INSERT", "UPDATE", "DELETE", "SELECT", "MOVE", "FETCH", "COPY", "MERGE"]
        return withCount.contains(first) ? n : nil
    }
}
