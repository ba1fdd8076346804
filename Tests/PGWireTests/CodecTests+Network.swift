// PGInet, PGRange, PGMoney, PGEnum, PGJSON and PGJSONValue codecs.

import Foundation
import Testing

@testable import PGWire

enum Mood: String, PGEnum { case sad, ok, happy }

@Suite struct CodecMiscTypeTests {
    typealias S = CodecTestSupport

    @Test func inet() throws {
        let a = try #require(PGInet("192.168.0.1/24"))
        #expect(try S.bytes(a) == [2, 24, 0, 4, 192, 168, 0, 1])
        #expect(a.description == "192.168.0.1/24" && a.family == .ipv4)
        #expect(try S.roundTrip(a) == a)
        #expect(PGInet("10.1.2.3")?.description == "10.1.2.3")
        #expect(PGInet("10.0.0.0/8", cidr: true)?.pgDataTypeOfValue == .cidr)
        for (text, shown) in [("2001:db8::1", "2001:db8::1"), ("::1", "::1"), ("::", "::"), ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
                              ("2001:DB8:0:0:1:0:0:1/64", "2001:db8::1:0:0:1/64"), ("fe80::1:2:3:4", "fe80::1:2:3:4"),
                              ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("1::", "1::")] {
            let v = try #require(PGInet(text), "\(text)")
            #expect(v.description == shown)
            #expect(v.family == .ipv6)
            #expect(try S.roundTrip(v) == v)
            #expect(try PGInet(pgBytes: S.field(text), type: .inet, format: .text) == v)
        }
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4/33", "::1/129", "1:::2", "1:2:3:4:5:6:7:8:9", "g::1", "1.2.3.4/-1", ":1"] {
            #expect(PGInet(bad) == nil, "\(bad)")
            S.expectDecodingError(["inet", "PGInet"]) { _ = try PGInet(pgBytes: S.field(bad), type: .inet, format: .text) }
        }
        S.expectDecodingError(["cidr", "PGInet"]) { _ = try PGInet(pgBytes: S.field([2, 24, 1, 16, 1, 2, 3, 4]), type: .cidr, format: .binary) }
        S.expectDecodingError(["inet", "PGInet"]) { _ = try PGInet(pgBytes: S.field([9, 24, 0, 4, 1, 2, 3, 4]), type: .inet, format: .binary) }
        #expect(try String(pgBytes: S.field(S.bytes(a)), type: .inet, format: .binary) == "192.168.0.1/24")
    }

    @Test func ranges() throws {
        let r = PGRange<Int32>(lower: 1, upper: 10)
        #expect(try S.bytes(r) == [0x02, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 10])
        #expect(r.description == "[1,10)")
        #expect(try S.roundTrip(r) == r)
        #expect(try S.bytes(PGRange<Int32>.empty) == [0x01])
        #expect(try S.roundTrip(PGRange<Int32>.empty) == .empty)
        let half = PGRange<Int64>(lower: nil, upper: 5, upperInclusive: true)
        #expect(try S.roundTrip(half) == half)
        #expect(try PGRange<Int64>(pgBytes: S.field("(,5]"), type: .int8range, format: .text) == half)
        #expect(try PGRange<Int32>(pgBytes: S.field("[1,10)"), type: .int4range, format: .text) == r)
        #expect(try PGRange<Int32>(pgBytes: S.field("empty"), type: .int4range, format: .text) == .empty)
        #expect(try PGRange<Int32>(pgBytes: S.field("(,)"), type: .int4range, format: .text) == PGRange(lower: nil, upper: nil))
        let ts = PGRange<PGTimestamp>(lower: PGTimestamp(year: 2024, month: 1, day: 1), upper: .infinity)
        #expect(try S.roundTrip(ts) == ts)
        #expect(try PGRange<PGTimestamp>(pgBytes: S.field(#"["2024-01-01 00:00:00+00",infinity)"#), type: .tstzrange, format: .text) == ts)
        #expect(try String(pgBytes: S.field(S.bytes(ts)), type: .tstzrange, format: .binary) == #"["2024-01-01 00:00:00+00",infinity)"#)
        #expect(PGRange<PGNumeric>.pgDataType == .numrange && PGRange<PGDate>.pgDataType == .daterange && PGRange<PGLocalTimestamp>.pgDataType == .tsrange)
        let nr = PGRange<PGNumeric>(lower: PGNumeric("-1.5"), upper: PGNumeric("2.25"), lowerInclusive: false, upperInclusive: true)
        #expect(try S.roundTrip(nr) == nr)
        for bad in ["", "[1,2", "1,2)", "[1;2)", "[a,2)", "[1,2,3)"] {
            S.expectDecodingError(["int4range"]) { _ = try PGRange<Int32>(pgBytes: S.field(bad), type: .int4range, format: .text) }
        }
        S.expectDecodingError(["int4range"]) { _ = try PGRange<Int32>(pgBytes: S.field([0x02, 0, 0, 0, 4, 0]), type: .int4range, format: .binary) }
        S.expectDecodingError(["int4", "PGRange"]) { _ = try PGRange<Int32>(pgBytes: S.field([0, 0, 0, 1]), type: .int4, format: .binary) }
    }

    @Test func moneyAndEnums() throws {
        #expect(try String(decoding: S.bytes(PGMoney("12.34")), as: UTF8.self) == "12.34")
        #expect(PGMoney.pgFormat == .text && PGMoney.pgDataType == .money)
        #expect(try PGMoney(pgBytes: S.field("$12.34"), type: .money, format: .text).text == "$12.34")
        #expect(try PGMoney(pgBytes: S.field(S.bytes(Int64(-1234))), type: .money, format: .binary).text == "-12.34")
        #expect(Mood.pgDataType == .unspecified && Mood.pgFormat == .text)
        #expect(try String(decoding: S.bytes(Mood.happy), as: UTF8.self) == "happy")
        #expect(try Mood(pgBytes: S.field("ok"), type: PGDataType(16_500), format: .text) == .ok)
        S.expectDecodingError(["Mood", "unknown enum label"]) { _ = try Mood(pgBytes: S.field("angry"), type: PGDataType(16_500), format: .text) }
        #expect(try String(decoding: S.bytes([Mood.sad, .happy]), as: UTF8.self) == "{sad,happy}")
        #expect([Mood].pgDataType == .unspecified && [Mood].pgFormat == .text)
        #expect(try [Mood?](pgBytes: S.field("{sad,NULL}"), type: PGDataType(16_499), format: .text) == [.sad, nil])
    }

    struct Settings: Codable, Sendable, Equatable {
        var theme: String
        var size: Int
    }

    @Test func json() throws {
        let s = PGJSON(Settings(theme: "dark ✓", size: 14))
        let bytes = try S.bytes(s)
        #expect(bytes.first == 1)
        #expect(try S.roundTrip(s) == s)
        #expect(try PGJSON<Settings>(pgBytes: S.field(#"{"theme": "x", "size": 1}"#), type: .json, format: .text).value == Settings(theme: "x", size: 1))
        #expect(try PGJSON<[Int]>(pgBytes: S.field([1] + Array("[1, 2]".utf8)), type: .jsonb, format: .binary).value == [1, 2])
        guard let e = S.error({ _ = try PGJSON<Settings>(pgBytes: S.field(#"{"theme": "secret"}"#), type: .jsonb, format: .text) }) else { return }
        #expect(e.code == .decoding && e.message.contains("PGJSON<Settings>") && e.message.contains("jsonb"))
        #expect(!e.description.contains("secret"))
        S.expectDecodingError(["jsonb", "version"]) { _ = try PGJSON<Settings>(pgBytes: S.field([2, 0x7B, 0x7D]), type: .jsonb, format: .binary) }
        S.expectDecodingError(["int4", "PGJSONValue"]) { _ = try PGJSONValue(pgBytes: S.field([0, 0, 0, 1]), type: .int4, format: .binary) }
        let raw = PGJSONValue(#"{"a": [1, "ü"]}"#)
        #expect(try S.roundTrip(raw) == raw)
        #expect(try PGJSONValue(pgBytes: S.field(raw.text), type: .json, format: .binary) == raw)
        S.expectDecodingError(["UTF-8"]) { _ = try PGJSONValue(pgBytes: S.field([0xFF]), type: .json, format: .text) }
    }

    @Test func dataTypeNames() {
        #expect(PGDataType.int4Array.description == "int4[]")
        #expect(PGDataType.tstzrange.description == "tstzrange")
        #expect(PGDataType.int4Array.arrayElementType == .int4)
        #expect(PGDataType(99_999).description == "oid 99999")
    }
}
