// Calendar arithmetic and the ISO text parser shared by the Date and PGDate codecs.
//
// Postgres counts from 2000-01-01 00:00:00 UTC: timestamps in microseconds (Int64), dates in days
// (Int32), with the extreme values meaning 'infinity' / '-infinity'. Foundation counts seconds
// (Double) from 2001-01-01, 366 days later.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension PGCodec {
    static let microsecondsPerDay: Int64 = 86_400_000_000
    /// 2000-01-01 is day 10957 of the Unix epoch.
    static let unixDaysAt2000 = 10_957
    /// Microseconds from 2000-01-01 to 2001-01-01 (Foundation's reference date): 366 days.
    static let microseconds2000To2001: Int64 = 366 * microsecondsPerDay

    // MARK: Civil calendar (proleptic Gregorian, astronomical years: 1 BC is year 0)

    /// Days since 1970-01-01 of a civil date (H. Hinnant's `days_from_civil`); wrapping, never traps.
    static func unixDays(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year &- 1 : year
        let era = (y >= 0 ? y : y &- 399) / 400
        let yoe = y &- era &* 400
        let mp = month > 2 ? month &- 3 : month &+ 9
        let doy = (153 &* mp &+ 2) / 5 &+ day &- 1
        let doe = yoe &* 365 &+ yoe / 4 &- yoe / 100 &+ doy
        return era &* 146_097 &+ doe &- 719_468
    }

    /// The civil date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
    static func civil(unixDays: Int) -> (year: Int, month: Int, day: Int) {
        let z = unixDays &+ 719_468
        let era = (z >= 0 ? z : z &- 146_096) / 146_097
        let doe = z &- era &* 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe &+ era &* 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y &+ 1 : y, m, d)
    }

    /// True when year/month/day name a real day.
    static func isValidCivil(year: Int, month: Int, day: Int) -> Bool {
        guard (1...12).contains(month), day >= 1 else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return day <= lengths[month - 1]
    }

    // MARK: Date <-> microseconds since 2000

    /// The `Date` of a timestamp; `Int64.max`/`.min` ('infinity'/'-infinity') map to `distantFuture`/`distantPast`.
    static func date(microsecondsSince2000 us: Int64) -> Date {
        if us == .max { return .distantFuture }
        if us == .min { return .distantPast }
        // Integer subtraction first keeps microsecond precision for dates near the reference date.
        let (sinceReference, overflow) = us.subtractingReportingOverflow(microseconds2000To2001)
        if overflow { return Date(timeIntervalSinceReferenceDate: Double(us) / 1e6 - 31_622_400) }
        return Date(timeIntervalSinceReferenceDate: Double(sinceReference) / 1e6)
    }

    /// The timestamp of a `Date`, rounded to the microsecond; `distantFuture`/`distantPast` map to 'infinity'/'-infinity'.
    static func microsecondsSince2000(_ date: Date) throws(PGError) -> Int64 {
        if date == .distantFuture { return .max }
        if date == .distantPast { return .min }
        let micros = (date.timeIntervalSinceReferenceDate * 1e6).rounded()
        // The comparison is false for NaN; 9.2e18 is just below Int64.max.
        guard micros.magnitude < 9.2e18,
            case let (us, false) = Int64(micros).addingReportingOverflow(microseconds2000To2001)
        else {
            throw cannotEncode(Date.self, as: .timestamptz, reason: "the date is outside the timestamp range")
        }
        return us
    }

    // MARK: Text (DateStyle ISO)

    /// A parsed ISO date/timestamp as Postgres prints it.
    enum DateTimeText {
        case negativeInfinity
        case infinity
        /// Days since 2000-01-01 of the date part, and the UTC instant in microseconds since 2000
        /// (nil beyond the Int64 range, which a `date` can reach).
        case finite(days: Int, microseconds: Int64?, hasTime: Bool)
    }

    /// Parses "2024-03-05", "2024-03-05 12:34:56.789", "2024-03-05 12:34:56.789+01",
    /// "1900-01-01 00:00:00+00:19:32", "0044-03-15 BC", "infinity", "-infinity".
    static func parseDateTime(_ text: ArraySlice<UInt8>) -> DateTimeText? {
        if equals(text, "infinity") { return .infinity }
        if equals(text, "-infinity") { return .negativeInfinity }
        var s = PGDateTextScanner(text)
        guard var year = s.digits(1...7), s.take("-"), let month = s.digits(2...2), s.take("-"),
            let day = s.digits(2...2)
        else { return nil }
        var hasTime = false
        var timeOfDay: Int64 = 0
        var offsetSeconds = 0
        if s.peek == UInt8(ascii: " "), s.peek(at: 1).map({ $0 &- UInt8(ascii: "0") < 10 }) == true {
            s.skip()
            guard let h = s.digits(2...2), s.take(":"), let m = s.digits(2...2), s.take(":"), let sec = s.digits(2...2),
                h <= 24, m <= 59, sec <= 60
            else { return nil }
            var fraction = 0
            if s.take(".") {
                let start = s.index
                guard let f = s.digits(1...6) else { return nil }
                fraction = f
                for _ in (s.index - start)..<6 { fraction *= 10 }
            }
            timeOfDay = Int64((h * 60 + m) * 60 + sec) * 1_000_000 + Int64(fraction)
            hasTime = true
            if let sign = s.peek, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                s.skip()
                guard let oh = s.digits(2...2) else { return nil }
                var offset = oh * 3600
                if s.take(":") {
                    guard let om = s.digits(2...2) else { return nil }
                    offset += om * 60
                    if s.take(":") {
                        guard let os = s.digits(2...2) else { return nil }
                        offset += os
                    }
                }
                offsetSeconds = sign == UInt8(ascii: "-") ? -offset : offset
            }
        }
        if s.take(" ") {
            guard s.take("B"), s.take("C"), year >= 1 else { return nil }
            year = 1 - year
        }
        guard s.isAtEnd, isValidCivil(year: year, month: month, day: day) else { return nil }
        let days = unixDays(year: year, month: month, day: day) - unixDaysAt2000
        let (dayMicros, o1) = Int64(days).multipliedReportingOverflow(by: microsecondsPerDay)
        let (local, o2) = dayMicros.addingReportingOverflow(timeOfDay)
        let (utc, o3) = local.subtractingReportingOverflow(Int64(offsetSeconds) * 1_000_000)
        return .finite(days: days, microseconds: o1 || o2 || o3 ? nil : utc, hasTime: hasTime)
    }
}

/// A forward-only reader over ASCII bytes for the date parser.
struct PGDateTextScanner {
    let bytes: ArraySlice<UInt8>
    var index: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    var isAtEnd: Bool { index >= bytes.endIndex }
    var peek: UInt8? { isAtEnd ? nil : bytes[index] }
    func peek(at offset: Int) -> UInt8? { index + offset < bytes.endIndex ? bytes[index + offset] : nil }
    mutating func skip() { index += 1 }

    /// Consumes `c` when it is next.
    mutating func take(_ c: Unicode.Scalar) -> Bool {
        guard peek == UInt8(ascii: c) else { return false }
        index += 1
        return true
    }

    /// Reads a run of decimal digits whose length is in `count` (the longest run, at most its upper bound).
    mutating func digits(_ count: ClosedRange<Int>) -> Int? {
        var value = 0
        var n = 0
        while n < count.upperBound, let c = peek, c &- UInt8(ascii: "0") < 10 {
            value = value * 10 + Int(c &- UInt8(ascii: "0"))
            n += 1
            index += 1
        }
        return n >= count.lowerBound ? value : nil
    }
}
