// Shared helpers for the codec tests, and the integer and Bool codecs.

import Testing

@testable import PGWire

/// Helpers shared by the CodecTests* files.
enum CodecTestSupport {
    /// The bytes `value` encodes to.
    static func bytes<T: PGEncodable>(_ value: T) throws -> [UInt8] {
        var buffer = PGWriteBuffer()
        try value.encode(into: &buffer)
        return buffer.bytes
    }

    /// Encodes `value` and decodes it back as the type and format it declared.
    static func roundTrip<T: PGEncodable & PGDecodable>(_ value: T) throws -> T {
        try T(pgBytes: bytes(value)[...], type: value.pgDataTypeOfValue, format: T.pgFormat)
    }

    /// UTF-8 bytes of `text`, as a field slice whose indices do not start at 0
    /// (as they never do for fields inside a DataRow).
    static func field(_ text: String) -> ArraySlice<UInt8> {
        field(Array(text.utf8))
    }

    /// `bytes` embedded in a larger array, to catch code that assumes `startIndex == 0`.
    static func field(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
        let padded = [0xEE, 0xEE, 0xEE] + bytes + [0xEE]
        return padded[3..<(3 + bytes.count)]
    }

    /// The PGError `body` throws; records an issue when it throws something else or nothing.
    static func error(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> PGError? {
        do {
            try body()
            Issue.record("expected an error", sourceLocation: sourceLocation)
            return nil
        } catch let error as PGError {
            return error
        } catch {
            Issue.record("expected a PGError, got \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    /// Expects a `.decoding` PGError whose message contains every fragment.
    static func expectDecodingError(
        _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
    ) {
        guard let e = error(body, sourceLocation: sourceLocation) else { return }
        #expect(e.code == .decoding, sourceLocation: sourceLocation)
        for fragment in fragments {
            #expect(e.message.contains(fragment), "\(e.message)", sourceLocation: sourceLocation)
        }
    }
}

@Suite struct CodecIntegerTests {
    typealias S = CodecTestSupport

    @Test func knownBytes() throws {
        #expect(try S.bytes(Int32(42)) == [0, 0, 0, 42])
        #expect(try S.bytes(Int16(-2)) == [0xFF, 0xFE])
        #expect(try S.bytes(Int64(1)) == [0, 0, 0, 0, 0, 0, 0, 1])
        #expect(try S.bytes(42) == [0, 0, 0, 0, 0, 0, 0, 42])
        #expect(try S.bytes(Int32.min) == [0x80, 0, 0, 0])
        #expect(Int32.pgDataType == .int4 && Int16.pgDataType == .int2 && Int64.pgDataType == .int8)
        #expect(Int.pgDataType == .int8 && Int.pgFormat == .binary)
    }

    @Test(arguments: [Int64.min, -1, 0, 1, 42, Int64(Int32.max) + 1, Int64.max])
    func roundTripInt64(value: Int64) throws {
        #expect(try S.roundTrip(value) == value)
        #expect(try S.roundTrip(Int(value)) == Int(value))
    }

    @Test func roundTripNarrow() throws {
        for v in [Int32.min, -1, 0, 7, Int32.max] { #expect(try S.roundTrip(v) == v) }
        for v in [Int16.min, -1, 0, 7, Int16.max] { #expect(try S.roundTrip(v) == v) }
    }

    @Test func decodesBinaryFromEveryIntegerType() throws {
        let int2 = S.field([0xFF, 0xFE])
        let int4 = S.field([0, 0, 0x01, 0x00])
        let int8 = S.field([0, 0, 0, 0, 0, 0, 0x01, 0x00])
        #expect(try Int(pgBytes: int2, type: .int2, format: .binary) == -2)
        #expect(try Int(pgBytes: int4, type: .int4, format: .binary) == 256)
        #expect(try Int(pgBytes: int8, type: .int8, format: .binary) == 256)
        #expect(try Int64(pgBytes: int2, type: .int2, format: .binary) == -2)
        #expect(try Int32(pgBytes: int8, type: .int8, format: .binary) == 256)
        #expect(try Int16(pgBytes: int4, type: .int4, format: .binary) == 256)
        #expect(try Int64(pgBytes: S.field([0xFF, 0xFF, 0xFF, 0xFF]), type: .oid, format: .binary) == 4_294_967_295)
    }

    @Test func decodesText() throws {
        #expect(try Int(pgBytes: S.field("42"), type: .int4, format: .text) == 42)
        #expect(try Int(pgBytes: S.field("-9223372036854775808"), type: .int8, format: .text) == Int.min)
        #expect(try Int64(pgBytes: S.field("9223372036854775807"), type: .int8, format: .text) == .max)
        #expect(try Int16(pgBytes: S.field("-32768"), type: .int2, format: .text) == .min)
        #expect(try Int32(pgBytes: S.field("0"), type: .int4, format: .text) == 0)
        #expect(try Int32(pgBytes: S.field("123"), type: .int8, format: .text) == 123)
    }

    @Test func rejectsMalformedText() {
        for text in ["", "-", "+", "1.5", " 1", "1 ", "abc", "9223372036854775808", "0x10"] {
            S.expectDecodingError(["int8", "Int64"]) { _ = try Int64(pgBytes: S.field(text), type: .int8, format: .text) }
        }
    }

    @Test func rejectsWrongLength() {
        S.expectDecodingError(["int4", "3 bytes", "Int32"]) {
            _ = try Int32(pgBytes: S.field([0, 0, 42]), type: .int4, format: .binary)
        }
        S.expectDecodingError(["int8", "4 bytes", "Int"]) {
            _ = try Int(pgBytes: S.field([0, 0, 0, 42]), type: .int8, format: .binary)
        }
        S.expectDecodingError(["int2", "0 bytes", "Int16"]) {
            _ = try Int16(pgBytes: S.field([]), type: .int2, format: .binary)
        }
    }

    @Test func rejectsOutOfRange() {
        S.expectDecodingError(["int8", "out of range", "Int16"]) {
            _ = try Int16(pgBytes: S.field([0, 0, 0, 0, 0, 1, 0, 0]), type: .int8, format: .binary)
        }
        S.expectDecodingError(["int4", "Int16"]) {
            _ = try Int16(pgBytes: S.field("70000"), type: .int4, format: .text)
        }
    }

    @Test func rejectsMismatchedTypes() {
        S.expectDecodingError(["text", "Int"]) { _ = try Int(pgBytes: S.field("42"), type: .text, format: .text) }
        S.expectDecodingError(["float8", "Int32"]) {
            _ = try Int32(pgBytes: S.field([0, 0, 0, 0, 0, 0, 0, 0]), type: .float8, format: .binary)
        }
        S.expectDecodingError(["uuid", "Int64"]) {
            _ = try Int64(pgBytes: S.field([UInt8](repeating: 0, count: 16)), type: .uuid, format: .binary)
        }
    }
}

@Suite struct CodecBoolTests {
    typealias S = CodecTestSupport

    @Test func roundTripAndBytes() throws {
        #expect(try S.bytes(true) == [1])
        #expect(try S.bytes(false) == [0])
        #expect(try S.roundTrip(true) == true)
        #expect(try S.roundTrip(false) == false)
        #expect(Bool.pgDataType == .bool)
    }

    @Test func decodesText() throws {
        #expect(try Bool(pgBytes: S.field("t"), type: .bool, format: .text) == true)
        #expect(try Bool(pgBytes: S.field("f"), type: .bool, format: .text) == false)
        #expect(try Bool(pgBytes: S.field("true"), type: .bool, format: .text) == true)
    }

    @Test func rejectsBadInput() {
        S.expectDecodingError(["bool", "Bool"]) { _ = try Bool(pgBytes: S.field("x"), type: .bool, format: .text) }
        S.expectDecodingError(["bool", "Bool"]) { _ = try Bool(pgBytes: S.field([2]), type: .bool, format: .binary) }
        S.expectDecodingError(["bool", "2 bytes", "Bool"]) {
            _ = try Bool(pgBytes: S.field([0, 1]), type: .bool, format: .binary)
        }
        S.expectDecodingError(["int4", "Bool"]) { _ = try Bool(pgBytes: S.field("1"), type: .int4, format: .text) }
    }

    @Test func optionalUsesWrappedCodec() throws {
        let none: Int32? = nil
        #expect(none.pgIsNull)
        #expect(try S.bytes(Optional(Int32(5))) == [0, 0, 0, 5])
        #expect(try Int32?(pgBytes: S.field([0, 0, 0, 5]), type: .int4, format: .binary) == 5)
    }
}
