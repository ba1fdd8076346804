// Float and Double codecs.

import Testing

@testable import PGWire

@Suite struct CodecFloatTests {
    typealias S = CodecTestSupport

    @Test func knownBytes() throws {
        #expect(try S.bytes(1.0) == [0x3F, 0xF0, 0, 0, 0, 0, 0, 0])
        #expect(try S.bytes(Float(1.0)) == [0x3F, 0x80, 0, 0])
        #expect(try S.bytes(-0.0) == [0x80, 0, 0, 0, 0, 0, 0, 0])
        #expect(Double.pgDataType == .float8 && Float.pgDataType == .float4)
    }

    @Test(arguments: [0.0, -0.0, 1.5, -1e300, .pi, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude])
    func roundTripDouble(value: Double) throws {
        let back = try S.roundTrip(value)
        #expect(back == value)
        #expect(back.sign == value.sign)
    }

    @Test func roundTripNaN() throws {
        #expect(try S.roundTrip(Double.nan).isNaN)
        #expect(try S.roundTrip(Float.nan).isNaN)
        for v: Float in [0, -0.0, 3.25, .infinity, -.infinity, .greatestFiniteMagnitude] {
            let back = try S.roundTrip(v)
            #expect(back == v && back.sign == v.sign)
        }
    }

    @Test func decodesTextAsPostgresPrintsIt() throws {
        func d(_ s: String, _ type: PGDataType = .float8) throws -> Double {
            try Double(pgBytes: S.field(s), type: type, format: .text)
        }
        #expect(try d("1.5") == 1.5)
        #expect(try d("-0").sign == .minus)
        #expect(try d("1e+100") == 1e100)
        #expect(try d("1.7976931348623157e+308") == .greatestFiniteMagnitude)
        #expect(try d("Infinity") == .infinity)
        #expect(try d("-Infinity") == -.infinity)
        #expect(try d("NaN").isNaN)
        #expect(try d("0.1") == 0.1)
        // float4 text is read as Float, so it agrees with the binary path.
        #expect(try d("1.1", .float4) == Double(Float(1.1)))
        #expect(try Float(pgBytes: S.field("-Infinity"), type: .float4, format: .text) == -.infinity)
        #expect(try Float(pgBytes: S.field("3.4028235e+38"), type: .float4, format: .text) == .greatestFiniteMagnitude)
    }

    @Test func doubleDecodesFloat4Binary() throws {
        #expect(try Double(pgBytes: S.field([0x3F, 0xC0, 0, 0]), type: .float4, format: .binary) == 1.5)
    }

    @Test func rejectsBadInput() {
        for text in ["", "abc", "inf", "nan", "0x1p3", "1.5 "] {
            S.expectDecodingError(["float8", "Double"]) { _ = try Double(pgBytes: S.field(text), type: .float8, format: .text) }
        }
        S.expectDecodingError(["float8", "4 bytes", "Double"]) {
            _ = try Double(pgBytes: S.field([0, 0, 0, 0]), type: .float8, format: .binary)
        }
        S.expectDecodingError(["float4", "8 bytes", "Float"]) {
            _ = try Float(pgBytes: S.field([0, 0, 0, 0, 0, 0, 0, 0]), type: .float4, format: .binary)
        }
        S.expectDecodingError(["float8", "Float"]) {
            _ = try Float(pgBytes: S.field([0, 0, 0, 0, 0, 0, 0, 0]), type: .float8, format: .binary)
        }
        S.expectDecodingError(["int4", "Double"]) { _ = try Double(pgBytes: S.field("1"), type: .int4, format: .text) }
    }
}
