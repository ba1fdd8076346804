// PGDate: a calendar day, the Swift side of Postgres' `date`.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A calendar day without a time or time zone: Postgres' `date`.
///
/// Years are astronomical (proleptic Gregorian): 1 BC is year 0, 2 BC is year -1.
/// The initializer does not validate; encoding an impossible day (month 13, February 30) throws.
///
/// ```swift
/// let d = PGDate(year: 2024, month: 2, day: 29)
/// print(d)            // 2024-02-29
/// let midnight = d.date // 2024-02-29 00:00:00 UTC
/// let today = PGDate(Date())
/// ```
public struct PGDate: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    /// The year (astronomical numbering: 0 is 1 BC).
    public var year: Int
    /// The month, 1...12.
    public var month: Int
    /// The day of the month, 1...31.
    public var day: Int

    /// Creates a day from its parts, without validating them.
    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// The UTC calendar day that contains `date`.
    ///
    /// ```swift
    /// PGDate(Date(timeIntervalSince1970: 0)) // 1970-01-01
    /// ```
    public init(_ date: Date) {
        // Clamped to about ±270 million years so that absurd or NaN dates cannot trap.
        var daysSince2001 = (date.timeIntervalSinceReferenceDate / 86_400).rounded(.down)
        if !daysSince2001.isFinite || daysSince2001.magnitude > 1e11 {
            daysSince2001 = daysSince2001.isNaN ? 0 : (daysSince2001 < 0 ? -1e11 : 1e11)
        }
        let (year, month, day) = PGCodec.civil(unixDays: Int(daysSince2001) + PGCodec.unixDaysAt2000 + 366)
        self.init(year: year, month: month, day: day)
    }

    /// Midnight UTC at the start of this day.
    public var date: Date {
        let days = PGCodec.unixDays(year: year, month: month, day: day) &- PGCodec.unixDaysAt2000 &- 366
        return Date(timeIntervalSinceReferenceDate: Double(days) * 86_400)
    }

    /// True when the parts name a real day (month 1...12, day within the month).
    public var isValid: Bool { PGCodec.isValidCivil(year: year, month: month, day: day) }

    /// "YYYY-MM-DD", as Postgres prints it (years before 1 AD with a " BC" suffix).
    public var description: String {
        func pad(_ n: Int, _ width: Int) -> String {
            let s = String(n)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        let bc = year <= 0
        return "\(pad(bc ? 1 - year : year, 4))-\(pad(month, 2))-\(pad(day, 2))\(bc ? " BC" : "")"
    }

    public static func < (lhs: PGDate, rhs: PGDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    /// Days since 2000-01-01 (Postgres' binary form); nil when invalid or beyond `date`'s range.
    var daysSince2000: Int32? {
        // Postgres' date range: 4714-11-24 BC to 5874897-12-31.
        guard isValid, (-4713...5_874_897).contains(year) else { return nil }
        return Int32(exactly: PGCodec.unixDays(year: year, month: month, day: day) - PGCodec.unixDaysAt2000)
    }
}

/// `PGDate` is sent as `date`.
///
/// ```swift
/// let d = try PGDate(pgBytes: Array("2024-03-05".utf8)[...], type: .date, format: .text)
/// // PGDate(year: 2024, month: 3, day: 5)
/// ```
extension PGDate: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { .date }
    public static var pgFormat: PGFormat { .binary }

    /// Writes days since 2000-01-01; throws `.encoding` for an impossible day or one outside `date`'s range.
    public func encode(into buffer: inout PGWriteBuffer) throws {
        guard let days = daysSince2000 else {
            throw PGCodec.cannotEncode(PGDate.self, as: .date, reason: "not a real day within the date range")
        }
        buffer.writeInteger(days)
    }

    /// Decodes `date` in binary or text ("YYYY-MM-DD", optionally " BC") format.
    /// 'infinity' and '-infinity' cannot be represented and throw; decode those as `Date`.
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        guard type == .date else { throw PGCodec.unsupportedType(PGDate.self, type: type, format: format) }
        switch format {
        case .binary:
            guard bytes.count == 4 else {
                throw PGCodec.wrongLength(PGDate.self, type: type, length: bytes.count, expected: 4)
            }
            let days = PGCodec.loadBigEndian(bytes, as: Int32.self)
            guard days != .max, days != .min else {
                throw PGCodec.invalidValue(PGDate.self, type: type, format: format, bytes: bytes, reason: "infinite date")
            }
            let (year, month, day) = PGCodec.civil(unixDays: Int(days) + PGCodec.unixDaysAt2000)
            self.init(year: year, month: month, day: day)
        case .text:
            guard case .finite(let days, _, false) = PGCodec.parseDateTime(bytes) else {
                throw PGCodec.invalidValue(PGDate.self, type: type, format: format, bytes: bytes)
            }
            let (year, month, day) = PGCodec.civil(unixDays: days + PGCodec.unixDaysAt2000)
            self.init(year: year, month: month, day: day)
        }
    }
}
