// Byte codecs: [UInt8] and Data (bytea).
//
// Text format accepts both of Postgres' bytea outputs: hex ("\x0aff") and the legacy escape
// format ("a\\b\001", bytea_output = 'escape').

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension PGCodec {
    /// Decodes a `bytea` field (binary: the raw bytes; text: hex or escape format).
    @usableFromInline
    static func decodeBytea(
        _ bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat, swiftType: Any.Type
    ) throws(PGError) -> [UInt8] {
        guard type == .bytea else { throw unsupportedType(swiftType, type: type, format: format) }
        switch format {
        case .binary:
            return Array(bytes)
        case .text:
            let decoded = bytes.starts(with: [UInt8(ascii: "\\"), UInt8(ascii: "x")])
                ? decodeByteaHex(bytes.dropFirst(2))
                : decodeByteaEscape(bytes)
            guard let decoded else {
                throw invalidValue(swiftType, type: type, format: format, bytes: bytes, reason: "malformed bytea text")
            }
            return decoded
        }
    }

    /// "0aff…" (after the "\x" prefix) to bytes; nil on an odd length or a non-hex digit.
    static func decodeByteaHex(_ hex: ArraySlice<UInt8>) -> [UInt8]? {
        guard hex.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(hex.count / 2)
        var i = hex.startIndex
        while i < hex.endIndex {
            guard let hi = hexValue(hex[i]), let lo = hexValue(hex[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    /// Escape format: "\\" is a backslash, "\ooo" an octal byte, anything else itself.
    static func decodeByteaEscape(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(text.count)
        var i = text.startIndex
        let backslash = UInt8(ascii: "\\")
        while i < text.endIndex {
            let c = text[i]
            guard c == backslash else {
                out.append(c)
                i += 1
                continue
            }
            if i + 1 < text.endIndex, text[i + 1] == backslash {
                out.append(backslash)
                i += 2
                continue
            }
            guard i + 3 < text.endIndex else { return nil }
            let d0 = text[i + 1] &- UInt8(ascii: "0")
            let d1 = text[i + 2] &- UInt8(ascii: "0")
            let d2 = text[i + 3] &- UInt8(ascii: "0")
            guard d0 < 4, d1 < 8, d2 < 8 else { return nil }
            out.append(d0 << 6 | d1 << 3 | d2)
            i += 4
        }
        return out
    }
}

/// A type whose Swift arrays `[Self]` are sent and received as one Postgres value.
///
/// `UInt8` conforms, which makes `[UInt8]` a `bytea` codec. The `Array` conformances to
/// `PGEncodable`/`PGDecodable` are routed through this protocol so that array codecs for other
/// element types (`[Int32]` as `int4[]`, …) can be added by conforming those element types,
/// without a second, conflicting `Array` conformance.
///
/// ```swift
/// let bytes: [UInt8] = [0xDE, 0xAD]
/// var buffer = PGWriteBuffer()
/// try bytes.encode(into: &buffer) // bytea, 2 bytes
/// ```
public protocol PGArrayElement: Sendable {
    /// The server type of `[Self]`.
    static var pgArrayDataType: PGDataType { get }
    /// The format `pgEncodeArray` writes.
    static var pgArrayFormat: PGFormat { get }
    /// Writes `[Self]` as one value (without the length prefix).
    static func pgEncodeArray(_ elements: [Self], into buffer: inout PGWriteBuffer) throws
    /// Decodes one non-NULL value into `[Self]`; throws a `.decoding` `PGError` when it does not fit.
    static func pgDecodeArray(_ bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws -> [Self]
}

extension Array: PGEncodable where Element: PGArrayElement {
    public static var pgDataType: PGDataType { Element.pgArrayDataType }
    public static var pgFormat: PGFormat { Element.pgArrayFormat }

    @inlinable
    public func encode(into buffer: inout PGWriteBuffer) throws {
        try Element.pgEncodeArray(self, into: &buffer)
    }
}

extension Array: PGDecodable where Element: PGArrayElement {
    @inlinable
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        self = try Element.pgDecodeArray(bytes, type: type, format: format)
    }
}

/// `[UInt8]` is `bytea`.
///
/// ```swift
/// let raw = try [UInt8](pgBytes: Array(#"\xdead"#.utf8)[...], type: .bytea, format: .text) // [0xDE, 0xAD]
/// ```
extension UInt8: PGArrayElement {
    public static var pgArrayDataType: PGDataType { .bytea }
    public static var pgArrayFormat: PGFormat { .binary }

    @inlinable
    public static func pgEncodeArray(_ elements: [UInt8], into buffer: inout PGWriteBuffer) {
        buffer.writeBytes(elements)
    }

    /// Decodes `bytea`: raw bytes in binary format; hex (`\x…`) or escape format in text.
    @inlinable
    public static func pgDecodeArray(_ bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws -> [UInt8] {
        if format == .binary, type == .bytea { return Array(bytes) }
        return try PGCodec.decodeBytea(bytes, type: type, format: format, swiftType: [UInt8].self)
    }
}

/// `Data` is `bytea`.
///
/// ```swift
/// let data = try Data(pgBytes: [1, 2, 3][...], type: .bytea, format: .binary) // 3 bytes
/// ```
extension Data: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { .bytea }
    public static var pgFormat: PGFormat { .binary }

    public func encode(into buffer: inout PGWriteBuffer) {
        buffer.writeBytes(self)
    }

    /// Decodes `bytea`: raw bytes in binary format; hex (`\x…`) or escape format in text.
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        if format == .binary, type == .bytea {
            self = Data(bytes)
            return
        }
        self = Data(try PGCodec.decodeBytea(bytes, type: type, format: format, swiftType: Data.self))
    }
}
