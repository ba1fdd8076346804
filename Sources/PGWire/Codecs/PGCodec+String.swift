// String codecs: String (text) and PGTextValue (text format, server-inferred type).
//
// Text that is not valid UTF-8 is a decoding error; characters are never replaced.

extension PGDataType {
    /// `unknown`, the type of untyped literals such as `SELECT 'a'` on old servers.
    @usableFromInline static let pgUnknown = PGDataType(705)
    /// `xml`, sent as text in both formats.
    @usableFromInline static let pgXML = PGDataType(142)
}

extension PGCodec {
    /// The string of UTF-8 `bytes`, or nil when they are not valid UTF-8 (never replaces characters).
    ///
    /// Pure ASCII is checked 8 bytes at a time; other text is decoded and compared with its input.
    @usableFromInline
    static func utf8String(_ bytes: ArraySlice<UInt8>) -> String? {
        let isASCII = bytes.withUnsafeBytes { raw -> Bool in
            var high: UInt64 = 0
            var i = 0
            while i + 8 <= raw.count {
                high |= raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                i += 8
            }
            while i < raw.count {
                high |= UInt64(raw[i])
                i += 1
            }
            return high & 0x8080_8080_8080_8080 == 0
        }
        let decoded = String(decoding: bytes, as: UTF8.self)
        if isASCII { return decoded }
        // Decoding replaces each invalid sequence with U+FFFD, so the result's bytes equal the input's exactly
        // when the input was valid. (`String(validating:)` is generic and instantiates metadata on every call.)
        return decoded.utf8.count == bytes.count && decoded.utf8.elementsEqual(bytes) ? decoded : nil
    }

    /// Decodes UTF-8 text: any type in text format; in binary format types whose binary form is
    /// their text (text, varchar, name, bpchar, "char", json, xml, unknown), jsonb (version byte 1), and the
    /// types `renderBinary` renders as Postgres prints them (integers, numeric, dates and times, arrays, ranges…).
    @inlinable
    static func decodeText(
        _ bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat, swiftType: Any.Type
    ) throws(PGError) -> String {
        var text = bytes
        if format == .binary {
            switch type {
            case .text, .varchar, .name, .bpchar, .char, .json, .pgUnknown, .pgXML:
                break
            case .jsonb:
                guard text.first == 1 else {
                    throw invalidValue(swiftType, type: type, format: format, bytes: bytes, reason: "unsupported jsonb version")
                }
                text = text.dropFirst()
            default:
                guard rendersAsText(type), let rendered = renderBinary(bytes, type: type), let string = utf8String(rendered[...]) else {
                    throw unsupportedType(swiftType, type: type, format: format)
                }
                return string
            }
        }
        guard let string = utf8String(text) else {
            throw invalidValue(swiftType, type: type, format: format, bytes: bytes, reason: "invalid UTF-8")
        }
        return string
    }
}

/// `String` is sent as `text` (binary format: the UTF-8 bytes).
///
/// Decoding accepts the text form of any type (`SELECT now()` in a simple query decodes into
/// `String`) and, in binary format, text-like types plus `json`/`jsonb`.
///
/// ```swift
/// let s = try String(pgBytes: Array("héllo".utf8)[...], type: .text, format: .binary) // "héllo"
/// let n = try String(pgBytes: Array("42".utf8)[...], type: .int4, format: .text)      // "42"
/// ```
extension String: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { .text }
    public static var pgFormat: PGFormat { .binary }

    @inlinable
    public func encode(into buffer: inout PGWriteBuffer) {
        buffer.writeString(self)
    }

    /// Decodes UTF-8 text; throws a `.decoding` error on invalid UTF-8 or a binary non-text type.
    @inlinable
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        self = try PGCodec.decodeText(bytes, type: type, format: format, swiftType: String.self)
    }
}

/// A parameter sent in text format, with a type the server infers (or one you name).
///
/// Use it for server types Tusk has no binary codec for: the server parses the text exactly as it
/// would a literal in SQL.
///
/// ```swift
/// try await connection.query("SELECT $1::numeric * 2", [PGTextValue("12.50")])
/// try await connection.query("INSERT INTO t(range) VALUES ($1)", [PGTextValue("[1,10)", type: PGDataType(3904))])
/// ```
public struct PGTextValue: PGEncodable, PGDecodable, Hashable, Sendable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    /// The text the server parses.
    public var text: String
    /// The server type the value is declared as; `.unspecified` (the default) lets the server infer it.
    public var type: PGDataType

    /// Creates a text value, optionally declaring its server type.
    public init(_ text: String, type: PGDataType = .unspecified) {
        self.text = text
        self.type = type
    }

    /// Creates a text value whose type the server infers.
    public init(stringLiteral value: String) {
        self.init(value)
    }

    public static var pgDataType: PGDataType { .unspecified }
    public static var pgFormat: PGFormat { .text }
    public var pgDataTypeOfValue: PGDataType { type }

    public func encode(into buffer: inout PGWriteBuffer) {
        buffer.writeString(text)
    }

    /// Decodes the text form of any value (binary format: text-like types only), remembering its type.
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        self.text = try PGCodec.decodeText(bytes, type: type, format: format, swiftType: PGTextValue.self)
        self.type = type
    }

    public var description: String { text }
}
