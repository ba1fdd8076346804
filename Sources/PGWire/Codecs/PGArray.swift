// Array codecs: `[T]`, `[T?]` (NULL elements) and `[[T]]`… (more dimensions) for every PGArrayScalar T.
//
// The `Array` conformances to PGEncodable/PGDecodable (in PGCodec+Bytes.swift) go through
// `PGArrayElement`; this file makes every `PGArrayNode` a `PGArrayElement`, and scalars, optionals
// of scalars and arrays of nodes into nodes. Wire formats live in PGCodec+Array.swift.

/// A value that can sit inside a Postgres array: a scalar (`PGArrayScalar`), an optional scalar
/// (a NULL element), or a Swift array of nodes (one more dimension).
///
/// You do not normally implement this yourself: conform a scalar type to `PGArrayScalar` instead.
///
/// ```swift
/// let grid: [[Int32]] = [[1, 2], [3, 4]]   // int4[] with 2 dimensions
/// let sparse: [String?] = ["a", nil]       // text[] with a NULL element
/// try await connection.query("SELECT $1::int4[], $2::text[]", [grid, sparse])
/// ```
public protocol PGArrayNode: PGArrayElement {
    /// The server type of the scalars at the leaves (the array header's element OID).
    static var pgArrayLeafType: PGDataType { get }
    /// The number of array dimensions this node adds below it (0 for scalars and optionals).
    static var pgArrayDepth: Int { get }
    /// Appends the lengths of this node's dimensions (nothing for a scalar); throws `.encoding` when ragged.
    func pgArrayShape(into dims: inout [Int]) throws
    /// Writes this node's scalars, in row-major order.
    func pgArrayWriteLeaves(into writer: inout PGArrayWriter) throws
    /// Reads one node whose dimensions below it are `dims`.
    static func pgArrayRead(from reader: inout PGArrayReader, dims: ArraySlice<Int>) throws -> Self
}

extension PGArrayNode {
    /// Writes `[Self]` in the binary array format (text format for text-format scalars).
    public static func pgEncodeArray(_ elements: [Self], into buffer: inout PGWriteBuffer) throws {
        try PGCodec.encodeArray(elements, into: &buffer)
    }

    /// Decodes `[Self]` from an array value in binary or text format.
    public static func pgDecodeArray(_ bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws -> [Self] {
        try PGCodec.decodeArray(bytes, type: type, format: format, as: Self.self)
    }
}

/// A scalar type that can be the element of a Postgres array: `[Self]`, `[Self?]` and nested
/// arrays of it become codable. The array type defaults to the built-in array of `pgDataType`
/// (`int4[]` for `int4`); a type with a server-inferred (`.unspecified`) type is sent as a text array.
///
/// ```swift
/// struct Celsius: PGEncodable, PGDecodable, PGArrayScalar { … } // float8 → float8[]
/// let temps: [Celsius?] = [Celsius(value: 21.5), nil]
/// ```
public protocol PGArrayScalar: PGArrayNode, PGEncodable, PGDecodable {}

extension PGArrayScalar {
    public static var pgArrayDataType: PGDataType { PGDataType.arrayTypes[pgDataType] ?? .unspecified }
    public static var pgArrayFormat: PGFormat { pgFormat }
    public static var pgArrayLeafType: PGDataType { pgDataType }
    public static var pgArrayDepth: Int { 0 }
    public func pgArrayShape(into dims: inout [Int]) {}
    public func pgArrayWriteLeaves(into writer: inout PGArrayWriter) throws { try writer.write(self) }
    public static func pgArrayRead(from reader: inout PGArrayReader, dims: ArraySlice<Int>) throws -> Self {
        try reader.next(Self.self)
    }
}

/// `[T?]`: a NULL element is `nil`.
extension Optional: PGArrayElement, PGArrayNode, PGArrayScalar where Wrapped: PGArrayScalar {
    public static var pgArrayDataType: PGDataType { Wrapped.pgArrayDataType }
}

/// `[[T]]`: each nested Swift array is one more dimension; nested arrays must all have the same length.
extension Array: PGArrayElement, PGArrayNode where Element: PGArrayNode {
    public static var pgArrayDataType: PGDataType { Element.pgArrayDataType }
    public static var pgArrayFormat: PGFormat { Element.pgArrayFormat }
    public static var pgArrayLeafType: PGDataType { Element.pgArrayLeafType }
    public static var pgArrayDepth: Int { Element.pgArrayDepth + 1 }

    public func pgArrayShape(into dims: inout [Int]) throws {
        dims.append(count)
        guard Element.pgArrayDepth > 0 else { return }
        guard let first else {
            dims.append(contentsOf: repeatElement(0, count: Element.pgArrayDepth))
            return
        }
        var firstShape: [Int] = []
        try first.pgArrayShape(into: &firstShape)
        for element in dropFirst() {
            var shape: [Int] = []
            try element.pgArrayShape(into: &shape)
            guard shape == firstShape else {
                throw PGError(code: .encoding, message: "cannot encode \(PGCodec.name(Self.self)) as an array: nested arrays differ in length (Postgres arrays are rectangular)")
            }
        }
        dims.append(contentsOf: firstShape)
    }

    public func pgArrayWriteLeaves(into writer: inout PGArrayWriter) throws {
        for element in self { try element.pgArrayWriteLeaves(into: &writer) }
    }

    public static func pgArrayRead(from reader: inout PGArrayReader, dims: ArraySlice<Int>) throws -> [Element] {
        guard let n = dims.first else { throw reader.mismatch() }
        var out: [Element] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try Element.pgArrayRead(from: &reader, dims: dims.dropFirst())) }
        return out
    }
}

/// Collects the scalars of an array value while it is encoded (binary: length-prefixed values;
/// text: each value's text, quoted later).
public struct PGArrayWriter: Sendable {
    var buffer = PGWriteBuffer(capacity: 0)
    let format: PGFormat
    var hasNull = false
    var textLeaves: [[UInt8]?] = []

    init(format: PGFormat) { self.format = format }

    /// Appends one scalar (or NULL for `Optional.none`).
    public mutating func write<T: PGEncodable>(_ value: T) throws {
        if value.pgIsNull {
            hasNull = true
            if format == .binary { buffer.writeInteger(Int32(-1)) } else { textLeaves.append(nil) }
            return
        }
        if format == .binary {
            let start = buffer.count
            buffer.writeInteger(Int32(0))
            try value.encode(into: &buffer)
            guard let length = Int32(exactly: buffer.count - start - 4) else {
                throw PGError(code: .encoding, message: "array element of \(PGCodec.name(T.self)) is too large")
            }
            buffer.setInt32(length, at: start)
        } else {
            var element = PGWriteBuffer(capacity: 16)
            try value.encode(into: &element)
            textLeaves.append(element.bytes)
        }
    }
}

/// Hands out the scalars of a decoded array value, in row-major order.
public struct PGArrayReader: Sendable {
    let elements: [ArraySlice<UInt8>?]
    var index = 0
    /// The element type: from the binary header, or the array type's element type in text format.
    public let elementType: PGDataType
    /// The format the elements are in.
    public let format: PGFormat
    let arrayType: PGDataType
    let swiftType: String

    init(elements: [ArraySlice<UInt8>?], elementType: PGDataType, format: PGFormat, arrayType: PGDataType, swiftType: String) {
        self.elements = elements
        self.elementType = elementType
        self.format = format
        self.arrayType = arrayType
        self.swiftType = swiftType
    }

    /// Decodes the next scalar; a NULL element needs a type whose `pgNullValue` is set (an Optional).
    public mutating func next<T: PGDecodable>(_ type: T.Type) throws -> T {
        guard index < elements.count else { throw mismatch() }
        let element = elements[index]
        index += 1
        guard let element else {
            if let null = T.pgNullValue { return null }
            throw PGError(code: .decoding, message: "cannot decode \(arrayType) into \(swiftType): the array has a NULL element; decode its elements as Optional")
        }
        do {
            return try T(pgBytes: element, type: elementType, format: format)
        } catch var error as PGError {
            error.message = "\(arrayType) element \(index - 1) into \(swiftType): \(error.message)"
            throw error
        }
    }

    func mismatch() -> PGError {
        PGError(code: .decoding, message: "cannot decode \(arrayType) into \(swiftType): the array's shape does not fit")
    }
}

extension PGDataType {
    /// Element type → array type, for the built-in array types.
    static let arrayTypes: [PGDataType: PGDataType] = {
        var out: [PGDataType: PGDataType] = [:]
        for (array, element) in arrayElementTypes { out[element] = array }
        return out
    }()
}

// MARK: Scalar conformances

extension Bool: PGArrayScalar {}
extension Int16: PGArrayScalar {}
extension Int32: PGArrayScalar {}
extension Int64: PGArrayScalar {}
extension Int: PGArrayScalar {}
extension Float: PGArrayScalar {}
extension Double: PGArrayScalar {}
extension String: PGArrayScalar {}
extension PGTextValue: PGArrayScalar {}
extension PGDate: PGArrayScalar {}
extension PGNumeric: PGArrayScalar {}
extension PGTime: PGArrayScalar {}
extension PGTimestamp: PGArrayScalar {}
extension PGLocalTimestamp: PGArrayScalar {}
extension PGInterval: PGArrayScalar {}
extension PGJSONValue: PGArrayScalar {}
extension PGJSON: PGArrayScalar {}
extension PGInet: PGArrayScalar {}
extension PGRange: PGArrayScalar {}
