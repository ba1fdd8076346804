// Floating-point codecs: Float (float4), Double (float8; also decodes float4).
//
// Text format follows Postgres output: "1.5", "-0", "1e+100", "NaN", "Infinity", "-Infinity".

extension PGCodec {
    /// Parses Postgres' text form of a float4/float8 as `T`; nil when malformed.
    @usableFromInline
    static func parseFloat<T: BinaryFloatingPoint & LosslessStringConvertible>(
        _ bytes: ArraySlice<UInt8>, as: T.Type
    ) -> T? {
        if equals(bytes, "NaN") { return .nan }
        if equals(bytes, "Infinity") { return .infinity }
        if equals(bytes, "-Infinity") { return -.infinity }
        // Only digits, sign, '.', 'e'/'E' reach the standard parser (no "inf", "nan(…)", hex floats).
        guard !bytes.isEmpty else { return nil }
        for c in bytes {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"),
                UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"):
                continue
            default:
                return nil
            }
        }
        // ASCII only, and at most ~25 bytes: a small string, no allocation.
        return T(String(decoding: bytes, as: UTF8.self))
    }
}

/// `Float` is sent as `float4`.
///
/// ```swift
/// let x = try Float(pgBytes: Array("NaN".utf8)[...], type: .float4, format: .text) // .nan
/// ```
extension Float: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { .float4 }
    public static var pgFormat: PGFormat { .binary }

    @inlinable
    public func encode(into buffer: inout PGWriteBuffer) {
        buffer.writeInteger(bitPattern)
    }

    /// Decodes `float4` (binary or text).
    @inlinable
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        guard type == .float4 else { throw PGCodec.unsupportedType(Float.self, type: type, format: format) }
        switch format {
        case .binary:
            guard bytes.count == 4 else {
                throw PGCodec.wrongLength(Float.self, type: type, length: bytes.count, expected: 4)
            }
            self = Float(bitPattern: PGCodec.loadBigEndian(bytes, as: UInt32.self))
        case .text:
            guard let value = PGCodec.parseFloat(bytes, as: Float.self) else {
                throw PGCodec.invalidValue(Float.self, type: type, format: format, bytes: bytes)
            }
            self = value
        }
    }
}

/// `Double` is sent as `float8`, and also decodes from `float4`.
///
/// ```swift
/// let x = try Double(pgBytes: Array("-Infinity".utf8)[...], type: .float8, format: .text) // -.infinity
/// ```
extension Double: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { .float8 }
    public static var pgFormat: PGFormat { .binary }

    @inlinable
    public func encode(into buffer: inout PGWriteBuffer) {
        buffer.writeInteger(bitPattern)
    }

    /// Decodes `float8` or `float4` (binary or text). A `float4` is read as `Float` and widened,
    /// so binary and text results agree.
    @inlinable
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        switch (type, format) {
        case (.float8, .binary):
            guard bytes.count == 8 else {
                throw PGCodec.wrongLength(Double.self, type: type, length: bytes.count, expected: 8)
            }
            self = Double(bitPattern: PGCodec.loadBigEndian(bytes, as: UInt64.self))
        case (.float8, .text):
            guard let value = PGCodec.parseFloat(bytes, as: Double.self) else {
                throw PGCodec.invalidValue(Double.self, type: type, format: format, bytes: bytes)
            }
            self = value
        case (.float4, .binary):
            guard bytes.count == 4 else {
                throw PGCodec.wrongLength(Double.self, type: type, length: bytes.count, expected: 4)
            }
            self = Double(Float(bitPattern: PGCodec.loadBigEndian(bytes, as: UInt32.self)))
        case (.float4, .text):
            guard let value = PGCodec.parseFloat(bytes, as: Float.self) else {
                throw PGCodec.invalidValue(Double.self, type: type, format: format, bytes: bytes)
            }
            self = Double(value)
        default:
            throw PGCodec.unsupportedType(Double.self, type: type, format: format)
        }
    }
}
