// PGTimestamp and PGLocalTimestamp: exact `timestamptz` and `timestamp` values (microseconds since 2000).

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An exact Postgres `timestamptz`: microseconds since 2000-01-01 00:00:00 UTC, with Postgres'
/// `infinity` and `-infinity`.
///
/// Unlike `Date` (a `Double` of seconds), it keeps every microsecond of any timestamp Postgres
/// can hold, from 4713 BC to 294276 AD. Decodes from `timestamptz` and `timestamp` (read as UTC).
///
/// ```swift
/// let t = PGTimestamp(year: 1969, month: 7, day: 20, hour: 20, minute: 17, second: 40, microsecond: 1)
/// print(t)            // 1969-07-20 20:17:40.000001+00
/// let rows = try await connection.query("SELECT $1::timestamptz", [t])
/// let date = t.date   // Foundation Date (rounded to Double precision)
/// ```
public struct PGTimestamp: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    /// Microseconds since 2000-01-01 00:00:00 UTC; `Int64.max` is 'infinity', `Int64.min` '-infinity'.
    public var microsecondsSince2000: Int64

    /// Creates a timestamp from Postgres' own count.
    public init(microsecondsSince2000: Int64) { self.microsecondsSince2000 = microsecondsSince2000 }

    /// Creates a UTC timestamp from civil parts (astronomical years: 0 is 1 BC); not validated.
    public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0, microsecond: Int = 0) {
        self.microsecondsSince2000 = PGCodec.microseconds(
            year: year, month: month, day: day, hour: hour, minute: minute, second: second, microsecond: microsecond)
    }

    /// The timestamp of a `Date`, rounded to the microsecond (`distantFuture`/`distantPast` are the
    /// infinities); nil outside the range of a 64-bit microsecond count.
    public init?(_ date: Date) {
        guard let us = try? PGCodec.microsecondsSince2000(date) else { return nil }
        self.microsecondsSince2000 = us
    }

    /// Postgres' 'infinity'.
    public static let infinity = PGTimestamp(microsecondsSince2000: .max)
    /// Postgres' '-infinity'.
    public static let negativeInfinity = PGTimestamp(microsecondsSince2000: .min)

    /// True for 'infinity' and '-infinity'.
    public var isInfinite: Bool { microsecondsSince2000 == .max || microsecondsSince2000 == .min }

    /// The `Date` (infinities map to `distantFuture`/`distantPast`).
    public var date: Date { PGCodec.date(microsecondsSince2000: microsecondsSince2000) }

    /// "YYYY-MM-DD HH:MM:SS[.ffffff]+00" (UTC), "infinity" or "-infinity".
    public var description: String {
        String(decoding: PGCodec.renderTimestamp(microsecondsSince2000, withZone: true), as: UTF8.self)
    }

    public static func < (lhs: PGTimestamp, rhs: PGTimestamp) -> Bool {
        lhs.microsecondsSince2000 < rhs.microsecondsSince2000
    }
}

/// An exact Postgres `timestamp` (without time zone): a wall-clock date and time in microseconds
/// since 2000-01-01 00:00:00, with `infinity` and `-infinity`. Use it for `timestamp` columns, so no
/// time zone conversion happens on the server.
///
/// ```swift
/// let t = PGLocalTimestamp(year: 2150, month: 1, day: 1, hour: 9)
/// try await connection.execute("INSERT INTO events(at) VALUES ($1)", [t])
/// ```
public struct PGLocalTimestamp: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    /// Microseconds since 2000-01-01 00:00:00; `Int64.max` is 'infinity', `Int64.min` '-infinity'.
    public var microsecondsSince2000: Int64

    /// Creates a timestamp from Postgres' own count.
    public init(microsecondsSince2000: Int64) { self.microsecondsSince2000 = microsecondsSince2000 }

    /// Creates a timestamp from civil parts (astronomical years: 0 is 1 BC); not validated.
    public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0, microsecond: Int = 0) {
        self.microsecondsSince2000 = PGCodec.microseconds(
            year: year, month: month, day: day, hour: hour, minute: minute, second: second, microsecond: microsecond)
    }

    /// Postgres' 'infinity'.
    public static let infinity = PGLocalTimestamp(microsecondsSince2000: .max)
    /// Postgres' '-infinity'.
    public static let negativeInfinity = PGLocalTimestamp(microsecondsSince2000: .min)

    /// True for 'infinity' and '-infinity'.
    public var isInfinite: Bool { microsecondsSince2000 == .max || microsecondsSince2000 == .min }

    /// "YYYY-MM-DD HH:MM:SS[.ffffff]", "infinity" or "-infinity".
    public var description: String {
        String(decoding: PGCodec.renderTimestamp(microsecondsSince2000, withZone: false), as: UTF8.self)
    }

    public static func < (lhs: PGLocalTimestamp, rhs: PGLocalTimestamp) -> Bool {
        lhs.microsecondsSince2000 < rhs.microsecondsSince2000
    }
}

extension PGCodec {
    /// Microseconds since 2000 of civil parts (wrapping arithmetic: never traps).
    static func microseconds(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, microsecond: Int) -> Int64 {
        let days = Int64(truncatingIfNeeded: unixDays(year: year, month: month, day: day) &- unixDaysAt2000)
        let seconds = Int64(truncatingIfNeeded: hour &* 3600 &+ minute &* 60 &+ second)
        return days &* microsecondsPerDay &+ seconds &* 1_000_000 &+ Int64(truncatingIfNeeded: microsecond)
    }

    /// Postgres' ISO text of a timestamp (UTC, with "+00" when `withZone`), BC years with a " BC" suffix.
    static func renderTimestamp(_ us: Int64, withZone: Bool) -> [UInt8] {
        if us == .max { return Array("infinity".utf8) }
        if us == .min { return Array("-infinity".utf8) }
        var days = us / microsecondsPerDay
        var timeOfDay = us % microsecondsPerDay
        if timeOfDay < 0 {
            days -= 1
            timeOfDay += microsecondsPerDay
        }
        let (year, month, day) = civil(unixDays: Int(days) + unixDaysAt2000)
        var out: [UInt8] = []
        out.reserveCapacity(32)
        appendPadded(&out, year <= 0 ? 1 - year : year, width: 4)
        out.append(UInt8(ascii: "-"))
        appendPadded(&out, month, width: 2)
        out.append(UInt8(ascii: "-"))
        appendPadded(&out, day, width: 2)
        out.append(UInt8(ascii: " "))
        renderTimeOfDay(timeOfDay, into: &out)
        if withZone { out.append(contentsOf: "+00".utf8) }
        if year <= 0 { out.append(contentsOf: " BC".utf8) }
        return out
    }

    /// Decodes `timestamp`/`timestamptz` (binary or ISO text) into microseconds since 2000 UTC.
    static func decodeTimestamp(
        _ bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat, swiftType: Any.Type
    ) throws(PGError) -> Int64 {
        guard type == .timestamp || type == .timestamptz else {
            throw unsupportedType(swiftType, type: type, format: format)
        }
        switch format {
        case .binary:
            guard bytes.count == 8 else { throw wrongLength(swiftType, type: type, length: bytes.count, expected: 8) }
            return loadBigEndian(bytes, as: Int64.self)
        case .text:
            switch parseDateTime(bytes) {
            case .infinity: return .max
            case .negativeInfinity: return .min
            case .finite(_, let us?, _): return us
            case .finite, nil: throw invalidValue(swiftType, type: type, format: format, bytes: bytes)
            }
        }
    }
}

/// `PGTimestamp` is sent as `timestamptz` (binary), exactly.
///
/// ```swift
/// let t = try PGTimestamp(pgBytes: Array("1900-01-01 00:00:00+00".utf8)[...], type: .timestamptz, format: .text)
/// ```
extension PGTimestamp: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { .timestamptz }
    public static var pgFormat: PGFormat { .binary }

    public func encode(into buffer: inout PGWriteBuffer) {
        buffer.writeInteger(microsecondsSince2000)
    }

    /// Decodes `timestamptz` or `timestamp` (read as UTC), binary or ISO text.
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        self.init(microsecondsSince2000: try PGCodec.decodeTimestamp(bytes, type: type, format: format, swiftType: PGTimestamp.self))
    }
}

/// `PGLocalTimestamp` is sent as `timestamp` (binary), exactly.
///
/// ```swift
/// let t = try PGLocalTimestamp(pgBytes: Array("2200-12-31 23:59:59.999999".utf8)[...], type: .timestamp, format: .text)
/// ```
extension PGLocalTimestamp: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { .timestamp }
    public static var pgFormat: PGFormat { .binary }

    public func encode(into buffer: inout PGWriteBuffer) {
        buffer.writeInteger(microsecondsSince2000)
    }

    /// Decodes `timestamp` or `timestamptz` (its UTC wall clock), binary or ISO text.
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        self.init(microsecondsSince2000: try PGCodec.decodeTimestamp(bytes, type: type, format: format, swiftType: PGLocalTimestamp.self))
    }
}
