// PGMoney, enums (PGEnum) and user-defined types (PGCustomType).

/// A Postgres `money` value, kept as the server's text (its format depends on the server's
/// `lc_monetary`, e.g. "$1,234.50" or "1 234,50 €"). Sent in text format as `money`.
///
/// ```swift
/// try await connection.execute("INSERT INTO prices(amount) VALUES ($1)", [PGMoney("12.34")])
/// let m = try row.decode(PGMoney.self, column: "amount").text // "$12.34"
/// ```
public struct PGMoney: Sendable, Hashable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The amount as text.
    public var text: String

    /// Creates an amount from text the server can parse ("12.34", "-5", "$1,000.00").
    public init(_ text: String) { self.text = text }

    public init(stringLiteral value: String) { self.text = value }

    public var description: String { text }
}

extension PGMoney: PGEncodable, PGDecodable, PGArrayScalar {
    public static var pgDataType: PGDataType { .money }
    public static var pgFormat: PGFormat { .text }

    public func encode(into buffer: inout PGWriteBuffer) {
        buffer.writeString(text)
    }

    /// Decodes `money` in text format, or in binary format (an Int64 of cents, rendered with two decimals).
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        guard type == .money else { throw PGCodec.unsupportedType(PGMoney.self, type: type, format: format) }
        switch format {
        case .text:
            self.text = try PGCodec.decodeText(bytes, type: type, format: format, swiftType: PGMoney.self)
        case .binary:
            guard bytes.count == 8 else { throw PGCodec.wrongLength(PGMoney.self, type: type, length: bytes.count, expected: 8) }
            let cents = PGCodec.loadBigEndian(bytes, as: Int64.self)
            var out: [UInt8] = cents < 0 ? [UInt8(ascii: "-")] : []
            out.append(contentsOf: String(cents.magnitude / 100).utf8)
            out.append(UInt8(ascii: "."))
            PGCodec.appendPadded(&out, cents.magnitude % 100, width: 2)
            self.text = String(decoding: out, as: UTF8.self)
        }
    }
}

/// A Swift enum with `String` raw values mapped to a Postgres enum type. Values are sent as text with
/// an unspecified type, so the server infers the enum type from the statement (`$1::mood`, or the
/// column in `INSERT … VALUES ($1)`); arrays of them are sent as text arrays (`$1::mood[]`).
///
/// ```swift
/// // CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')
/// enum Mood: String, PGEnum { case sad, ok, happy }
/// try await connection.execute("INSERT INTO people(name, mood) VALUES ($1, $2)", ["Ann", Mood.happy])
/// let mood = try row.decode(Mood.self, column: "mood")
/// let moods = try row.decode([Mood].self, column: "past_moods")
/// ```
public protocol PGEnum: RawRepresentable, PGArrayScalar where RawValue == String {}

extension PGEnum {
    public static var pgDataType: PGDataType { .unspecified }
    public static var pgFormat: PGFormat { .text }
    public static var pgArrayDataType: PGDataType { .unspecified }

    public func encode(into buffer: inout PGWriteBuffer) {
        buffer.writeString(rawValue)
    }

    /// Decodes the label (any type in text format; text-like types in binary); throws for an unknown label.
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        let label: String
        if format == .binary, type.description.hasPrefix("oid ") {
            // An enum's binary form is its label (enum_send).
            guard let s = PGCodec.utf8String(bytes) else {
                throw PGCodec.invalidValue(Self.self, type: type, format: format, bytes: bytes, reason: "invalid UTF-8")
            }
            label = s
        } else {
            label = try PGCodec.decodeText(bytes, type: type, format: format, swiftType: Self.self)
        }
        guard let value = Self(rawValue: label) else {
            throw PGCodec.invalidValue(Self.self, type: type, format: format, bytes: bytes, reason: "unknown enum label")
        }
        self = value
    }
}

/// A user-defined (or extension) server type whose OID is known: conform with that OID and your
/// own encode/decode. For types whose OID differs per database (extensions such as `hstore` or
/// `citext`, your `CREATE TYPE`s), `pgDataType` may stay `.unspecified` and the encoding text:
/// the server then infers the type from the statement. `pgTypeName` names the type for a
/// connection that resolves names to OIDs once (`SELECT to_regtype(name)::oid`).
///
/// ```swift
/// struct Point2D: PGCustomType {         // Postgres' built-in `point`, OID 600, binary: two float8
///     var x, y: Double
///     static var pgTypeName: String { "point" }
///     static var pgDataType: PGDataType { PGDataType(600) }
///     static var pgFormat: PGFormat { .binary }
///     func encode(into buffer: inout PGWriteBuffer) { buffer.writeInteger(x.bitPattern); buffer.writeInteger(y.bitPattern) }
///     init(x: Double, y: Double) { self.x = x; self.y = y }
///     init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
///         guard type == Self.pgDataType, format == .binary, bytes.count == 16 else {
///             throw PGError(code: .decoding, message: "cannot decode \(type) into Point2D")
///         }
///         x = try Double(pgBytes: bytes.prefix(8), type: .float8, format: .binary)
///         y = try Double(pgBytes: bytes.suffix(8), type: .float8, format: .binary)
///     }
/// }
/// ```
public protocol PGCustomType: PGEncodable, PGDecodable {
    /// The server type's name (optionally schema-qualified), for resolution to an OID per connection.
    static var pgTypeName: String { get }
}

extension PGCustomType {
    /// Unspecified unless the conforming type names its OID: the server infers the type.
    public static var pgDataType: PGDataType { .unspecified }
    /// Text unless the conforming type chooses binary.
    public static var pgFormat: PGFormat { .text }
    /// The name, resolved to an OID once per connection when `pgDataType` is `.unspecified`.
    public static var pgResolvableTypeName: String? { pgTypeName }
}
