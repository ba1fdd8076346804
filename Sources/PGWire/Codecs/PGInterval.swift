// PGInterval: Postgres' `interval` (months, days, microseconds kept apart, as the server does).

/// A Postgres `interval`: months, days and microseconds, kept apart as the server keeps them
/// (a month is not a fixed number of days, nor a day a fixed number of hours across DST changes).
///
/// ```swift
/// let i = PGInterval(months: 14, days: 3, microseconds: 4 * 3_600_000_000)
/// print(i) // 1 year 2 mons 3 days 04:00:00
/// let rows = try await connection.query("SELECT now() + $1::interval", [i])
/// ```
public struct PGInterval: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Whole months (years are 12 months).
    public var months: Int32
    /// Whole days.
    public var days: Int32
    /// Microseconds (hours, minutes, seconds).
    public var microseconds: Int64

    /// Creates an interval from its three parts.
    public init(months: Int32 = 0, days: Int32 = 0, microseconds: Int64 = 0) {
        self.months = months
        self.days = days
        self.microseconds = microseconds
    }

    /// An interval of whole and fractional seconds, rounded to the microsecond (months and days zero).
    ///
    /// ```swift
    /// PGInterval(seconds: 90.5).description // "00:01:30.5"
    /// ```
    public init(seconds: Double) {
        let us = (seconds * 1e6).rounded()
        self.init(microseconds: us.magnitude < 9.2e18 ? Int64(us) : (us < 0 ? .min : .max))
    }

    /// The interval as Postgres prints it with the default `IntervalStyle` (postgres).
    public var description: String {
        String(decoding: PGCodec.renderInterval(self), as: UTF8.self)
    }
}

extension PGCodec {
    /// IntervalStyle 'postgres' output, as Postgres' `EncodeInterval`.
    static func renderInterval(_ value: PGInterval) -> [UInt8] {
        var out: [UInt8] = []
        var isZero = true
        var isBefore = false
        func part(_ v: Int64, _ unit: String) {
            guard v != 0 else { return }
            if !isZero { out.append(UInt8(ascii: " ")) }
            if isBefore, v > 0 { out.append(UInt8(ascii: "+")) }
            out.append(contentsOf: "\(v) \(unit)\(v != 1 ? "s" : "")".utf8)
            isBefore = v < 0
            isZero = false
        }
        part(Int64(value.months / 12), "year")
        part(Int64(value.months % 12), "mon")
        part(Int64(value.days), "day")
        if isZero || value.microseconds != 0 {
            if !isZero { out.append(UInt8(ascii: " ")) }
            if value.microseconds < 0 {
                out.append(UInt8(ascii: "-"))
            } else if isBefore {
                out.append(UInt8(ascii: "+"))
            }
            renderTimeOfDay(value.microseconds, into: &out)
        }
        return out
    }

    /// Parses IntervalStyle 'postgres' and 'postgres_verbose' output ("1 year -2 mons +3 days -04:05:06.5",
    /// "@ 1 day 2 hours ago"); nil when malformed or out of range.
    static func parseInterval(_ text: ArraySlice<UInt8>) -> PGInterval? {
        if text.first == UInt8(ascii: "P") { return parseISOInterval(text.dropFirst()) }
        var months: Int64 = 0
        var days: Int64 = 0
        var micros: Int64 = 0
        var sawAny = false
        var ago = false
        let words = text.split(separator: UInt8(ascii: " "))
        var i = 0
        while i < words.count {
            let word = words[i]
            i += 1
            if equals(word, "@") { continue }
            if equals(word, "ago") {
                ago = true
                continue
            }
            if word.contains(UInt8(ascii: ":")) {
                var body = word
                var negative = false
                if let first = body.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
                    negative = first == UInt8(ascii: "-")
                    body = body.dropFirst()
                }
                var s = PGDateTextScanner(body)
                guard let us = parseTimeOfDay(&s, maxHour: Int.max / 3_600_000_000), s.isAtEnd else { return nil }
                guard case let (sum, false) = micros.addingReportingOverflow(negative ? -us : us) else { return nil }
                micros = sum
                sawAny = true
                continue
            }
            // "<number> <unit>"; the number may carry a fraction only for seconds.
            guard i < words.count else { return nil }
            let unit = String(decoding: words[i].map { $0 | 0x20 }, as: UTF8.self)
            i += 1
            var numberText = word
            var fraction: Int64 = 0
            if let dot = word.firstIndex(of: UInt8(ascii: ".")) {
                numberText = word[..<dot]
                var digits = Array(word[(dot + 1)...].prefix(6))
                guard digits.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) else { return nil }
                while digits.count < 6 { digits.append(UInt8(ascii: "0")) }
                fraction = parseDecimal(digits[...], as: Int64.self) ?? 0
                if word.first == UInt8(ascii: "-") { fraction = -fraction }
            }
            guard let n = parseDecimal(numberText, as: Int64.self) else { return nil }
            let usPer: Int64?
            switch unit {
            case "year", "years": usPer = nil; months &+= n &* 12
            case "mon", "mons", "month", "months": usPer = nil; months &+= n
            case "day", "days": usPer = nil; days &+= n
            case "hour", "hours": usPer = 3_600_000_000
            case "min", "mins", "minute", "minutes": usPer = 60_000_000
            case "sec", "secs", "second", "seconds": usPer = 1_000_000
            default: return nil
            }
            if let usPer {
                guard case let (p, false) = n.multipliedReportingOverflow(by: usPer),
                    case let (sum, false) = micros.addingReportingOverflow(p &+ (usPer == 1_000_000 ? fraction : 0))
                else { return nil }
                micros = sum
            } else if fraction != 0 {
                return nil
            }
            sawAny = true
        }
        guard sawAny, let m = Int32(exactly: ago ? -months : months), let d = Int32(exactly: ago ? -days : days) else {
            return nil
        }
        return PGInterval(months: m, days: d, microseconds: ago ? 0 &- micros : micros)
    }
}

extension PGCodec {
    /// Parses IntervalStyle 'iso_8601' output after the "P": "1Y2M3DT4H5M6.789S", "-1DT2H3M", "T0S".
    static func parseISOInterval(_ text: ArraySlice<UInt8>) -> PGInterval? {
        var months: Int64 = 0
        var days: Int64 = 0
        var micros: Int64 = 0
        var inTime = false
        var i = text.startIndex
        var sawAny = false
        while i < text.endIndex {
            if text[i] == UInt8(ascii: "T"), !inTime {
                inTime = true
                i += 1
                continue
            }
            let start = i
            if text[i] == UInt8(ascii: "-") || text[i] == UInt8(ascii: "+") { i += 1 }
            while i < text.endIndex, text[i] &- UInt8(ascii: "0") < 10 || text[i] == UInt8(ascii: ".") { i += 1 }
            guard i < text.endIndex, i > start else { return nil }
            let number = text[start..<i]
            let designator = text[i]
            i += 1
            var whole = number
            var fraction: Int64 = 0
            if let dot = number.firstIndex(of: UInt8(ascii: ".")) {
                guard inTime, designator == UInt8(ascii: "S") else { return nil }
                whole = number[..<dot]
                var digits = Array(number[(dot + 1)...].prefix(6))
                guard !digits.isEmpty, digits.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) else { return nil }
                while digits.count < 6 { digits.append(UInt8(ascii: "0")) }
                fraction = parseDecimal(digits[...], as: Int64.self) ?? 0
                if number.first == UInt8(ascii: "-") { fraction = -fraction }
            }
            guard let n = parseDecimal(whole, as: Int64.self) ?? (whole == [UInt8(ascii: "-")] ? 0 : nil) else { return nil }
            let usPer: Int64
            switch (inTime, designator) {
            case (false, UInt8(ascii: "Y")): months &+= n &* 12; sawAny = true; continue
            case (false, UInt8(ascii: "M")): months &+= n; sawAny = true; continue
            case (false, UInt8(ascii: "W")): days &+= n &* 7; sawAny = true; continue
            case (false, UInt8(ascii: "D")): days &+= n; sawAny = true; continue
            case (true, UInt8(ascii: "H")): usPer = 3_600_000_000
            case (true, UInt8(ascii: "M")): usPer = 60_000_000
            case (true, UInt8(ascii: "S")): usPer = 1_000_000
            default: return nil
            }
            guard case let (p, false) = n.multipliedReportingOverflow(by: usPer),
                case let (withFraction, false) = p.addingReportingOverflow(fraction),
                case let (sum, false) = micros.addingReportingOverflow(withFraction)
            else { return nil }
            micros = sum
            sawAny = true
        }
        guard sawAny, let m = Int32(exactly: months), let d = Int32(exactly: days) else { return nil }
        return PGInterval(months: m, days: d, microseconds: micros)
    }
}

/// `PGInterval` is sent as `interval` (binary: microseconds, days, months).
///
/// ```swift
/// let i = try PGInterval(pgBytes: Array("-1 days +02:03:00".utf8)[...], type: .interval, format: .text)
/// // PGInterval(months: 0, days: -1, microseconds: 7_380_000_000)
/// ```
extension PGInterval: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { .interval }
    public static var pgFormat: PGFormat { .binary }

    public func encode(into buffer: inout PGWriteBuffer) {
        buffer.writeInteger(microseconds)
        buffer.writeInteger(days)
        buffer.writeInteger(months)
    }

    /// Decodes `interval` in binary or text format (IntervalStyle postgres, the default, postgres_verbose or iso_8601).
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        guard type == .interval else { throw PGCodec.unsupportedType(PGInterval.self, type: type, format: format) }
        switch format {
        case .binary:
            guard bytes.count == 16 else {
                throw PGCodec.wrongLength(PGInterval.self, type: type, length: bytes.count, expected: 16)
            }
            self.init(
                months: PGCodec.loadBigEndian(bytes.dropFirst(12), as: Int32.self),
                days: PGCodec.loadBigEndian(bytes.dropFirst(8), as: Int32.self),
                microseconds: PGCodec.loadBigEndian(bytes, as: Int64.self))
        case .text:
            guard let value = PGCodec.parseInterval(bytes) else {
                throw PGCodec.invalidValue(PGInterval.self, type: type, format: format, bytes: bytes)
            }
            self = value
        }
    }
}
