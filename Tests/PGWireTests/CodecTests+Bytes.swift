// [UInt8] and Data (bytea) codecs.

import Foundation
import Testing

@testable import PGWire

@Suite struct CodecBytesTests {
    typealias S = CodecTestSupport

    @Test(arguments: [[], [0], [0xDE, 0xAD, 0xBE, 0xEF], Array(0...255)] as [[UInt8]])
    func roundTrip(value: [UInt8]) throws {
        #expect(try S.roundTrip(value) == value)
        #expect(try S.bytes(value) == value)
        #expect(try S.roundTrip(Data(value)) == Data(value))
        #expect([UInt8].pgDataType == .bytea && Data.pgDataType == .bytea)
    }

    @Test func decodesHexText() throws {
        #expect(try [UInt8](pgBytes: S.field(#"\x"#), type: .bytea, format: .text) == [])
        #expect(try [UInt8](pgBytes: S.field(#"\xdeadBEEF00"#), type: .bytea, format: .text) == [0xDE, 0xAD, 0xBE, 0xEF, 0])
        #expect(try Data(pgBytes: S.field(#"\x0102"#), type: .bytea, format: .text) == Data([1, 2]))
    }

    @Test func decodesEscapeText() throws {
        // SET bytea_output = 'escape'; SELECT '\x610062ff5c'::bytea → a\000b\377\\
        #expect(try [UInt8](pgBytes: S.field(#"a\000b\377\\"#), type: .bytea, format: .text) == [0x61, 0, 0x62, 0xFF, 0x5C])
        #expect(try [UInt8](pgBytes: S.field(""), type: .bytea, format: .text) == [])
        #expect(try [UInt8](pgBytes: S.field("plain"), type: .bytea, format: .text) == Array("plain".utf8))
    }

    @Test func rejectsMalformedText() {
        for text in [#"\x0"#, #"\xzz"#, #"\x0g"#, #"\"#, #"\12"#, #"\400"#, #"\9"#, #"a\b"#] {
            S.expectDecodingError(["bytea", "[UInt8]"]) { _ = try [UInt8](pgBytes: S.field(text), type: .bytea, format: .text) }
        }
        S.expectDecodingError(["bytea", "Data"]) { _ = try Data(pgBytes: S.field(#"\x1"#), type: .bytea, format: .text) }
    }

    @Test func rejectsOtherTypes() {
        S.expectDecodingError(["text", "[UInt8]"]) { _ = try [UInt8](pgBytes: S.field("ab"), type: .text, format: .binary) }
        S.expectDecodingError(["uuid", "Data"]) {
            _ = try Data(pgBytes: S.field([UInt8](repeating: 0, count: 16)), type: .uuid, format: .binary)
        }
    }

    @Test func decodesFromSliceNotStartingAtZero() throws {
        let field = S.field([7, 8, 9])
        #expect(field.startIndex != 0)
        #expect(try [UInt8](pgBytes: field, type: .bytea, format: .binary) == [7, 8, 9])
        #expect(try Data(pgBytes: field, type: .bytea, format: .binary) == Data([7, 8, 9]))
    }
}
