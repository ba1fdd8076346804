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
        default: "oid \(rawValue)"
        }
    }
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
    /// True when this value is SQL NULL (only `Optional.none`).
    var pgIsNull: Bool { get }
}

extension PGEncodable {
    @inlinable public var pgDataTypeOfValue: PGDataType { Self.pgDataType }
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
    public var pgIsNull: Bool { self == nil }
}

extension Optional: PGDecodable where Wrapped: PGDecodable {
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        self = .some(try Wrapped(pgBytes: bytes, type: type, format: format))
    }
    public static var pgNullValue: Wrapped?? { .some(nil) }
}
