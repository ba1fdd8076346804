// String and PGTextValue codecs.

import Testing

@testable import PGWire

@Suite struct CodecStringTests {
    typealias S = CodecTestSupport

    @Test(arguments: ["", "hello", "exactly-8", "0123456789abcdefg", "ascii then ü at byte 14", "héllo wörld", "日本語テキスト", "🐘👩‍👩‍👧‍👦", "a\nb\t'\"\\", String(repeating: "x", count: 10_000)])
    func roundTrip(value: String) throws {
        #expect(try S.roundTrip(value) == value)
        #expect(try S.bytes(value) == Array(value.utf8))
    }

    @Test func declaresTextBinary() {
        #expect(String.pgDataType == .text)
        #expect(String.pgFormat == .binary)
    }

    @Test func decodesTextFormOfAnyType() throws {
        #expect(try String(pgBytes: S.field("42"), type: .int4, format: .text) == "42")
        #expect(try String(pgBytes: S.field("2024-03-05 12:34:56+00"), type: .timestamptz, format: .text) == "2024-03-05 12:34:56+00")
        #expect(try String(pgBytes: S.field("t"), type: .bool, format: .text) == "t")
        #expect(try String(pgBytes: S.field("12.50"), type: .numeric, format: .text) == "12.50")
        #expect(try String(pgBytes: S.field("x"), type: PGDataType(99999), format: .text) == "x")
    }

    @Test func decodesTextLikeBinaryTypes() throws {
        for type in [PGDataType.text, .varchar, .name, .bpchar, .json, .char] {
            #expect(try String(pgBytes: S.field("ab"), type: type, format: .binary) == "ab")
        }
        #expect(try String(pgBytes: S.field([1] + Array(#"{"a": 1}"#.utf8)), type: .jsonb, format: .binary) == #"{"a": 1}"#)
        #expect(try String(pgBytes: S.field(#"{"a": 1}"#), type: .jsonb, format: .text) == #"{"a": 1}"#)
    }

    @Test func rejectsInvalidUTF8() {
        let a = UInt8(ascii: "a")
        let cases: [[UInt8]] = [
            [0xFF], [0x61, 0xC3], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xF8, 0x88, 0x80, 0x80, 0x80],
            // Past the 8-byte ASCII scan: in the word loop, in the tail, at the very end.
            [UInt8](repeating: a, count: 9) + [0xFF], [UInt8](repeating: a, count: 16) + [0x80],
            [UInt8](repeating: a, count: 3) + [0xF0, 0x9F, 0x98] + [UInt8](repeating: a, count: 12),
        ]
        for bad in cases {
            S.expectDecodingError(["UTF-8", "String"]) { _ = try String(pgBytes: S.field(bad), type: .text, format: .binary) }
            S.expectDecodingError(["UTF-8"]) { _ = try String(pgBytes: S.field(bad), type: .varchar, format: .text) }
        }
    }

    @Test func invalidValueKeepsTheTextOutOfDescription() {
        guard let e = CodecTestSupport.error({ _ = try Int32(pgBytes: S.field("secret-value"), type: .int4, format: .text) })
        else { return }
        #expect(!e.description.contains("secret"))
        #expect(e.debugDescription.contains("secret-value"))
    }

    @Test func rejectsBinaryNonTextTypes() {
        S.expectDecodingError(["int4", "binary", "String"]) {
            _ = try String(pgBytes: S.field([0, 0, 0, 1]), type: .int4, format: .binary)
        }
        S.expectDecodingError(["bytea", "String"]) { _ = try String(pgBytes: S.field("ab"), type: .bytea, format: .binary) }
        S.expectDecodingError(["jsonb", "String"]) { _ = try String(pgBytes: S.field([2, 0x7B, 0x7D]), type: .jsonb, format: .binary) }
        S.expectDecodingError(["jsonb", "String"]) { _ = try String(pgBytes: S.field([]), type: .jsonb, format: .binary) }
    }

    @Test func textValue() throws {
        let v = PGTextValue("12.50")
        #expect(PGTextValue.pgDataType == .unspecified)
        #expect(PGTextValue.pgFormat == .text)
        #expect(v.pgDataTypeOfValue == .unspecified)
        #expect(try S.bytes(v) == Array("12.50".utf8))
        let typed = PGTextValue("[1,10)", type: PGDataType(3904))
        #expect(typed.pgDataTypeOfValue == PGDataType(3904))
        let literal: PGTextValue = "x"
        #expect(literal.text == "x" && literal.description == "x")
        let decoded = try PGTextValue(pgBytes: S.field("1.5"), type: .numeric, format: .text)
        #expect(decoded == PGTextValue("1.5", type: .numeric))
        #expect(try S.roundTrip(typed) == typed)
    }
}
