// JSON codecs: PGJSON<Value> (Codable through JSONEncoder/JSONDecoder) and PGJSONValue (raw JSON text).
//
// Both are sent as `jsonb` in binary format (a version byte 1, then the JSON text) and decode `json`
// and `jsonb` in either format. A `jsonb` parameter is accepted for `json` columns by assignment cast.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension PGCodec {
    /// The JSON text of a `json`/`jsonb` field (jsonb binary: after the version byte 1).
    static func jsonBytes(
        _ bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat, swiftType: Any.Type
    ) throws(PGError) -> ArraySlice<UInt8> {
        switch (type, format) {
        case (.json, _), (.jsonb, .text), (.text, _), (.varchar, _), (.pgUnknown, _):
            return bytes
        case (.jsonb, .binary):
            guard bytes.first == 1 else {
                throw invalidValue(swiftType, type: type, format: format, bytes: bytes, reason: "unsupported jsonb version")
            }
            return bytes.dropFirst()
        default:
            throw unsupportedType(swiftType, type: type, format: format)
        }
    }
}

/// A `Codable` value stored as JSON: sent as `jsonb`, decoded from `json` or `jsonb`.
///
/// ```swift
/// struct Settings: Codable, Sendable { var theme: String; var fontSize: Int }
/// try await connection.execute("UPDATE users SET settings = $1 WHERE id = $2",
///                              [PGJSON(Settings(theme: "dark", fontSize: 14)), 7])
/// let s = try row.decode(PGJSON<Settings>.self, column: "settings").value
/// ```
public struct PGJSON<Value: Codable & Sendable>: Sendable {
    /// The wrapped value.
    public var value: Value

    /// Wraps a value.
    public init(_ value: Value) { self.value = value }
}

extension PGJSON: Equatable where Value: Equatable {}
extension PGJSON: Hashable where Value: Hashable {}

extension PGJSON: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { .jsonb }
    public static var pgFormat: PGFormat { .binary }

    /// Writes the jsonb version byte and the value's JSON (`JSONEncoder` defaults); throws `.encoding` when it fails.
    public func encode(into buffer: inout PGWriteBuffer) throws {
        let data: Data
        do {
            data = try JSONEncoder().encode(value)
        } catch {
            throw PGError(code: .encoding, message: "cannot encode \(PGCodec.name(Value.self)) as jsonb: JSONEncoder failed",
                          underlying: "\(error)")
        }
        buffer.writeInteger(UInt8(1))
        buffer.writeBytes(data)
    }

    /// Decodes `json` or `jsonb` (binary or text) with `JSONDecoder`; the decoder's error goes to `underlying`.
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        let json = try PGCodec.jsonBytes(bytes, type: type, format: format, swiftType: PGJSON<Value>.self)
        do {
            value = try JSONDecoder().decode(Value.self, from: Data(json))
        } catch {
            throw PGError(code: .decoding,
                          message: "cannot decode \(type) (\(format) format) into \(PGCodec.name(PGJSON<Value>.self)): invalid JSON for the type",
                          underlying: "\(error)")
        }
    }
}

/// A JSON document as raw UTF-8 text, not parsed: sent as `jsonb`, decoded from `json` or `jsonb`.
///
/// The server validates it; `jsonb` results come back normalised (`{"a": 1}` with a space after `:`).
///
/// ```swift
/// let doc = PGJSONValue(#"{"tags": ["a", "b"]}"#)
/// let rows = try await connection.query("SELECT $1::jsonb -> 'tags'", [doc])
/// let tags = try row.decode(PGJSONValue.self, column: 0).text // ["a", "b"]
/// ```
public struct PGJSONValue: Sendable, Hashable, CustomStringConvertible {
    /// The JSON text's UTF-8 bytes.
    public var bytes: [UInt8]

    /// Creates a value from JSON text.
    public init(_ text: String) { self.bytes = Array(text.utf8) }

    /// Creates a value from the UTF-8 bytes of JSON text.
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// The JSON text (invalid UTF-8 is replaced; values decoded from the server are always valid).
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    public var description: String { text }
}

extension PGJSONValue: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { .jsonb }
    public static var pgFormat: PGFormat { .binary }

    public func encode(into buffer: inout PGWriteBuffer) {
        buffer.writeInteger(UInt8(1))
        buffer.writeBytes(bytes)
    }

    /// Decodes `json` or `jsonb` (binary or text); the text must be valid UTF-8.
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        let json = try PGCodec.jsonBytes(bytes, type: type, format: format, swiftType: PGJSONValue.self)
        guard PGCodec.utf8String(json) != nil else {
            throw PGCodec.invalidValue(PGJSONValue.self, type: type, format: format, bytes: bytes, reason: "invalid UTF-8")
        }
        self.bytes = Array(json)
    }
}
