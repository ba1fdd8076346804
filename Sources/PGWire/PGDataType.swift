/// A PostgreSQL type, identified by its OID.
///
/// ```swift
/// let t = PGDataType.int4
/// print(t.rawValue) // 23
/// ```
public struct PGDataType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The type's OID.
    public var rawValue: UInt32
    /// Creates a type from its OID.
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Creates a type from its OID.
    @inlinable public init(_ oid: UInt32) { self.rawValue = oid }

    public static let unspecified = PGDataType(0)
    public static let bool = PGDataType(16)
    public static let bytea = PGDataType(17)
    public static let char = PGDataType(18)
    public static let name = PGDataType(19)
    public static let int8 = PGDataType(20)
    public static let int2 = PGDataType(21)
    public static let int4 = PGDataType(23)
    public static let text = PGDataType(25)
    public static let oid = PGDataType(26)
    public static let json = PGDataType(114)
    public static let float4 = PGDataType(700)
    public static let float8 = PGDataType(701)
    public static let money = PGDataType(790)
    public static let bpchar = PGDataType(1042)
    public static let varchar = PGDataType(1043)
    public static let date = PGDataType(1082)
    public static let time = PGDataType(1083)
    public static let timestamp = PGDataType(1114)
    public static let timestamptz = PGDataType(1184)
    public static let interval = PGDataType(1186)
    public static let numeric = PGDataType(1700)
    public static let uuid = PGDataType(2950)
    public static let jsonb = PGDataType(3802)
    public static let void = PGDataType(2278)
    public static let timetz = PGDataType(1266)
    public static let inet = PGDataType(869)
    public static let cidr = PGDataType(650)
    public static let int4range = PGDataType(3904)
    public static let numrange = PGDataType(3906)
    public static let tsrange = PGDataType(3908)
    public static let tstzrange = PGDataType(3910)
    public static let daterange = PGDataType(3912)
    public static let int8range = PGDataType(3926)
    public static let boolArray = PGDataType(1000)
    public static let byteaArray = PGDataType(1001)
    public static let charArray = PGDataType(1002)
    public static let nameArray = PGDataType(1003)
    public static let int2Array = PGDataType(1005)
    public static let int4Array = PGDataType(1007)
    public static let textArray = PGDataType(1009)
    public static let bpcharArray = PGDataType(1014)
    public static let varcharArray = PGDataType(1015)
    public static let int8Array = PGDataType(1016)
    public static let float4Array = PGDataType(1021)
    public static let float8Array = PGDataType(1022)
    public static let oidArray = PGDataType(1028)
    public static let moneyArray = PGDataType(791)
    public static let numericArray = PGDataType(1231)
    public static let dateArray = PGDataType(1182)
    public static let timeArray = PGDataType(1183)
    public static let timestampArray = PGDataType(1115)
    public static let timestamptzArray = PGDataType(1185)
    public static let intervalArray = PGDataType(1187)
    public static let uuidArray = PGDataType(2951)
    public static let jsonArray = PGDataType(199)
    public static let jsonbArray = PGDataType(3807)
    public static let inetArray = PGDataType(1041)
    public static let cidrArray = PGDataType(651)
    public static let int4rangeArray = PGDataType(3905)
    public static let numrangeArray = PGDataType(3907)
    public static let tsrangeArray = PGDataType(3909)
    public static let tstzrangeArray = PGDataType(3911)
    public static let daterangeArray = PGDataType(3913)
    public static let int8rangeArray = PGDataType(3927)

    public var description: String {
        switch self {
        case .bool: "bool"
        case .bytea: "bytea"
        case .char: "char"
        case .name: "name"
        case .int8: "int8"
        case .int2: "int2"
        case .int4: "int4"
        case .text: "text"
        case .oid: "oid"
        case .json: "json"
        case .float4: "float4"
        case .float8: "float8"
        case .money: "money"
        case .bpchar: "bpchar"
        case .varchar: "varchar"
        case .date: "date"
        case .time: "time"
        case .timestamp: "timestamp"
        case .timestamptz: "timestamptz"
        case .interval: "interval"
        case .numeric: "numeric"
        case .uuid: "uuid"
        case .jsonb: "jsonb"
        case .void: "void"
        case .timetz: "timetz"
        case .inet: "inet"
        case .cidr: "cidr"
        case .int4range: "int4range"
        case .numrange: "numrange"
        case .tsrange: "tsrange"
        case .tstzrange: "tstzrange"
        case .daterange: "daterange"
        case .int8range: "int8range"
        default:
            if let element = PGDataType.arrayElementTypes[self] { "\(element)[]" } else { "oid \(rawValue)" }
        }
    }
}

extension PGDataType {
    /// Array type → element type, for the built-in array types Tusk knows.
    static let arrayElementTypes: [PGDataType: PGDataType] = [
        .boolArray: .bool, .byteaArray: .bytea, .charArray: .char, .nameArray: .name, .int2Array: .int2,
        .int4Array: .int4, .textArray: .text, .bpcharArray: .bpchar, .varcharArray: .varchar, .int8Array: .int8,
        .float4Array: .float4, .float8Array: .float8, .oidArray: .oid, .moneyArray: .money, .numericArray: .numeric,
        .dateArray: .date, .timeArray: .time, .timestampArray: .timestamp, .timestamptzArray: .timestamptz,
        .intervalArray: .interval, .uuidArray: .uuid, .jsonArray: .json, .jsonbArray: .jsonb, .inetArray: .inet,
        .cidrArray: .cidr, .int4rangeArray: .int4range, .numrangeArray: .numrange, .tsrangeArray: .tsrange,
        .tstzrangeArray: .tstzrange, .daterangeArray: .daterange, .int8rangeArray: .int8range,
        PGDataType(1270): .timetz,
    ]

    /// Range type → bound (subtype) type, for the built-in range types.
    static let rangeBoundTypes: [PGDataType: PGDataType] = [
        .int4range: .int4, .int8range: .int8, .numrange: .numeric, .tsrange: .timestamp,
        .tstzrange: .timestamptz, .daterange: .date,
    ]

    /// The element type when this is a built-in array type Tusk knows (`int4[]` → `int4`), else nil.
    ///
    /// ```swift
    /// PGDataType.int4Array.arrayElementType // .int4
    /// ```
    public var arrayElementType: PGDataType? { PGDataType.arrayElementTypes[self] }
}

/// The wire format of a value: text or binary.
public enum PGFormat: Int16, Sendable, Hashable {
    case text = 0
    case binary = 1
}

/// A Swift value that can be sent to the server as a bound parameter.
///
/// ```swift
/// struct Celsius: PGEncodable {
///     var value: Double
///     static var pgDataType: PGDataType { .float8 }
///     static var pgFormat: PGFormat { .binary }
///     func encode(into buffer: inout PGWriteBuffer) throws { try value.encode(into: &buffer) }
/// }
/// ```
public protocol PGEncodable: Sendable {
    /// The server type this value is sent as (`.unspecified` lets the server infer it; use text format then).
    static var pgDataType: PGDataType { get }
    /// The format `encode(into:)` writes.
    static var pgFormat: PGFormat { get }
    /// Writes the value's bytes (without the length prefix).
    func encode(into buffer: inout PGWriteBuffer) throws
    /// The type, per value (defaults to `pgDataType`; arrays and optionals override).
    var pgDataTypeOfValue: PGDataType { get }
    /// A server type name to resolve to an OID once per connection when `pgDataType` is `.unspecified`
    /// (user-defined types); nil (the default) lets the server infer the type.
    static var pgResolvableTypeName: String? { get }
    /// True when this value is SQL NULL (only `Optional.none`).
    var pgIsNull: Bool { get }
}

extension PGEncodable {
    @inlinable public var pgDataTypeOfValue: PGDataType { Self.pgDataType }
    @inlinable public static var pgResolvableTypeName: String? { nil }
    @inlinable public var pgIsNull: Bool { false }
}

/// A Swift value that can be decoded from a column value the server sent.
///
/// ```swift
/// let n = try Int(pgBytes: [0, 0, 0, 42][...], type: .int4, format: .binary)
/// ```
public protocol PGDecodable: Sendable {
    /// Decodes a non-NULL value. `bytes` are the field's bytes without the length prefix.
    /// Throws `PGError` with code `.decoding` when the type or bytes do not fit.
    init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws
    /// The value SQL NULL decodes to; nil (the default) means NULL is a decoding error for this type.
    static var pgNullValue: Self? { get }
}

extension PGDecodable {
    @inlinable public static var pgNullValue: Self? { nil }
}

/// Both directions.
public typealias PGCodable = PGEncodable & PGDecodable

extension Optional: PGEncodable where Wrapped: PGEncodable {
    public static var pgDataType: PGDataType { Wrapped.pgDataType }
    public static var pgFormat: PGFormat { Wrapped.pgFormat }
    public func encode(into buffer: inout PGWriteBuffer) throws {
        if let value = self { try value.encode(into: &buffer) }
    }
    public var pgDataTypeOfValue: PGDataType { self?.pgDataTypeOfValue ?? Wrapped.pgDataType }
    public static var pgResolvableTypeName: String? { Wrapped.pgResolvableTypeName }
    public var pgIsNull: Bool { self == nil }
}

extension Optional: PGDecodable where Wrapped: PGDecodable {
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        self = .some(try Wrapped(pgBytes: bytes, type: type, format: format))
    }
    public static var pgNullValue: Wrapped?? { .some(nil) }
}
