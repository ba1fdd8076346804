// PGNumeric: an exact `numeric` value, kept in Postgres' own base-10000 form.

/// An exact Postgres `numeric`: any number of digits, its display scale, and the special values
/// `NaN`, `Infinity` and `-Infinity` (Postgres 14+).
///
/// Values are stored as Postgres stores them (base-10000 digits, a weight and a display scale), so
/// nothing is ever rounded: a 1000-digit value round-trips exactly. `description` is the text Postgres
/// prints (`"1.50"` keeps its scale; `"1e3"` becomes `"1000"`). Two values are equal when their text is,
/// so `1.5` and `1.50` differ here (Postgres compares them as equal).
///
/// ```swift
/// let price = PGNumeric("19.990")!      // exact, scale 3
/// let rows = try await connection.query("SELECT $1::numeric * 2", [price])
/// let doubled = try await rows.first!.decode(PGNumeric.self, column: 0) // 39.980
/// let big = PGNumeric(String(repeating: "9", count: 1000))!
/// ```
public struct PGNumeric: Sendable, Hashable, Codable, CustomStringConvertible, LosslessStringConvertible {
    enum Storage: Sendable, Hashable {
        case nan
        case infinity
        case negativeInfinity
        /// `digits` are base-10000 digits without leading or trailing zero digits; `weight` is the power
        /// of 10000 of the first one; `dscale` the number of decimal digits shown after the point.
        case finite(negative: Bool, weight: Int16, dscale: UInt16, digits: [Int16])
    }

    var storage: Storage

    init(storage: Storage) { self.storage = storage }

    /// Not a number.
    public static let nan = PGNumeric(storage: .nan)
    /// Positive infinity (Postgres 14+).
    public static let infinity = PGNumeric(storage: .infinity)
    /// Negative infinity (Postgres 14+).
    public static let negativeInfinity = PGNumeric(storage: .negativeInfinity)
    /// Zero, without fraction digits.
    public static let zero = PGNumeric(storage: .finite(negative: false, weight: 0, dscale: 0, digits: []))

    /// Parses a decimal number as Postgres' `numeric` input does: `"-12.50"`, `"1e-3"`, `".5"`, `"NaN"`,
    /// `"Infinity"`, `"-inf"`. Returns nil for anything else, or for a value beyond `numeric`'s range.
    ///
    /// ```swift
    /// PGNumeric("1.2e3")?.description // "1200"
    /// PGNumeric("abc")                // nil
    /// ```
    public init?(_ description: String) {
        guard let storage = PGNumeric.parse(Array(description.utf8)[...]) else { return nil }
        self.storage = storage
    }

    /// The exact value of an integer.
    ///
    /// ```swift
    /// PGNumeric(Int64.min).description // "-9223372036854775808"
    /// ```
    public init(_ value: some BinaryInteger) {
        // The decimal text of any integer is valid numeric input.
        self.storage = PGNumeric.parse(Array(String(value).utf8)[...]) ?? .nan
    }

    /// True for `NaN`.
    public var isNaN: Bool { storage == .nan }
    /// True for `Infinity` and `-Infinity`.
    public var isInfinite: Bool { storage == .infinity || storage == .negativeInfinity }
    /// True for every value except NaN and the infinities.
    public var isFinite: Bool { if case .finite = storage { true } else { false } }

    /// The number of decimal digits after the point that Postgres shows (0 for the special values).
    public var scale: Int { if case .finite(_, _, let dscale, _) = storage { Int(dscale) } else { 0 } }

    /// The text Postgres prints for this value.
    public var description: String {
        switch storage {
        case .nan: return "NaN"
        case .infinity: return "Infinity"
        case .negativeInfinity: return "-Infinity"
        case .finite(let negative, let weight, let dscale, let digits):
            return String(decoding: PGNumeric.render(negative: negative, weight: weight, dscale: dscale, digits: digits), as: UTF8.self)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = PGNumeric(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a numeric value")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension PGNumeric {
    /// The largest display scale Postgres stores (NUMERIC_DSCALE_MASK).
    static let maxScale = 0x3FFF

    /// Parses numeric input text; nil when malformed or out of range.
    static func parse(_ text: ArraySlice<UInt8>) -> Storage? {
        var i = text.startIndex
        let end = text.endIndex
        var negative = false
        if i < end, text[i] == UInt8(ascii: "-") || text[i] == UInt8(ascii: "+") {
            negative = text[i] == UInt8(ascii: "-")
            i += 1
        }
        let rest = text[i...]
        if rest.count >= 3, rest.count <= 8 {
            let lower = String(decoding: rest.map { $0 | 0x20 }, as: UTF8.self)
            if lower == "nan" { return i == text.startIndex ? .nan : nil }
            if lower == "infinity" || lower == "inf" { return negative ? .negativeInfinity : .infinity }
        }
        var digits: [UInt8] = []
        digits.reserveCapacity(rest.count)
        var integerCount = 0
        var fractionCount = 0
        var seenPoint = false
        while i < end {
            let c = text[i]
            if c &- UInt8(ascii: "0") < 10 {
                digits.append(c &- UInt8(ascii: "0"))
                if seenPoint { fractionCount += 1 } else { integerCount += 1 }
            } else if c == UInt8(ascii: "."), !seenPoint {
                seenPoint = true
            } else {
                break
            }
            i += 1
        }
        guard !digits.isEmpty else { return nil }
        var exponent = 0
        if i < end, text[i] == UInt8(ascii: "e") || text[i] == UInt8(ascii: "E") {
            i += 1
            guard let e = PGCodec.parseDecimal(text[i...], as: Int32.self), abs(Int(e)) <= 1_000_000 else { return nil }
            exponent = Int(e)
            i = end
        }
        guard i == end else { return nil }
        let dscale = max(0, fractionCount - exponent)
        guard dscale <= maxScale else { return nil }
        return make(negative: negative, decimalDigits: digits[...], pointPosition: integerCount + exponent, dscale: dscale)
    }

    /// Builds the base-10000 form of `decimalDigits` (0...9 each) with the decimal point after
    /// `pointPosition` digits (may be negative or beyond the end); nil when the weight does not fit.
    static func make(negative: Bool, decimalDigits: ArraySlice<UInt8>, pointPosition: Int, dscale: Int) -> Storage? {
        var digits = decimalDigits
        var point = pointPosition
        while let first = digits.first, first == 0 {
            digits = digits.dropFirst()
            point -= 1
        }
        while let last = digits.last, last == 0 { digits = digits.dropLast() }
        guard !digits.isEmpty else {
            return .finite(negative: false, weight: 0, dscale: UInt16(dscale), digits: [])
        }
        let leftPad = (4 - ((point % 4) + 4) % 4) % 4
        point += leftPad
        let weight = point / 4 - 1
        guard let weight16 = Int16(exactly: weight) else { return nil }
        var groups: [Int16] = []
        groups.reserveCapacity((leftPad + digits.count + 3) / 4)
        var group = 0
        var n = leftPad
        for d in digits {
            group = group * 10 + Int(d)
            n += 1
            if n == 4 {
                groups.append(Int16(group))
                group = 0
                n = 0
            }
        }
        if n > 0 {
            for _ in n..<4 { group *= 10 }
            groups.append(Int16(group))
        }
        while groups.last == 0 { groups.removeLast() }
        guard groups.count <= Int(Int16.max) else { return nil }
        return .finite(negative: negative, weight: weight16, dscale: UInt16(dscale), digits: groups)
    }

    /// The text of a finite value, as Postgres' `get_str_from_var` prints it.
    static func render(negative: Bool, weight: Int16, dscale: UInt16, digits: [Int16]) -> [UInt8] {
        var out: [UInt8] = []
        let weight = Int(weight)
        out.reserveCapacity(max(weight + 1, 1) * 4 + Int(dscale) + 2)
        if negative, !digits.isEmpty { out.append(UInt8(ascii: "-")) }
        func group(_ i: Int) -> Int { i >= 0 && i < digits.count ? Int(digits[i]) : 0 }
        func append4(_ g: Int) {
            out.append(UInt8(ascii: "0") + UInt8(g / 1000))
            out.append(UInt8(ascii: "0") + UInt8(g / 100 % 10))
            out.append(UInt8(ascii: "0") + UInt8(g / 10 % 10))
            out.append(UInt8(ascii: "0") + UInt8(g % 10))
        }
        if weight < 0 {
            out.append(UInt8(ascii: "0"))
        } else {
            out.append(contentsOf: String(group(0)).utf8)
            if weight >= 1 {
                for i in 1...weight { append4(group(i)) }
            }
        }
        if dscale > 0 {
            out.append(UInt8(ascii: "."))
            let target = out.count + Int(dscale)
            var i = weight + 1
            while out.count < target {
                append4(group(i))
                i += 1
            }
            out.removeLast(out.count - target)
        }
        return out
    }

    /// Sign words of the binary format.
    static let signPositive: UInt16 = 0x0000
    static let signNegative: UInt16 = 0x4000
    static let signNaN: UInt16 = 0xC000
    static let signInfinity: UInt16 = 0xD000
    static let signNegativeInfinity: UInt16 = 0xF000

    /// Decodes the binary format: ndigits, weight, sign, dscale (Int16 each), then the base-10000 digits.
    static func decodeBinary(_ bytes: ArraySlice<UInt8>) -> Storage? {
        var cursor = PGReadCursor(bytes)
        guard let ndigits = cursor.readInteger(as: Int16.self), let weight = cursor.readInteger(as: Int16.self),
            let sign = cursor.readInteger(as: UInt16.self), let dscale = cursor.readInteger(as: UInt16.self),
            ndigits >= 0, cursor.remaining == Int(ndigits) * 2
        else { return nil }
        switch sign {
        case signNaN: return ndigits == 0 ? .nan : nil
        case signInfinity: return ndigits == 0 ? .infinity : nil
        case signNegativeInfinity: return ndigits == 0 ? .negativeInfinity : nil
        case signPositive, signNegative: break
        default: return nil
        }
        guard Int(dscale) <= maxScale else { return nil }
        var digits: [Int16] = []
        digits.reserveCapacity(Int(ndigits))
        for _ in 0..<ndigits {
            guard let d = cursor.readInteger(as: Int16.self), (0...9999).contains(d) else { return nil }
            digits.append(d)
        }
        // Normalise (a sender may include zero digits at either end).
        var w = Int(weight)
        while digits.first == 0 {
            digits.removeFirst()
            w -= 1
        }
        while digits.last == 0 { digits.removeLast() }
        if digits.isEmpty { return .finite(negative: false, weight: 0, dscale: dscale, digits: []) }
        guard let w16 = Int16(exactly: w) else { return nil }
        return .finite(negative: sign == signNegative, weight: w16, dscale: dscale, digits: digits)
    }

    /// Writes the binary format.
    func encodeBinary(into buffer: inout PGWriteBuffer) {
        switch storage {
        case .nan, .infinity, .negativeInfinity:
            buffer.writeInteger(Int16(0))
            buffer.writeInteger(Int16(0))
            buffer.writeInteger(storage == .nan ? Self.signNaN : storage == .infinity ? Self.signInfinity : Self.signNegativeInfinity)
            buffer.writeInteger(UInt16(0))
        case .finite(let negative, let weight, let dscale, let digits):
            buffer.writeInteger(Int16(truncatingIfNeeded: digits.count))
            buffer.writeInteger(weight)
            buffer.writeInteger(negative && !digits.isEmpty ? Self.signNegative : Self.signPositive)
            buffer.writeInteger(dscale)
            for d in digits { buffer.writeInteger(d) }
        }
    }
}
