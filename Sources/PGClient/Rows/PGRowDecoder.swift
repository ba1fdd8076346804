import Foundation
import PGTransport
import PGWire

// Decoding rows into `Decodable` types by column name.
//
// A key maps to the column of the same name, or failing that to the column named like the key in
// snake_case (`createdAt` → `created_at`). A typed row sequence resolves each key once per result and
// reuses the column index for every row.

extension PGRow {
    /// Decodes the row into a `Decodable` type, matching coding keys to column names.
    ///
    /// Properties of types Tusk decodes (`PGDecodable`) come straight from the column; `json`/`jsonb`
    /// columns decode nested `Decodable` values; `RawRepresentable` enums decode from their raw value.
    /// Optional properties accept NULL and missing columns; extra columns are ignored.
    ///
    /// ```swift
    /// struct User: Decodable { var id: Int; var name: String; var createdAt: Date }
    /// let user = try row.decode(User.self)   // columns id, name, created_at
    /// ```
    @_disfavoredOverload
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try decode(T.self, keyCache: PGColumnKeyCache(columns: columns))
    }

    func decode<T: Decodable>(_ type: T.Type, keyCache: PGColumnKeyCache) throws -> T {
        var fields: [ArraySlice<UInt8>?] = []
        fields.reserveCapacity(data.columnCount)
        data.forEachField { _, bytes in fields.append(bytes) }
        let decoder = PGRowDecoder(row: self, fields: fields, keys: keyCache)
        do {
            return try T(from: decoder)
        } catch let error as PGError {
            throw error
        } catch let DecodingError.keyNotFound(key, _) {
            throw PGError(code: .decoding, message: "cannot decode \(T.self): no column named \"\(key.stringValue)\" (or \"\(PGColumnKeyCache.snakeCase(key.stringValue))\") in the result")
        } catch {
            throw PGError(code: .decoding, message: "cannot decode \(T.self) from the row: \(error)")
        }
    }
}

/// Key → column index, resolved once per result.
@usableFromInline
final class PGColumnKeyCache: Sendable {
    let columns: PGRowDescription
    private let cache = PGLock<[String: Int?]>([:])

    init(columns: PGRowDescription) { self.columns = columns }

    func index(for key: String) -> Int? {
        if let hit = cache.withLock({ $0[key] }) { return hit }
        let found = columns.index(of: key) ?? columns.index(of: Self.snakeCase(key))
        cache.withLock { $0[key] = .some(found) }
        return found
    }

    static func snakeCase(_ key: String) -> String {
        var out = ""
        for c in key {
            if c.isUppercase {
                if !out.isEmpty { out.append("_") }
                out.append(contentsOf: c.lowercased())
            } else {
                out.append(c)
            }
        }
        return out
    }
}

struct PGRowDecoder: Decoder {
    let row: PGRow
    let fields: [ArraySlice<UInt8>?]
    let keys: PGColumnKeyCache
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(KeyedContainer<Key>(decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw PGError(code: .decoding, message: "a row decodes into a keyed type (a struct or class), not an unkeyed one")
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        guard row.count == 1 else {
            throw PGError(code: .decoding, message: "a single value decodes from a one-column row; this row has \(row.count) columns")
        }
        return FieldDecoder(row: row, bytes: fields[0], column: 0, codingPath: codingPath)
    }

    struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let decoder: PGRowDecoder
        var codingPath: [any CodingKey] { decoder.codingPath }
        var allKeys: [Key] { decoder.row.columns.columns.compactMap { Key(stringValue: $0.name) } }

        func contains(_ key: Key) -> Bool { decoder.keys.index(for: key.stringValue) != nil }

        func column(_ key: Key) throws -> Int {
            guard let i = decoder.keys.index(for: key.stringValue) else {
                throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no such column"))
            }
            return i
        }

        func decodeNil(forKey key: Key) throws -> Bool { decoder.fields[try column(key)] == nil }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            let i = try column(key)
            return try FieldDecoder(row: decoder.row, bytes: decoder.fields[i], column: i, codingPath: codingPath + [key]).decode(T.self)
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            throw PGError(code: .decoding, message: "column \"\(key.stringValue)\": nested containers need a json or jsonb column; decode the property's type instead")
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            throw PGError(code: .decoding, message: "column \"\(key.stringValue)\": nested containers need a json or jsonb column; decode the property's type instead")
        }

        func superDecoder() throws -> any Decoder { decoder }
        func superDecoder(forKey key: Key) throws -> any Decoder { decoder }
    }
}

/// Decodes one field: through `PGDecodable` when the type has a codec, from JSON for json/jsonb columns, or
/// by asking the type to decode itself from a single value (RawRepresentable enums and wrappers).
struct FieldDecoder: Decoder, SingleValueDecodingContainer {
    let row: PGRow
    let bytes: ArraySlice<UInt8>?
    let column: Int
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        throw mismatch(Key.self, "a keyed value")
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { throw mismatch([Any].self, "an unkeyed value") }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    func mismatch(_ type: Any.Type, _ what: String) -> PGError {
        let info = row.columns.columns[column]
        return PGError(code: .decoding, message: "column \(column) \"\(info.name)\" (\(info.dataType)) cannot be decoded as \(what) of \(type); use a json or jsonb column for nested values")
    }

    func decodeNil() -> Bool { bytes == nil }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if let codec = T.self as? any PGDecodable.Type {
            return try decodeWithCodec(codec)
        }
        let info = row.columns.columns[column]
        if info.dataType == .json || info.dataType == .jsonb {
            guard var raw = bytes else {
                throw PGError(code: .decoding, message: "column \(column) \"\(info.name)\" (\(info.dataType)) is NULL; decode it as \(T.self)? to accept NULL")
            }
            if info.dataType == .jsonb, info.format == .binary {
                guard raw.first == 1 else { throw PGError(code: .decoding, message: "column \(column) \"\(info.name)\": unknown jsonb version") }
                raw = raw.dropFirst()
            }
            do {
                return try JSONDecoder().decode(T.self, from: Data(raw))
            } catch {
                throw PGError(code: .decoding, message: "column \(column) \"\(info.name)\" (\(info.dataType)) as \(T.self): the JSON does not match the type", underlying: "\(error)")
            }
        }
        return try T(from: self)
    }

    private func decodeWithCodec<T: Decodable>(_ codec: any PGDecodable.Type) throws -> T {
        func open<U: PGDecodable>(_: U.Type) throws -> Any { try PGRow.decodeField(U.self, bytes, column: column, columns: row.columns) }
        guard let value = try open(codec) as? T else {
            throw PGError(code: .decoding, message: "column \(column): internal type mismatch decoding \(T.self)")
        }
        return value
    }

    func decode(_ type: Bool.Type) throws -> Bool { try decodeWithCodec(Bool.self) }
    func decode(_ type: String.Type) throws -> String { try decodeWithCodec(String.self) }
    func decode(_ type: Double.Type) throws -> Double { try decodeWithCodec(Double.self) }
    func decode(_ type: Float.Type) throws -> Float { try decodeWithCodec(Float.self) }
    func decode(_ type: Int.Type) throws -> Int { try decodeWithCodec(Int.self) }
    func decode(_ type: Int8.Type) throws -> Int8 { try narrow(Int16.self) }
    func decode(_ type: Int16.Type) throws -> Int16 { try decodeWithCodec(Int16.self) }
    func decode(_ type: Int32.Type) throws -> Int32 { try decodeWithCodec(Int32.self) }
    func decode(_ type: Int64.Type) throws -> Int64 { try decodeWithCodec(Int64.self) }
    func decode(_ type: UInt.Type) throws -> UInt { try narrow(Int64.self) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try narrow(Int16.self) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try narrow(Int32.self) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try narrow(Int64.self) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try narrow(Int64.self) }

    private func narrow<Wide: PGDecodable & Decodable & BinaryInteger, Narrow: FixedWidthInteger>(_ wide: Wide.Type) throws -> Narrow {
        let value: Wide = try decodeWithCodec(Wide.self)
        guard let n = Narrow(exactly: value) else {
            throw PGError(code: .decoding, message: "column \(column): value out of range for \(Narrow.self)")
        }
        return n
    }
}

/// The rows of a query decoded into a Swift type as they stream.
///
/// ```swift
/// for try await (id, name) in try await connection.query("SELECT id, name FROM users").decode((Int, String).self) { … }
/// ```
public struct PGTypedRowSequence<Element>: AsyncSequence, Sendable {
    let base: PGRowSequence
    let transform: @Sendable (PGRow, PGColumnKeyCache?) throws -> Element

    @usableFromInline
    init(base: PGRowSequence, transform: @escaping @Sendable (PGRow, PGColumnKeyCache?) throws -> Element) {
        self.base = base
        self.transform = transform
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), transform: transform)
    }

    /// Iterates, decoding each row.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: PGRowSequence.AsyncIterator
        let transform: @Sendable (PGRow, PGColumnKeyCache?) throws -> Element
        var cache: PGColumnKeyCache?

        public mutating func next() async throws -> Element? {
            guard let row = try await base.next() else { return nil }
            if cache == nil || cache?.columns !== row.columns { cache = PGColumnKeyCache(columns: row.columns) }
            return try transform(row, cache)
        }
    }

    /// Collects every decoded row into an array.
    public func collect() async throws -> [Element] {
        var out: [Element] = []
        for try await e in self { out.append(e) }
        return out
    }
}

extension PGRowSequence {
    /// Decodes each row into a tuple (or a single value) as it streams. The tuple's arity must match the
    /// column count; errors name the column, its index, the server type and the Swift type.
    ///
    /// ```swift
    /// for try await (id, name) in rows.decode((Int, String).self) { print(id, name) }
    /// ```
    public func decode<each T: PGDecodable>(_ types: (repeat each T).Type) -> PGTypedRowSequence<(repeat each T)> {
        PGTypedRowSequence(base: self) { row, _ in try row.decode((repeat each T).self) }
    }

    /// Decodes each row into a `Decodable` type by column name as it streams; the column for each key is
    /// found once per result.
    ///
    /// ```swift
    /// struct User: Decodable { var id: Int; var name: String }
    /// for try await user in rows.decode(User.self) { print(user.name) }
    /// ```
    @_disfavoredOverload
    public func decode<T: Decodable & SendableMetatype>(_ type: T.Type) -> PGTypedRowSequence<T> {
        PGTypedRowSequence(base: self) { row, cache in
            try row.decode(T.self, keyCache: cache ?? PGColumnKeyCache(columns: row.columns))
        }
    }
}
