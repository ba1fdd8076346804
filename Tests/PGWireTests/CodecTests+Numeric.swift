// PGNumeric and Decimal codecs.

import Foundation
import Testing

@testable import PGWire

@Suite struct CodecNumericTests {
    typealias S = CodecTestSupport

    static func binary(_ text: String) throws -> [UInt8] {
        try S.bytes(#require(PGNumeric(text)))
    }

    @Test func knownBinaryForms() throws {
        // ndigits, weight, sign, dscale, digits (Int16 each)
        #expect(try Self.binary("1.50") == [0, 2, 0, 0, 0, 0, 0, 2, 0, 1, 0x13, 0x88])
        #expect(try Self.binary("-12345678") == [0, 2, 0, 1, 0x40, 0, 0, 0, 0x04, 0xD2, 0x16, 0x2E])
        #expect(try Self.binary("0.001") == [0, 1, 0xFF, 0xFF, 0, 0, 0, 3, 0, 10])
        #expect(try Self.binary("0") == [0, 0, 0, 0, 0, 0, 0, 0])
        #expect(try Self.binary("0.00") == [0, 0, 0, 0, 0, 0, 0, 2])
        #expect(try Self.binary("NaN") == [0, 0, 0, 0, 0xC0, 0, 0, 0])
        #expect(try Self.binary("Infinity") == [0, 0, 0, 0, 0xD0, 0, 0, 0])
        #expect(try Self.binary("-Infinity") == [0, 0, 0, 0, 0xF0, 0, 0, 0])
        #expect(PGNumeric.pgDataType == .numeric && PGNumeric.pgFormat == .binary)
    }

    @Test(arguments: [
        "0", "1", "-1", "1.50", "0.001", "-0.000001", "12345678.9", "10000", "99999999999999999999.00000000000000000001",
        "3.14159265358979323846264338327950288419716939937510", "100000000", "0.0001", "0.00010", "NaN", "Infinity", "-Infinity",
    ])
    func roundTripsExactly(text: String) throws {
        let n = try #require(PGNumeric(text))
        #expect(n.description == text)
        #expect(try S.roundTrip(n) == n)
        #expect(try PGNumeric(pgBytes: S.field(S.bytes(n)), type: .numeric, format: .binary).description == text)
        #expect(try PGNumeric(pgBytes: S.field(text), type: .numeric, format: .text) == n)
    }

    @Test func thousandDigits() throws {
        let integer = String(repeating: "1234567890", count: 60)
        let fraction = String(repeating: "9876543210", count: 40)
        for text in [integer + "." + fraction, "-" + integer, "0." + fraction + "1", "-" + integer + "." + fraction] {
            let n = try #require(PGNumeric(text))
            #expect(n.description == text)
            let bytes = try S.bytes(n)
            #expect(try PGNumeric(pgBytes: S.field(bytes), type: .numeric, format: .binary).description == text)
            #expect(try String(pgBytes: S.field(bytes), type: .numeric, format: .binary) == text)
        }
    }

    @Test func inputForms() throws {
        #expect(PGNumeric("1e3")?.description == "1000")
        #expect(PGNumeric("1.5E-3")?.description == "0.0015")
        #expect(PGNumeric(".5")?.description == "0.5")
        #expect(PGNumeric("5.")?.description == "5")
        #expect(PGNumeric("+7")?.description == "7")
        #expect(PGNumeric("-0")?.description == "0")
        #expect(PGNumeric("inf") == .infinity)
        #expect(PGNumeric("-INFINITY") == .negativeInfinity)
        #expect(PGNumeric("nan")?.isNaN == true)
        for bad in ["", "-", ".", "1.2.3", "1e", "abc", "1 ", " 1", "0x10", "1e99999999", "--1", "-nan"] {
            #expect(PGNumeric(bad) == nil, "\(bad)")
        }
        #expect(PGNumeric(Int64.min).description == "-9223372036854775808")
        #expect(PGNumeric(UInt64.max).description == "18446744073709551615")
        #expect(PGNumeric("1.50")?.scale == 2)
    }

    @Test func decimal() throws {
        let d = try #require(Decimal(string: "123.456"))
        #expect(try S.roundTrip(d) == d)
        #expect(try Decimal(pgBytes: S.field("-0.000123"), type: .numeric, format: .text) == Decimal(string: "-0.000123"))
        #expect(try Decimal(pgBytes: S.field(Self.binary("1e30")), type: .numeric, format: .binary) == Decimal(string: "1e30"))
        #expect(try Decimal(pgBytes: S.field("NaN"), type: .numeric, format: .text).isNaN)
        #expect(PGNumeric(Decimal.nan).isNaN)
        #expect(PGNumeric(Decimal(string: "-2.50")!).description == "-2.5")
        S.expectDecodingError(["numeric", "Decimal"]) { _ = try Decimal(pgBytes: S.field("Infinity"), type: .numeric, format: .text) }
        #expect(try Decimal(pgBytes: S.field([0, 0, 0, 42]), type: .int4, format: .binary) == 42)
    }

    @Test func malformedBinary() {
        let bad: [[UInt8]] = [
            [], [0, 1, 0, 0, 0, 0, 0, 0], // a digit promised but missing
            [0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10], // digit 10000
            [0, 0, 0, 0, 0x12, 0x34, 0, 0], // unknown sign
            [0, 1, 0, 0, 0xC0, 0, 0, 0, 0, 1], // NaN with digits
            [0xFF, 0xFF, 0, 0, 0, 0, 0, 0], // negative ndigits
        ]
        for bytes in bad {
            S.expectDecodingError(["numeric", "PGNumeric"]) { _ = try PGNumeric(pgBytes: S.field(bytes), type: .numeric, format: .binary) }
        }
        guard let e = S.error({ _ = try PGNumeric(pgBytes: S.field("12secret34"), type: .numeric, format: .text) }) else { return }
        #expect(!e.description.contains("secret"))
        #expect(e.underlying?.contains("secret") == true)
        S.expectDecodingError(["float8", "PGNumeric"]) { _ = try PGNumeric(pgBytes: S.field("1"), type: .float8, format: .text) }
    }

    @Test func stringDecodesBinaryNumeric() throws {
        #expect(try String(pgBytes: S.field(Self.binary("-1.50")), type: .numeric, format: .binary) == "-1.50")
        #expect(try PGTextValue(pgBytes: S.field(Self.binary("NaN")), type: .numeric, format: .binary).text == "NaN")
    }

    @Test func codable() throws {
        let n = try #require(PGNumeric("12.340"))
        let json = try JSONEncoder().encode([n])
        #expect(String(decoding: json, as: UTF8.self) == #"["12.340"]"#)
        #expect(try JSONDecoder().decode([PGNumeric].self, from: json) == [n])
    }
}
