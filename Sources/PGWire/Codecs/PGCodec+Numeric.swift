// Numeric codecs: PGNumeric (exact) and Decimal (Foundation), both `numeric`, binary or text.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension PGCodec {
    /// Decodes a `numeric` field (binary or text) into its exact form.
    static func decodeNumeric(
        _ bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat, swiftType: Any.Type
    ) throws(PGError) -> PGNumeric {
        let storage: PGNumeric.Storage?
        switch (type, format) {
        case (.numeric, .binary): storage = PGNumeric.decodeBinary(bytes)
        case (.numeric, .text), (.int2, .text), (.int4, .text), (.int8, .text): storage = PGNumeric.parse(bytes)
        case (.int2, .binary), (.int4, .binary), (.int8, .binary):
            return PGNumeric(try decodeInteger(bytes, type: type, format: format, as: Int64.self))
        default: throw unsupportedType(swiftType, type: type, format: format)
        }
        guard let storage else {
            throw invalidValue(swiftType, type: type, format: format, bytes: bytes, reason: "malformed numeric")
        }
        return PGNumeric(storage: storage)
    }
}

/// `PGNumeric` is sent as `numeric` in binary format; it decodes `numeric` and the integer types.
///
/// ```swift
/// let n = try PGNumeric(pgBytes: Array("-0.001".utf8)[...], type: .numeric, format: .text)
/// ```
extension PGNumeric: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { .numeric }
    public static var pgFormat: PGFormat { .binary }

    public func encode(into buffer: inout PGWriteBuffer) {
        encodeBinary(into: &buffer)
    }

    /// Decodes `numeric` (binary or text), or an integer column.
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        self = try PGCodec.decodeNumeric(bytes, type: type, format: format, swiftType: PGNumeric.self)
    }
}

extension PGNumeric {
    /// The value of a `Decimal` (`Decimal.nan` becomes NaN).
    ///
    /// ```swift
    /// PGNumeric(Decimal(string: "2.50")!).description // "2.5"
    /// ```
    public init(_ decimal: Decimal) {
        if decimal.isNaN {
            self = .nan
            return
        }
        // Decimal prints plain digits ("-0.00123", "12300"), always valid numeric input.
        self = PGNumeric(decimal.description) ?? .nan
    }

    /// The value as a `Decimal` (NaN for NaN); nil for the infinities, or when Decimal's 38 digits
    /// cannot hold the value within its exponent range.
    ///
    /// ```swift
    /// PGNumeric("12.5")?.decimal // 12.5
    /// ```
    public var decimal: Decimal? {
        switch storage {
        case .nan: return .nan
        case .infinity, .negativeInfinity: return nil
        case .finite(let negative, let weight, _, let digits):
            // Build the significand from the first 36 decimal digits (Decimal holds 38); later digits are dropped.
            var value = Decimal(0)
            var usedDigits = 0
            var exponent = (Int(weight) + 1) * 4
            for d in digits {
                guard usedDigits < 36 else { break }
                value = value * 10_000 + Decimal(Int(d))
                usedDigits += 4
                exponent -= 4
            }
            guard !value.isNaN, exponent > -128, exponent < 127 else { return nil }
            let result = Decimal(sign: negative ? .minus : .plus, exponent: exponent, significand: value)
            return result.isNaN ? nil : result
        }
    }
}

/// `Decimal` is sent as `numeric` (binary format). NaN is supported; the numeric infinities cannot
/// be decoded into `Decimal` (use `PGNumeric`), and digits beyond the 36th significant one are dropped.
///
/// ```swift
/// let d = try Decimal(pgBytes: Array("123.456".utf8)[...], type: .numeric, format: .text)
/// try await connection.query("SELECT $1::numeric", [Decimal(string: "0.1")!])
/// ```
extension Decimal: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { .numeric }
    public static var pgFormat: PGFormat { .binary }

    public func encode(into buffer: inout PGWriteBuffer) {
        PGNumeric(self).encodeBinary(into: &buffer)
    }

    /// Decodes `numeric` (binary or text) or an integer column; throws for ±Infinity or values beyond Decimal's range.
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        let numeric = try PGCodec.decodeNumeric(bytes, type: type, format: format, swiftType: Decimal.self)
        guard let value = numeric.decimal else { throw PGCodec.outOfRange(Decimal.self, type: type) }
        self = value
    }
}
