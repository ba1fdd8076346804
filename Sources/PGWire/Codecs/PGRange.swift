// PGRange: Postgres' range types (int4range, int8range, numrange, tsrange, tstzrange, daterange).

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A type that can be the bound of a Postgres range, naming the range type it makes.
///
/// ```swift
/// extension Int16: PGRangeBound { ... } // not built in: Postgres has no int2range
/// ```
public protocol PGRangeBound: PGEncodable, PGDecodable {
    /// The range type whose bounds are `Self` (`int4range` for `Int32`).
    static var pgRangeDataType: PGDataType { get }
    /// The array type of that range type (`int4range[]`).
    static var pgRangeArrayDataType: PGDataType { get }
}

extension Int32: PGRangeBound {
    public static var pgRangeDataType: PGDataType { .int4range }
    public static var pgRangeArrayDataType: PGDataType { .int4rangeArray }
}
extension Int64: PGRangeBound {
    public static var pgRangeDataType: PGDataType { .int8range }
    public static var pgRangeArrayDataType: PGDataType { .int8rangeArray }
}
extension Int: PGRangeBound {
    public static var pgRangeDataType: PGDataType { .int8range }
    public static var pgRangeArrayDataType: PGDataType { .int8rangeArray }
}
extension PGNumeric: PGRangeBound {
    public static var pgRangeDataType: PGDataType { .numrange }
    public static var pgRangeArrayDataType: PGDataType { .numrangeArray }
}
extension Decimal: PGRangeBound {
    public static var pgRangeDataType: PGDataType { .numrange }
    public static var pgRangeArrayDataType: PGDataType { .numrangeArray }
}
extension PGLocalTimestamp: PGRangeBound {
    public static var pgRangeDataType: PGDataType { .tsrange }
    public static var pgRangeArrayDataType: PGDataType { .tsrangeArray }
}
extension PGTimestamp: PGRangeBound {
    public static var pgRangeDataType: PGDataType { .tstzrange }
    public static var pgRangeArrayDataType: PGDataType { .tstzrangeArray }
}
extension Date: PGRangeBound {
    public static var pgRangeDataType: PGDataType { .tstzrange }
    public static var pgRangeArrayDataType: PGDataType { .tstzrangeArray }
}
extension PGDate: PGRangeBound {
    public static var pgRangeDataType: PGDataType { .daterange }
    public static var pgRangeArrayDataType: PGDataType { .daterangeArray }
}

/// A Postgres range: empty, or a lower and an upper bound, each inclusive or exclusive, or absent (infinite).
///
/// Discrete ranges (`int4range`, `int8range`, `daterange`) come back from the server in canonical
/// form, `[lower, upper)`: `[1,10]` is returned as `[1,11)`.
///
/// ```swift
/// let r = PGRange<Int32>(lower: 1, upper: 10)              // [1,10)
/// let open = PGRange<PGTimestamp>(lower: .init(year: 2024, month: 1, day: 1), upper: nil) // [2024-01-01…,)
/// let rows = try await connection.query("SELECT $1::int4range @> 5", [r])
/// let empty = PGRange<Int32>.empty
/// ```
public struct PGRange<Bound: PGRangeBound>: Sendable {
    /// The lower bound; nil when unbounded (or when the range is empty).
    public var lower: Bound?
    /// The upper bound; nil when unbounded (or when the range is empty).
    public var upper: Bound?
    /// True when `lower` belongs to the range (ignored when `lower` is nil).
    public var lowerInclusive: Bool
    /// True when `upper` belongs to the range (ignored when `upper` is nil).
    public var upperInclusive: Bool
    /// True for the empty range.
    public var isEmpty: Bool

    /// Creates a non-empty range; by default `[lower, upper)`.
    public init(lower: Bound?, upper: Bound?, lowerInclusive: Bool = true, upperInclusive: Bool = false) {
        self.lower = lower
        self.upper = upper
        self.lowerInclusive = lowerInclusive && lower != nil
        self.upperInclusive = upperInclusive && upper != nil
        self.isEmpty = false
    }

    /// The empty range.
    public static var empty: PGRange<Bound> {
        var r = PGRange(lower: nil, upper: nil)
        r.isEmpty = true
        return r
    }
}

extension PGRange: Equatable where Bound: Equatable {}
extension PGRange: Hashable where Bound: Hashable {}

extension PGRange: CustomStringConvertible {
    /// Postgres' text form, e.g. "[1,10)", "(,5]", "empty" (bounds are not quoted).
    public var description: String {
        if isEmpty { return "empty" }
        let l = lower.map { "\($0)" } ?? ""
        let u = upper.map { "\($0)" } ?? ""
        return "\(lowerInclusive ? "[" : "(")\(l),\(u)\(upperInclusive ? "]" : ")")"
    }
}

extension PGRange {
    // Flag bits of the binary format (rangetypes.h).
    static var flagEmpty: UInt8 { 0x01 }
    static var flagLowerInclusive: UInt8 { 0x02 }
    static var flagUpperInclusive: UInt8 { 0x04 }
    static var flagLowerInfinite: UInt8 { 0x08 }
    static var flagUpperInfinite: UInt8 { 0x10 }
}

extension PGRange: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { Bound.pgRangeDataType }
    public static var pgFormat: PGFormat { Bound.pgFormat }

    /// Writes the range in the bound's format (binary: flags, then length-prefixed bounds).
    public func encode(into buffer: inout PGWriteBuffer) throws {
        if Bound.pgFormat == .text {
            buffer.writeString(try textForm())
            return
        }
        var flags: UInt8 = 0
        if isEmpty {
            buffer.writeInteger(Self.flagEmpty)
            return
        }
        if lower == nil { flags |= Self.flagLowerInfinite } else if lowerInclusive { flags |= Self.flagLowerInclusive }
        if upper == nil { flags |= Self.flagUpperInfinite } else if upperInclusive { flags |= Self.flagUpperInclusive }
        buffer.writeInteger(flags)
        for bound in [lower, upper] {
            guard let bound else { continue }
            let start = buffer.count
            buffer.writeInteger(Int32(0))
            try bound.encode(into: &buffer)
            buffer.setInt32(Int32(buffer.count - start - 4), at: start)
        }
    }

    /// The text form with bounds quoted (for text-format bounds).
    func textForm() throws -> String {
        if isEmpty { return "empty" }
        func quoted(_ b: Bound?) throws -> String {
            guard let b else { return "" }
            var buffer = PGWriteBuffer()
            try b.encode(into: &buffer)
            return PGCodec.quoteArrayText(buffer.bytes, always: true)
        }
        return "\(lowerInclusive ? "[" : "(")\(try quoted(lower)),\(try quoted(upper))\(upperInclusive ? "]" : ")")"
    }

    /// Decodes a range (binary or text); the bound type must match the range's subtype.
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        let boundType = PGDataType.rangeBoundTypes[type] ?? Bound.pgDataType
        guard PGDataType.rangeBoundTypes[type] != nil || type == Bound.pgRangeDataType else {
            throw PGCodec.unsupportedType(PGRange<Bound>.self, type: type, format: format)
        }
        func bad(_ reason: String) -> PGError {
            PGCodec.invalidValue(PGRange<Bound>.self, type: type, format: format, bytes: bytes, reason: reason)
        }
        switch format {
        case .binary:
            var cursor = PGReadCursor(bytes)
            guard let flags = cursor.readInteger(as: UInt8.self) else { throw bad("missing flags") }
            if flags & Self.flagEmpty != 0 {
                guard cursor.remaining == 0 else { throw bad("trailing bytes") }
                self = .empty
                return
            }
            func bound(_ infinite: UInt8) throws -> Bound? {
                guard flags & infinite == 0 else { return nil }
                guard let length = cursor.readInteger(as: Int32.self), let slice = cursor.readSlice(Int(length)) else {
                    throw bad("truncated bound")
                }
                return try Self.decodeBound(slice, type: type, boundType: boundType, format: .binary)
            }
            let lower = try bound(Self.flagLowerInfinite)
            let upper = try bound(Self.flagUpperInfinite)
            guard cursor.remaining == 0 else { throw bad("trailing bytes") }
            self.init(lower: lower, upper: upper, lowerInclusive: flags & Self.flagLowerInclusive != 0,
                      upperInclusive: flags & Self.flagUpperInclusive != 0)
        case .text:
            if PGCodec.equals(bytes, "empty") {
                self = .empty
                return
            }
            guard let parts = PGCodec.parseRangeText(bytes) else { throw bad("malformed range") }
            let lower = try parts.lower.map { try Self.decodeBound($0[...], type: type, boundType: boundType, format: .text) }
            let upper = try parts.upper.map { try Self.decodeBound($0[...], type: type, boundType: boundType, format: .text) }
            self.init(lower: lower, upper: upper, lowerInclusive: parts.lowerInclusive, upperInclusive: parts.upperInclusive)
        }
    }
}

extension PGRange {
    /// Decodes one bound, naming the range type in any error.
    static func decodeBound(_ bytes: ArraySlice<UInt8>, type: PGDataType, boundType: PGDataType, format: PGFormat) throws -> Bound {
        do {
            return try Bound(pgBytes: bytes, type: boundType, format: format)
        } catch var error as PGError {
            error.message = "\(type) bound into \(PGCodec.name(PGRange<Bound>.self)): \(error.message)"
            throw error
        }
    }
}

extension PGCodec {
    /// Splits range text "[a,b)" into its bounds, unquoting them (nil bound: infinite).
    static func parseRangeText(_ text: ArraySlice<UInt8>) -> (lower: [UInt8]?, upper: [UInt8]?, lowerInclusive: Bool, upperInclusive: Bool)? {
        guard let open = text.first, let close = text.last, text.count >= 3 else { return nil }
        guard open == UInt8(ascii: "[") || open == UInt8(ascii: "("), close == UInt8(ascii: "]") || close == UInt8(ascii: ")")
        else { return nil }
        var i = text.startIndex + 1
        let end = text.endIndex - 1
        func readBound(until stop: UInt8) -> [UInt8]?? {
            var out: [UInt8] = []
            var sawAny = false
            while i < end {
                let c = text[i]
                if c == stop { break }
                sawAny = true
                if c == UInt8(ascii: "\"") {
                    i += 1
                    while i < end, text[i] != UInt8(ascii: "\"") || (i + 1 < end && text[i + 1] == UInt8(ascii: "\"")) {
                        if text[i] == UInt8(ascii: "\\") || text[i] == UInt8(ascii: "\"") { i += 1 }
                        guard i < end else { return .none }
                        out.append(text[i])
                        i += 1
                    }
                    guard i < end else { return .none }
                    i += 1
                } else {
                    if c == UInt8(ascii: "\\") {
                        i += 1
                        guard i < end else { return .none }
                    }
                    out.append(text[i])
                    i += 1
                }
            }
            return .some(sawAny ? out : nil)
        }
        guard case .some(let lower) = readBound(until: UInt8(ascii: ",")), i < end, text[i] == UInt8(ascii: ",") else { return nil }
        i += 1
        guard case .some(let upper) = readBound(until: 0), i == end else { return nil }
        return (lower, upper, open == UInt8(ascii: "["), close == UInt8(ascii: "]"))
    }
}
