// Integer codecs: Int16 (int2), Int32 (int4), Int64 (int8), Int (int8).
//
// Each integer type decodes from any of int2, int4, int8 and oid, in binary or text format,
// and throws when the value does not fit (an int8 of 70000 into Int16).

extension PGCodec {
    /// Decodes an integer column (int2, int4, int8, oid; binary or text) into `T`, checking its range.
    @inlinable
    static func decodeInteger<T: FixedWidthInteger>(
        _ bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat, as: T.Type = T.self
    ) throws(PGError) -> T {
        switch format {
        case .binary:
            let expected: Int
            switch type {
            case .int2: expected = 2
            case .int4, .oid: expected = 4
            case .int8: expected = 8
            default: throw unsupportedType(T.self, type: type, format: format)
            }
            guard bytes.count == expected else {
                throw wrongLength(T.self, type: type, length: bytes.count, expected: expected)
            }
            let value: T?
            switch expected {
            case 2: value = T(exactly: loadBigEndian(bytes, as: Int16.self))
            case 8: value = T(exactly: loadBigEndian(bytes, as: Int64.self))
            default:
                value = type == .oid
                    ? T(exactly: loadBigEndian(bytes, as: UInt32.self))
                    : T(exactly: loadBigEndian(bytes, as: Int32.self))
            }
            guard let value else { throw outOfRange(T.self, type: type) }
            return value
        case .text:
            switch type {
            case .int2, .int4, .int8, .oid: break
            default: throw unsupportedType(T.self, type: type, format: format)
            }
            guard let value = parseDecimal(bytes, as: T.self) else {
                throw invalidValue(T.self, type: type, format: format, bytes: bytes, reason: "not an integer in range")
            }
            return value
        }
    }
}

/// `Int16` is sent as `int2`.
///
/// ```swift
/// let n = try Int16(pgBytes: [0x00, 0x2A][...], type: .int2, format: .binary) // 42
/// ```
extension Int16: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { .int2 }
    public static var pgFormat: PGFormat { .binary }

    @inlinable
    public func encode(into buffer: inout PGWriteBuffer) {
        buffer.writeInteger(self)
    }

    /// Decodes from int2, int4, int8 or oid (binary or text), throwing when the value does not fit.
    @inlinable
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        if format == .binary, type == .int2, bytes.count == 2 {
            self = PGCodec.loadBigEndian(bytes)
            return
        }
        self = try PGCodec.decodeInteger(bytes, type: type, format: format)
    }
}

/// `Int32` is sent as `int4`.
///
/// ```swift
/// let n = try Int32(pgBytes: [0, 0, 0, 42][...], type: .int4, format: .binary) // 42
/// let m = try Int32(pgBytes: Array("-7".utf8)[...], type: .int4, format: .text) // -7
/// ```
extension Int32: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { .int4 }
    public static var pgFormat: PGFormat { .binary }

    @inlinable
    public func encode(into buffer: inout PGWriteBuffer) {
        buffer.writeInteger(self)
    }

    /// Decodes from int2, int4, int8 or oid (binary or text), throwing when the value does not fit.
    @inlinable
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        if format == .binary, type == .int4, bytes.count == 4 {
            self = PGCodec.loadBigEndian(bytes)
            return
        }
        self = try PGCodec.decodeInteger(bytes, type: type, format: format)
    }
}

/// `Int64` is sent as `int8`.
///
/// ```swift
/// let n = try Int64(pgBytes: [0, 0, 0, 0, 0, 0, 0, 42][...], type: .int8, format: .binary) // 42
/// ```
extension Int64: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { .int8 }
    public static var pgFormat: PGFormat { .binary }

    @inlinable
    public func encode(into buffer: inout PGWriteBuffer) {
        buffer.writeInteger(self)
    }

    /// Decodes from int2, int4, int8 or oid (binary or text).
    @inlinable
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        if format == .binary, type == .int8, bytes.count == 8 {
            self = PGCodec.loadBigEndian(bytes)
            return
        }
        self = try PGCodec.decodeInteger(bytes, type: type, format: format)
    }
}

/// `Int` is sent as `int8` and decodes from int2, int4, int8 or oid.
///
/// ```swift
/// var buffer = PGWriteBuffer()
/// 42.encode(into: &buffer)                                        // 8 bytes, big-endian
/// let n = try Int(pgBytes: [0, 0, 0, 42][...], type: .int4, format: .binary) // 42
/// ```
extension Int: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { .int8 }
    public static var pgFormat: PGFormat { .binary }

    @inlinable
    public func encode(into buffer: inout PGWriteBuffer) {
        buffer.writeInteger(Int64(self))
    }

    /// Decodes from int2, int4, int8 or oid (binary or text), throwing when the value does not fit.
    @inlinable
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        if format == .binary {
            if type == .int8, bytes.count == 8, let value = Int(exactly: PGCodec.loadBigEndian(bytes, as: Int64.self)) {
                self = value
                return
            }
            if type == .int4, bytes.count == 4 {
                self = Int(PGCodec.loadBigEndian(bytes, as: Int32.self))
                return
            }
        }
        self = try PGCodec.decodeInteger(bytes, type: type, format: format)
    }
}
