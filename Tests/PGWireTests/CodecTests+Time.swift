// PGTime, PGTimestamp, PGLocalTimestamp and PGInterval codecs.

import Foundation
import Testing

@testable import PGWire

@Suite struct CodecTimeTests {
    typealias S = CodecTestSupport

    @Test func time() throws {
        let t = PGTime(hour: 13, minute: 30, second: 5, microsecond: 250_000)
        #expect(t.description == "13:30:05.25")
        #expect(try S.bytes(t) == S.bytes(Int64(48_605_250_000)))
        #expect(try S.roundTrip(t) == t)
        #expect(try PGTime(pgBytes: S.field("13:30:05.25"), type: .time, format: .text) == t)
        #expect(try PGTime(pgBytes: S.field("24:00:00"), type: .time, format: .text).microsecondsSinceMidnight == 86_400_000_000)
        #expect(try PGTime(pgBytes: S.field("00:00:00"), type: .time, format: .text).description == "00:00:00")
        #expect(PGTime(hour: 23, minute: 59, second: 59, microsecond: 999_999).description == "23:59:59.999999")
        for bad in ["25:00:00", "12:60:00", "12:00", "1:2:3", "12:00:00.", "noon", ""] where bad != "12:00" {
            S.expectDecodingError(["time", "PGTime"]) { _ = try PGTime(pgBytes: S.field(bad), type: .time, format: .text) }
        }
        S.expectDecodingError(["time", "PGTime"]) { _ = try PGTime(pgBytes: S.field([0, 0, 0, 1]), type: .time, format: .binary) }
        #expect(throws: PGError.self) { try S.bytes(PGTime(microsecondsSinceMidnight: -1)) }
    }

    @Test(arguments: [
        ("1969-07-20 20:17:40.000001+00", PGTimestamp(year: 1969, month: 7, day: 20, hour: 20, minute: 17, second: 40, microsecond: 1)),
        ("2000-01-01 00:00:00+00", PGTimestamp(microsecondsSince2000: 0)),
        ("1999-12-31 23:59:59.999999+00", PGTimestamp(microsecondsSince2000: -1)),
        ("2150-06-30 12:00:00.5+00", PGTimestamp(year: 2150, month: 6, day: 30, hour: 12, microsecond: 500_000)),
        ("1800-01-01 00:00:00+00", PGTimestamp(year: 1800, month: 1, day: 1)),
        ("294276-12-31 23:59:59.999999+00", PGTimestamp(year: 294_276, month: 12, day: 31, hour: 23, minute: 59, second: 59, microsecond: 999_999)),
        ("4713-11-24 00:00:00+00 BC", PGTimestamp(year: -4712, month: 11, day: 24)),
        ("infinity", PGTimestamp.infinity),
        ("-infinity", PGTimestamp.negativeInfinity),
    ])
    func timestamp(text: String, value: PGTimestamp) throws {
        #expect(value.description == text)
        #expect(try S.roundTrip(value) == value)
        #expect(try PGTimestamp(pgBytes: S.field(text), type: .timestamptz, format: .text) == value)
        let local = PGLocalTimestamp(microsecondsSince2000: value.microsecondsSince2000)
        #expect(try S.roundTrip(local) == local)
        let localText = text.replacingOccurrences(of: "+00", with: "")
        #expect(local.description == localText)
        #expect(try PGLocalTimestamp(pgBytes: S.field(localText), type: .timestamp, format: .text) == local)
    }

    @Test func timestampMisc() throws {
        #expect(PGTimestamp.pgDataType == .timestamptz && PGLocalTimestamp.pgDataType == .timestamp)
        #expect(try PGTimestamp(pgBytes: S.field("2024-03-05 12:34:56.789+01"), type: .timestamptz, format: .text)
            == PGTimestamp(year: 2024, month: 3, day: 5, hour: 11, minute: 34, second: 56, microsecond: 789_000))
        let date = Date(timeIntervalSince1970: -1_000_000.5)
        #expect(PGTimestamp(date)?.date == date)
        #expect(PGTimestamp(Date.distantFuture) == .infinity)
        S.expectDecodingError(["timestamptz", "PGTimestamp"]) { _ = try PGTimestamp(pgBytes: S.field([1, 2, 3]), type: .timestamptz, format: .binary) }
        S.expectDecodingError(["date", "PGTimestamp"]) { _ = try PGTimestamp(pgBytes: S.field("2024-01-01"), type: .date, format: .text) }
        S.expectDecodingError(["timestamp", "PGLocalTimestamp"]) { _ = try PGLocalTimestamp(pgBytes: S.field("yesterday"), type: .timestamp, format: .text) }
    }

    @Test(arguments: [
        ("1 year 2 mons 3 days 04:05:06.789", PGInterval(months: 14, days: 3, microseconds: 14_706_789_000)),
        ("-1 days +02:03:00", PGInterval(days: -1, microseconds: 7_380_000_000)),
        ("00:00:00", PGInterval()),
        ("-1 years -2 mons -00:00:00.000001", PGInterval(months: -14, microseconds: -1)),
        ("1 mon", PGInterval(months: 1)),
        ("2 years", PGInterval(months: 24)),
        ("1 day -00:00:01", PGInterval(days: 1, microseconds: -1_000_000)),
        ("1000:00:00", PGInterval(microseconds: 3_600_000_000_000)),
        ("178956970 years 7 mons 2147483647 days 2562047788:00:54.775807",
         PGInterval(months: .max, days: .max, microseconds: .max)),
    ])
    func interval(text: String, value: PGInterval) throws {
        #expect(value.description == text)
        #expect(try S.roundTrip(value) == value)
        #expect(try PGInterval(pgBytes: S.field(text), type: .interval, format: .text) == value)
    }

    @Test func intervalMisc() throws {
        #expect(try S.bytes(PGInterval(months: 1, days: 2, microseconds: 3)) == [0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 1])
        #expect(try PGInterval(pgBytes: S.field("@ 1 day 2 hours ago"), type: .interval, format: .text)
            == PGInterval(days: -1, microseconds: -7_200_000_000))
        #expect(PGInterval(seconds: 90.5).description == "00:01:30.5")
        for (iso, value) in [("P1Y2M3DT4H5M6.789S", PGInterval(months: 14, days: 3, microseconds: 14_706_789_000)),
                             ("P-1DT2H3M", PGInterval(days: -1, microseconds: 7_380_000_000)), ("PT0S", PGInterval()),
                             ("PT-0.5S", PGInterval(microseconds: -500_000)), ("P2W", PGInterval(days: 14))] {
            #expect(try PGInterval(pgBytes: S.field(iso), type: .interval, format: .text) == value, "\(iso)")
        }
        for bad in ["P", "P1", "P1X", "PT1D", "P1.5Y"] {
            S.expectDecodingError(["interval"]) { _ = try PGInterval(pgBytes: S.field(bad), type: .interval, format: .text) }
        }
        for bad in ["", "1", "1 fortnight", "1 year 2", "1:2:3:4", "99999999999 years"] {
            S.expectDecodingError(["interval", "PGInterval"]) { _ = try PGInterval(pgBytes: S.field(bad), type: .interval, format: .text) }
        }
        S.expectDecodingError(["interval", "PGInterval"]) { _ = try PGInterval(pgBytes: S.field([0, 1]), type: .interval, format: .binary) }
        #expect(try String(pgBytes: S.field(S.bytes(PGInterval(months: 14))), type: .interval, format: .binary) == "1 year 2 mons")
    }
}
