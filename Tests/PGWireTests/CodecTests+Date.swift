// Date (timestamptz, timestamp, date) and PGDate codecs.

import Foundation
import Testing

@testable import PGWire

@Suite struct CodecDateTests {
    typealias S = CodecTestSupport
    /// 2000-01-01 00:00:00 UTC, Postgres' epoch.
    static let pgEpoch = Date(timeIntervalSince1970: 946_684_800)

    static func micros(_ date: Date) throws -> Int64 {
        try Int64(pgBytes: S.field(S.bytes(date)), type: .int8, format: .binary)
    }

    static func text(_ s: String, _ type: PGDataType = .timestamptz) throws -> Date {
        try Date(pgBytes: S.field(s), type: type, format: .text)
    }

    @Test func knownBytes() throws {
        #expect(try S.bytes(Self.pgEpoch) == [0, 0, 0, 0, 0, 0, 0, 0])
        #expect(try Self.micros(Self.pgEpoch.addingTimeInterval(1)) == 1_000_000)
        #expect(try Self.micros(Self.pgEpoch.addingTimeInterval(-0.000_001)) == -1)
        #expect(try S.bytes(Date.distantFuture) == [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(try S.bytes(Date.distantPast) == [0x80, 0, 0, 0, 0, 0, 0, 0])
        #expect(Date.pgDataType == .timestamptz && Date.pgFormat == .binary)
    }

    @Test func microsecondPrecision() throws {
        // 2024-03-05 12:34:56.123456 UTC
        let us: Int64 = 762_957_296_123_456
        let date = try Date(pgBytes: S.field(S.bytes(us)), type: .timestamptz, format: .binary)
        #expect(try Self.micros(date) == us)
        #expect(date.timeIntervalSince1970 == 1_709_642_096.123456)
        #expect(try Self.text("2024-03-05 12:34:56.123456+00") == date)
        for offset: Int64 in [1, 7, 999_999, -1, -123_457] {
            let d = try Date(pgBytes: S.field(S.bytes(us + offset)), type: .timestamp, format: .binary)
            #expect(try Self.micros(d) == us + offset)
        }
    }

    @Test(arguments: [
        946_684_800.0, 0, -1, 1_709_638_496.789, -2_208_988_800, -3_772_526_399.5, 5_694_580_800.25,
        253_402_300_799, -62_135_596_800,
    ])
    func roundTrip(secondsSince1970: Double) throws {
        let date = Date(timeIntervalSince1970: secondsSince1970)
        #expect(try S.roundTrip(date) == date)
    }

    @Test func infinity() throws {
        #expect(try S.roundTrip(Date.distantFuture) == .distantFuture)
        #expect(try S.roundTrip(Date.distantPast) == .distantPast)
        #expect(try Self.text("infinity") == .distantFuture)
        #expect(try Self.text("-infinity") == .distantPast)
        #expect(try Self.text("infinity", .date) == .distantFuture)
        #expect(try Date(pgBytes: S.field([0x7F, 0xFF, 0xFF, 0xFF]), type: .date, format: .binary) == .distantFuture)
        #expect(try Date(pgBytes: S.field([0x80, 0, 0, 0]), type: .date, format: .binary) == .distantPast)
    }

    @Test func decodesTextAsPostgresPrintsIt() throws {
        #expect(try Self.text("2000-01-01 00:00:00+00") == Self.pgEpoch)
        #expect(try Self.text("2024-03-05 12:34:56.789+01") == Date(timeIntervalSince1970: 1_709_638_496.789))
        #expect(try Self.text("2024-03-05 12:34:56+05:30") == Date(timeIntervalSince1970: 1_709_622_296))
        #expect(try Self.text("2024-03-05 02:34:56-05") == Date(timeIntervalSince1970: 1_709_624_096))
        #expect(try Self.text("1900-01-01 00:00:00+00") == Date(timeIntervalSince1970: -2_208_988_800))
        // Local mean time offsets have seconds (Europe/Amsterdam before 1937).
        #expect(try Self.text("1900-01-01 00:00:00+00:19:32") == Date(timeIntervalSince1970: -2_208_988_800 - 1172))
        #expect(try Self.text("1900-01-01 00:00:00", .timestamp) == Date(timeIntervalSince1970: -2_208_988_800))
        #expect(try Self.text("2024-03-05 12:34:56.5", .timestamp) == Date(timeIntervalSince1970: 1_709_642_096.5))
        #expect(try Self.text("2024-03-05", .date) == Date(timeIntervalSince1970: 1_709_596_800))
        #expect(try Self.text("10000-01-01 00:00:00+00") == Date(timeIntervalSince1970: 253_402_300_800))
        // 1 BC is astronomical year 0: 0001-01-01 BC is 730485 days before 2000-01-01.
        #expect(try Self.text("0001-01-01 00:00:00+00 BC") == Self.pgEpoch.addingTimeInterval(-730_485 * 86_400))
    }

    @Test func textAndBinaryAgree() throws {
        let binary = try Date(pgBytes: S.field(S.bytes(Int64(762_957_296_123_456))), type: .timestamptz, format: .binary)
        #expect(try Self.text("2024-03-05 13:34:56.123456+01") == binary)
        let day = try Date(pgBytes: S.field(S.bytes(Int32(8830))), type: .date, format: .binary)
        #expect(try Self.text("2024-03-05", .date) == day)
    }

    @Test func rejectsBadInput() {
        for text in ["", "2024", "2024-3-05", "2024-03-05T12:34:56+00", "2024-02-30 00:00:00+00", "2024-13-01",
                     "2024-03-05 25:00:00+00", "2024-03-05 12:61:00+00", "2024-03-05 12:34:56.1234567+00",
                     "2024-03-05 12:34:56+1", "2024-03-05 12:34:56+00 AD", "0000-01-01 BC", "Infinity", "2024-03-05 "] {
            S.expectDecodingError(["timestamptz", "Date"]) { _ = try Self.text(text) }
        }
        S.expectDecodingError(["timestamptz", "4 bytes", "Date"]) {
            _ = try Date(pgBytes: S.field([0, 0, 0, 0]), type: .timestamptz, format: .binary)
        }
        S.expectDecodingError(["date", "8 bytes", "Date"]) {
            _ = try Date(pgBytes: S.field([0, 0, 0, 0, 0, 0, 0, 0]), type: .date, format: .binary)
        }
        S.expectDecodingError(["int8", "Date"]) { _ = try Date(pgBytes: S.field([0, 0, 0, 0, 0, 0, 0, 0]), type: .int8, format: .binary) }
        S.expectDecodingError(["time", "Date"]) { _ = try Self.text("12:00:00", .time) }
    }

    @Test func rejectsUnencodableDates() {
        for date in [Date(timeIntervalSinceReferenceDate: .nan), Date(timeIntervalSinceReferenceDate: .infinity),
                     Date(timeIntervalSinceReferenceDate: 1e300)] {
            let e = CodecTestSupport.error { _ = try CodecTestSupport.bytes(date) }
            #expect(e?.code == .encoding)
        }
    }
}

@Suite struct CodecPGDateTests {
    typealias S = CodecTestSupport

    @Test func knownBytes() throws {
        #expect(try S.bytes(PGDate(year: 2000, month: 1, day: 1)) == [0, 0, 0, 0])
        #expect(try S.bytes(PGDate(year: 2000, month: 1, day: 2)) == [0, 0, 0, 1])
        #expect(try S.bytes(PGDate(year: 1999, month: 12, day: 31)) == [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(try S.bytes(PGDate(year: 2024, month: 3, day: 5)) == S.bytes(Int32(8830)))
        #expect(try S.bytes(PGDate(year: 1900, month: 1, day: 1)) == S.bytes(Int32(-36524)))
        #expect(try S.bytes(PGDate(year: -43, month: 3, day: 15)) == S.bytes(Int32(-746_117)))
        #expect(PGDate.pgDataType == .date && PGDate.pgFormat == .binary)
    }

    @Test(arguments: [
        PGDate(year: 2000, month: 1, day: 1), PGDate(year: 2024, month: 2, day: 29), PGDate(year: 1900, month: 2, day: 28),
        PGDate(year: 1, month: 1, day: 1), PGDate(year: 0, month: 12, day: 31), PGDate(year: -4713, month: 11, day: 24),
        PGDate(year: 2150, month: 6, day: 15), PGDate(year: 9999, month: 12, day: 31), PGDate(year: 5_874_897, month: 12, day: 31),
    ])
    func roundTrip(value: PGDate) throws {
        #expect(try S.roundTrip(value) == value)
        #expect(PGDate(value.date) == value)
        #expect(try PGDate(pgBytes: S.field(value.description), type: .date, format: .text) == value)
    }

    @Test func conversionsWithDate() throws {
        let d = PGDate(year: 2024, month: 3, day: 5)
        #expect(d.date == Date(timeIntervalSince1970: 1_709_596_800))
        #expect(PGDate(Date(timeIntervalSince1970: 1_709_596_800 + 86_399.9)) == d)
        #expect(PGDate(Date(timeIntervalSince1970: 1_709_596_800 - 0.001)) == PGDate(year: 2024, month: 3, day: 4))
        #expect(PGDate(Date(timeIntervalSince1970: 0)) == PGDate(year: 1970, month: 1, day: 1))
        #expect(PGDate(Date(timeIntervalSince1970: -1)) == PGDate(year: 1969, month: 12, day: 31))
        // Never traps, whatever the Date.
        _ = PGDate(Date(timeIntervalSinceReferenceDate: .nan))
        _ = PGDate(Date(timeIntervalSinceReferenceDate: -.infinity))
        _ = PGDate(year: .max, month: 99, day: -5).date
    }

    @Test func decodesText() throws {
        #expect(try PGDate(pgBytes: S.field("2024-03-05"), type: .date, format: .text) == PGDate(year: 2024, month: 3, day: 5))
        #expect(try PGDate(pgBytes: S.field("0044-03-15 BC"), type: .date, format: .text) == PGDate(year: -43, month: 3, day: 15))
        #expect(try PGDate(pgBytes: S.field("10000-01-01"), type: .date, format: .text) == PGDate(year: 10000, month: 1, day: 1))
    }

    @Test func description() {
        #expect(PGDate(year: 2024, month: 3, day: 5).description == "2024-03-05")
        #expect(PGDate(year: 987, month: 12, day: 31).description == "0987-12-31")
        #expect(PGDate(year: -43, month: 3, day: 15).description == "0044-03-15 BC")
        #expect(PGDate(year: 2024, month: 1, day: 1) < PGDate(year: 2024, month: 1, day: 2))
        #expect(PGDate(year: 2023, month: 12, day: 31) < PGDate(year: 2024, month: 1, day: 1))
    }

    @Test func codable() throws {
        let d = PGDate(year: 2024, month: 3, day: 5)
        let json = try JSONEncoder().encode(d)
        #expect(try JSONDecoder().decode(PGDate.self, from: json) == d)
    }

    @Test func rejectsBadInput() {
        for date in [PGDate(year: 2023, month: 2, day: 29), PGDate(year: 2024, month: 13, day: 1), PGDate(year: 2024, month: 0, day: 1),
                     PGDate(year: 2024, month: 4, day: 31), PGDate(year: 6_000_000, month: 1, day: 1)] {
            #expect(!date.isValid || date.year > 5_874_897)
            let e = CodecTestSupport.error { _ = try CodecTestSupport.bytes(date) }
            #expect(e?.code == .encoding)
            #expect(e.map { !$0.description.contains("\(date.year)") } ?? false)
        }
        S.expectDecodingError(["date", "PGDate"]) { _ = try PGDate(pgBytes: S.field("infinity"), type: .date, format: .text) }
        S.expectDecodingError(["date", "PGDate"]) { _ = try PGDate(pgBytes: S.field([0x7F, 0xFF, 0xFF, 0xFF]), type: .date, format: .binary) }
        S.expectDecodingError(["date", "PGDate"]) {
            _ = try PGDate(pgBytes: S.field("2024-03-05 00:00:00"), type: .date, format: .text)
        }
        S.expectDecodingError(["date", "2 bytes", "PGDate"]) { _ = try PGDate(pgBytes: S.field([0, 0]), type: .date, format: .binary) }
        S.expectDecodingError(["timestamptz", "PGDate"]) {
            _ = try PGDate(pgBytes: S.field([0, 0, 0, 0, 0, 0, 0, 0]), type: .timestamptz, format: .binary)
        }
    }
}
