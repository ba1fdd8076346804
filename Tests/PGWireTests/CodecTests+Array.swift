// Array codecs: binary and text formats, NULL elements, several dimensions, empty arrays.

import Foundation
import Testing

@testable import PGWire

@Suite struct CodecArrayTests {
    typealias S = CodecTestSupport

    static func be32(_ v: Int32) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }

    @Test func binaryLayout() throws {
        let expected = [1, 0, 23, 2, 1].flatMap { Self.be32($0) } + Self.be32(4) + Self.be32(7) + Self.be32(4) + Self.be32(-8)
        #expect(try S.bytes([Int32(7), -8]) == expected)
        #expect([Int32].pgDataType == .int4Array && [Int32].pgFormat == .binary)
        #expect([[Int32?]].pgDataType == .int4Array)
        #expect(try S.bytes([Int32]()) == [0, 0, 23].flatMap { Self.be32($0) })
        let withNull = try S.bytes([Int32?.none, 5])
        #expect(Array(withNull[4..<8]) == Self.be32(1)) // has-null flag
        #expect(Array(withNull[20..<24]) == Self.be32(-1))
    }

    @Test func roundTrips() throws {
        #expect(try S.roundTrip([Int32(1), -2, .max]) == [1, -2, .max])
        #expect(try S.roundTrip([Int16]()) == [])
        #expect(try S.roundTrip([true, false]) == [true, false])
        #expect(try S.roundTrip([Int64.min, 0]) == [.min, 0])
        #expect(try S.roundTrip([1, 2, 3]) == [1, 2, 3])
        #expect(try S.roundTrip(["a", "ünïcødé ✓", "", "with \"quotes\", {braces}"]) == ["a", "ünïcødé ✓", "", "with \"quotes\", {braces}"])
        #expect(try S.roundTrip([String?.none, "x", nil]) == [nil, "x", nil])
        #expect(try S.roundTrip([[Int32(1), 2, 3], [4, 5, 6]]) == [[1, 2, 3], [4, 5, 6]])
        #expect(try S.roundTrip([[[Int32(1)], [2]], [[3], [4]]]) == [[[1], [2]], [[3], [4]]])
        #expect(try S.roundTrip([[Int32?.none, 1], [2, nil]]) == [[nil, 1], [2, nil]])
        #expect(try S.roundTrip([[Int32]]()) == [])
        #expect(try S.roundTrip([Double.nan, .infinity]).last == .infinity)
        #expect(try S.roundTrip([PGNumeric("1.50")!, .nan]) == [PGNumeric("1.50")!, .nan])
        #expect(try S.roundTrip([Decimal(string: "0.1")!]) == [Decimal(string: "0.1")!])
        #expect(try S.roundTrip([PGTime(hour: 1, minute: 2, second: 3)]) == [PGTime(hour: 1, minute: 2, second: 3)])
        #expect(try S.roundTrip([PGTimestamp.infinity, PGTimestamp(year: 1900, month: 1, day: 1)]).count == 2)
        #expect(try S.roundTrip([PGInterval(months: 1)]) == [PGInterval(months: 1)])
        #expect(try S.roundTrip([PGDate(year: 1960, month: 2, day: 29)]) == [PGDate(year: 1960, month: 2, day: 29)])
        let id = UUID()
        #expect(try S.roundTrip([id]) == [id])
        #expect(try S.roundTrip([Data([0, 1, 2])]) == [Data([0, 1, 2])])
        #expect(try S.roundTrip([PGInet("10.0.0.1/8")!]) == [PGInet("10.0.0.1/8")!])
        #expect(try S.roundTrip([PGRange<Int32>(lower: 1, upper: 5), .empty]) == [PGRange(lower: 1, upper: 5), .empty])
        #expect(try S.roundTrip([PGJSONValue(#"{"a":1}"#)]) == [PGJSONValue(#"{"a":1}"#)])
    }

    @Test func raggedArraysThrow() {
        #expect(throws: PGError.self) { try S.bytes([[Int32(1), 2], [3]]) }
        #expect(throws: PGError.self) { try S.bytes([[[Int32(1)]], [[2, 3]]]) }
    }

    @Test func textFormat() throws {
        func text<T: PGDecodable>(_ s: String, _ type: PGDataType, as: T.Type) throws -> T {
            try T(pgBytes: S.field(s), type: type, format: .text)
        }
        #expect(try text("{1,2,3}", .int4Array, as: [Int32].self) == [1, 2, 3])
        #expect(try text("{}", .int4Array, as: [Int32].self) == [])
        #expect(try text("{}", .int4Array, as: [[Int32]].self) == [])
        #expect(try text("{{1,2},{3,4}}", .int4Array, as: [[Int32]].self) == [[1, 2], [3, 4]])
        #expect(try text("[0:1]={5,6}", .int4Array, as: [Int32].self) == [5, 6])
        #expect(try text("{ 1 , NULL }", .int4Array, as: [Int32?].self) == [1, nil])
        #expect(try text(#"{"a b",NULL,"q\"x","NULL","",\\,ü}"#, .textArray, as: [String?].self)
            == ["a b", nil, "q\"x", "NULL", "", "\\", "ü"])
        #expect(try text(#"{"{\"a\": 1}"}"#, .jsonbArray, as: [PGJSONValue].self) == [PGJSONValue(#"{"a": 1}"#)])
        #expect(try text(#"{"[1,5)",empty}"#, .int4rangeArray, as: [PGRange<Int32>].self) == [PGRange(lower: 1, upper: 5), .empty])
        #expect(try text("{1.5,NaN}", .numericArray, as: [PGNumeric].self) == [PGNumeric("1.5")!, .nan])
        #expect(try text(#"{"2024-01-01 00:00:00+00"}"#, .timestamptzArray, as: [PGTimestamp].self) == [PGTimestamp(year: 2024, month: 1, day: 1)])
        for bad in ["", "{", "{1,2", "{1,{2}}", "{{1},{2,3}}", "{1}x", "1,2", "{\"a}", "{,}"] {
            S.expectDecodingError(["int4[]", "[Int32]"]) { _ = try text(bad, .int4Array, as: [Int32].self) }
        }
    }

    @Test func textEncodingForTextScalars() throws {
        let money: [PGMoney?] = ["1.50", nil, "$2,000.00"]
        #expect(try String(decoding: S.bytes(money), as: UTF8.self) == #"{1.50,NULL,"$2,000.00"}"#)
        #expect([PGMoney].pgFormat == .text && [PGMoney].pgDataType == .moneyArray)
        #expect(try String(decoding: S.bytes([[PGMoney("1")], [PGMoney("2")]]), as: UTF8.self) == "{{1},{2}}")
        #expect(try String(decoding: S.bytes([PGMoney]()), as: UTF8.self) == "{}")
        #expect(try [PGMoney?](pgBytes: S.field(#"{"$1.00",NULL}"#), type: .moneyArray, format: .text) == ["$1.00", nil])
    }

    @Test func shapeAndNullErrors() throws {
        let grid = try S.bytes([[Int32(1), 2], [3, 4]])
        S.expectDecodingError(["2 dimension", "[Int32]"]) { _ = try [Int32](pgBytes: S.field(grid), type: .int4Array, format: .binary) }
        let flat = try S.bytes([Int32(1), 2])
        S.expectDecodingError(["1 dimension", "[[Int32]]"]) { _ = try [[Int32]](pgBytes: S.field(flat), type: .int4Array, format: .binary) }
        let nulls = try S.bytes([Int32?.none])
        S.expectDecodingError(["NULL", "[Int32]"]) { _ = try [Int32](pgBytes: S.field(nulls), type: .int4Array, format: .binary) }
        S.expectDecodingError(["int4[]", "[Int32]"]) { _ = try [Int32](pgBytes: S.field(flat.dropLast()), type: .int4Array, format: .binary) }
        // A hostile element count cannot make the decoder allocate or read out of bounds.
        let hostile = [1, 0, 23, Int32.max, 1].flatMap { Self.be32($0) }
        S.expectDecodingError(["int4[]"]) { _ = try [Int32](pgBytes: S.field(hostile), type: .int4Array, format: .binary) }
        // An element type that does not match the array type.
        let int8s = try S.bytes([Int64(1)])
        S.expectDecodingError(["int4[]"]) { _ = try [Int32](pgBytes: S.field(int8s), type: .int4Array, format: .binary) }
        S.expectDecodingError(["int4", "[Int32]"]) { _ = try [Int32](pgBytes: S.field([0, 0, 0, 1]), type: .int4, format: .binary) }
        // Widening through the element decoder: int2[] into [Int].
        #expect(try [Int](pgBytes: S.field(S.bytes([Int16(3)])), type: .int2Array, format: .binary) == [3])
    }

    @Test func stringRendersBinaryFloatArraysAsPostgresDoes() throws {
        let doubles: [Double] = [1.5, 100, 1e15, 1e14, 1e-4, 1e-5, -0.0, .infinity, -.infinity, .nan, 1e100, .leastNonzeroMagnitude]
        #expect(try String(pgBytes: S.field(S.bytes(doubles)), type: .float8Array, format: .binary)
            == "{1.5,100,1e+15,100000000000000,0.0001,1e-05,-0,Infinity,-Infinity,NaN,1e+100,5e-324}")
        let floats: [Float] = [1e6, 1e7, 123_456.7, 0.1]
        #expect(try String(pgBytes: S.field(S.bytes(floats)), type: .float4Array, format: .binary) == "{1e+06,1e+07,123456.7,0.1}")
    }

    @Test func stringRendersBinaryArrays() throws {
        #expect(try String(pgBytes: S.field(S.bytes([Int32(1), 2])), type: .int4Array, format: .binary) == "{1,2}")
        #expect(try String(pgBytes: S.field(S.bytes(["a b", nil, "x", "NULL", ""] as [String?])), type: .textArray, format: .binary)
            == #"{"a b",NULL,x,"NULL",""}"#)
        #expect(try String(pgBytes: S.field(S.bytes([[Int32(1), 2], [3, 4]])), type: .int4Array, format: .binary) == "{{1,2},{3,4}}")
        #expect(try String(pgBytes: S.field(S.bytes([Int32]())), type: .int4Array, format: .binary) == "{}")
        #expect(try String(pgBytes: S.field(S.bytes([true, false])), type: .boolArray, format: .binary) == "{t,f}")
        #expect(try String(pgBytes: S.field(S.bytes([PGTimestamp(year: 2024, month: 1, day: 1)])), type: .timestamptzArray, format: .binary)
            == #"{"2024-01-01 00:00:00+00"}"#)
        #expect(try String(pgBytes: S.field(S.bytes([Data([0xDE, 0xAD])])), type: .byteaArray, format: .binary) == #"{"\\xdead"}"#)
    }
}
