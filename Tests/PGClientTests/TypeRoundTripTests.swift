// Every type codec against a real server: bound as a parameter and returned in binary format
// (`SELECT $1::type`), and returned in text format (simple query), with the server's own text
// checked against the binary value's rendering where String renders it.

import Foundation
import PGClient
import PGTestSupport
import PGWire
import Testing

enum Weather: String, PGEnum { case sunny, cloudy, rainy }

/// Postgres' built-in `point` through the user-defined type protocol (fixed OID 600).
struct Point2D: PGCustomType, Equatable {
    var x: Double
    var y: Double
    static var pgTypeName: String { "point" }
    static var pgDataType: PGDataType { PGDataType(600) }
    static var pgFormat: PGFormat { .binary }
    init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }
    func encode(into buffer: inout PGWriteBuffer) {
        buffer.writeInteger(x.bitPattern)
        buffer.writeInteger(y.bitPattern)
    }
    init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        guard type == Self.pgDataType else { throw PGError(code: .decoding, message: "cannot decode \(type) into Point2D") }
        if format == .binary, bytes.count == 16 {
            x = try Double(pgBytes: bytes.prefix(8), type: .float8, format: .binary)
            y = try Double(pgBytes: bytes.suffix(8), type: .float8, format: .binary)
            return
        }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: "()"))
        let parts = text.split(separator: ",").compactMap { Double(String($0)) }
        guard parts.count == 2 else { throw PGError(code: .decoding, message: "cannot decode point text into Point2D") }
        x = parts[0]
        y = parts[1]
    }
}

@Suite struct TypeRoundTripTests {
    /// Binds `value` as `$1::type`, expects it back equal (binary format unless `binary` is false),
    /// then sends the server's text for it through a simple query and expects the text path to agree.
    static func check<T: PGEncodable & PGDecodable & Equatable>(
        _ c: PGConnection, _ value: T, _ type: String, binary: Bool = true, rendersText: Bool = true,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        // concat() shows a value through its type's output function, exactly as text format would.
        let rows = try await c.query("SELECT $1::\(type), concat($1::\(type))", [value]).collect()
        let row = try #require(rows.first, sourceLocation: sourceLocation)
        #expect(row.columns.columns[0].format == (binary ? .binary : .text), "\(type)", sourceLocation: sourceLocation)
        #expect(try row.decode(T.self, column: 0) == value, "\(type) binary", sourceLocation: sourceLocation)
        let serverText = try row.decode(String.self, column: 1)
        if rendersText {
            let rendered = try row.decode(String.self, column: 0)
            #expect(rendered == serverText, "\(type) String", sourceLocation: sourceLocation)
        }
        let literal = "'" + serverText.replacingOccurrences(of: "'", with: "''") + "'::" + type
        let text = try await c.simpleQuery("SELECT \(literal)")
        let textRow = try #require(text.first?.rows.first, sourceLocation: sourceLocation)
        #expect(textRow.columns.columns[0].format == .text, sourceLocation: sourceLocation)
        #expect(try textRow.decode(T.self, column: 0) == value, "\(type) text: \(serverText)", sourceLocation: sourceLocation)
        // NULL of the same type decodes as nil.
        let null = try await c.query("SELECT $1::\(type)", [T?.none]).collect()
        #expect(try null[0].decode(T?.self, column: 0) == nil, sourceLocation: sourceLocation)
    }

    static func utc(_ c: PGConnection) async throws {
        try await c.simpleQuery("SET TimeZone = 'UTC'")
    }

    @Test func numeric() async throws {
        try await TestDB.withConnection { c in
            let thousand = String(repeating: "1234567890", count: 60) + "." + String(repeating: "0987654321", count: 40)
            for text in ["0", "1.50", "-0.001", "12345678901234567890.123456789", "NaN", "Infinity", "-Infinity", thousand, "-" + thousand, "1e-20", "1e20"] {
                try await Self.check(c, try #require(PGNumeric(text)), "numeric")
            }
            for text in ["0.1", "-123.456", "1234567890123456789012345678"] {
                try await Self.check(c, try #require(Decimal(string: text)), "numeric")
            }
            try await Self.check(c, Decimal.nan, "numeric")
            // Exactness: a 1000-digit value survives arithmetic on the server.
            let rows = try await c.query("SELECT $1::numeric + 0", [try #require(PGNumeric(thousand))]).collect()
            #expect(try rows[0].decode(PGNumeric.self, column: 0).description == thousand)
            let scaled = try await c.query("SELECT 1.50::numeric(10,4)").collect()
            #expect(try scaled[0].decode(PGNumeric.self, column: 0).description == "1.5000")
            #expect(try scaled[0].decode(Decimal.self, column: 0) == Decimal(string: "1.5"))
            do {
                _ = try await c.query("SELECT 'Infinity'::numeric").collect()[0].decode(Decimal.self, column: 0)
                Issue.record("Infinity decoded into Decimal")
            } catch let e as PGError { #expect(e.code == .decoding) }
        }
    }

    @Test func textLikeTypes() async throws {
        try await TestDB.withConnection { c in
            try await Self.check(c, "héllo wörld ✓ 日本", "text")
            try await Self.check(c, "a_name", "name")
            try await Self.check(c, "ab   ", "char(5)")
            try await Self.check(c, "x", "\"char\"", binary: false)
            try await Self.check(c, "vär", "varchar(10)")
            let padded = try await c.query("SELECT $1::char(4)", ["ab"]).collect()
            #expect(try padded[0].decode(String.self, column: 0) == "ab  ")
            try await c.simpleQuery("CREATE EXTENSION IF NOT EXISTS citext")
            let rows = try await c.query("SELECT $1::citext, $1::citext = 'MIXED case'::citext", ["Mixed Case"]).collect()
            #expect(rows[0].columns.columns[0].format == .text) // citext has no fixed OID: text format
            #expect(try rows[0].decode(String.self, column: 0) == "Mixed Case")
            #expect(try rows[0].decode(Bool.self, column: 1))
            let text = try await c.simpleQuery("SELECT 'Ünï'::citext")
            #expect(try text[0].rows[0].decode(String.self, column: 0) == "Ünï")
        }
    }

    @Test func timesAndDates() async throws {
        try await TestDB.withConnection { c in
            try await Self.utc(c)
            for t in [PGTime(hour: 0, minute: 0, second: 0), PGTime(hour: 13, minute: 30, second: 5, microsecond: 250_001),
                      PGTime(hour: 23, minute: 59, second: 59, microsecond: 999_999), PGTime(hour: 24, minute: 0, second: 0)] {
                try await Self.check(c, t, "time")
            }
            let stamps = [
                PGTimestamp(year: 1969, month: 7, day: 20, hour: 20, minute: 17, second: 40, microsecond: 1),
                PGTimestamp(year: 1900, month: 1, day: 1, microsecond: 999_999), PGTimestamp(year: 2150, month: 12, day: 31, hour: 23),
                PGTimestamp(year: 200_000, month: 6, day: 1, microsecond: 7), PGTimestamp(year: -4000, month: 1, day: 1),
                PGTimestamp(microsecondsSince2000: 0), .infinity, .negativeInfinity,
            ]
            for ts in stamps {
                try await Self.check(c, ts, "timestamptz", rendersText: false)
                try await Self.check(c, PGLocalTimestamp(microsecondsSince2000: ts.microsecondsSince2000), "timestamp", rendersText: false)
            }
            for date in [Date(timeIntervalSince1970: -1_234_567_890.125), Date(timeIntervalSince1970: 4_102_444_800.5), Date.distantFuture] {
                try await Self.check(c, date, "timestamptz", rendersText: false)
            }
            for day in [PGDate(year: 1960, month: 2, day: 29), PGDate(year: 2400, month: 12, day: 31), PGDate(year: -100, month: 3, day: 1)] {
                try await Self.check(c, day, "date", rendersText: false)
            }
            for i in [PGInterval(), PGInterval(months: 14, days: 3, microseconds: 14_706_789_000), PGInterval(months: -1, days: 2, microseconds: -3),
                      PGInterval(days: -1, microseconds: 7_380_000_000), PGInterval(microseconds: 3_600_000_000_000)] {
                try await Self.check(c, i, "interval")
            }
            // Other IntervalStyles in text format.
            for style in ["postgres_verbose", "iso_8601"] {
                try await c.simpleQuery("SET IntervalStyle = '\(style)'")
                let r = try await c.simpleQuery("SELECT '1 year 2 mons -3 days 04:05:06.789'::interval, '-1 days +02:03:00'::interval")
                #expect(try r[0].rows[0].decode(PGInterval.self, column: 0) == PGInterval(months: 14, days: -3, microseconds: 14_706_789_000), "\(style)")
                #expect(try r[0].rows[0].decode(PGInterval.self, column: 1) == PGInterval(days: -1, microseconds: 7_380_000_000), "\(style)")
            }
            try await c.simpleQuery("RESET IntervalStyle")
            // A timestamptz shown in another zone still decodes to the same instant (text path).
            try await c.simpleQuery("SET TimeZone = 'America/New_York'")
            let ny = try await c.simpleQuery("SELECT '2024-03-05 12:00:00.5+00'::timestamptz")
            #expect(try ny[0].rows[0].decode(PGTimestamp.self, column: 0) == PGTimestamp(year: 2024, month: 3, day: 5, hour: 12, microsecond: 500_000))
        }
    }

    struct Doc: Codable, Sendable, Equatable {
        var name: String
        var tags: [String]
        var n: Double?
    }

    @Test func json() async throws {
        try await TestDB.withConnection { c in
            let doc = PGJSON(Doc(name: "ünï ✓", tags: ["a", "b"], n: 1.5))
            let rows = try await c.query("SELECT $1::jsonb, $1::json, $1::jsonb -> 'tags'", [doc]).collect()
            #expect(rows[0].columns.columns[0].format == .binary && rows[0].columns.columns[1].format == .binary)
            #expect(try rows[0].decode(PGJSON<Doc>.self, column: 0) == doc)
            #expect(try rows[0].decode(PGJSON<Doc>.self, column: 1) == doc)
            #expect(try rows[0].decode(PGJSON<[String]>.self, column: 2).value == ["a", "b"])
            #expect(try rows[0].decode(PGJSONValue.self, column: 2).text == #"["a", "b"]"#)
            try await Self.check(c, PGJSONValue(#"{"a": [1, 2.5, null, "ü"]}"#), "jsonb")
            let text = try await c.simpleQuery(#"SELECT '{"name": "x", "tags": []}'::json, '{"name": "y", "tags": ["z"]}'::jsonb"#)
            #expect(try text[0].rows[0].decode(PGJSON<Doc>.self, column: 0).value == Doc(name: "x", tags: []))
            #expect(try text[0].rows[0].decode(PGJSON<Doc>.self, column: 1).value == Doc(name: "y", tags: ["z"]))
            // A jsonb parameter goes into a json column.
            try await c.simpleQuery("CREATE TEMP TABLE json_t(j json, b jsonb)")
            try await c.execute("INSERT INTO json_t VALUES ($1, $2)", [doc, PGJSONValue(#"{"k": 1}"#)])
            let back = try await c.query("SELECT j, b FROM json_t").collect()
            #expect(try back[0].decode(PGJSON<Doc>.self, column: 0) == doc)
            #expect(try back[0].decode(PGJSONValue.self, column: 1).text == #"{"k": 1}"#)
        }
    }

    @Test func arrays() async throws {
        try await TestDB.withConnection { c in
            try await Self.utc(c)
            try await Self.check(c, [Int32(1), -2, .max], "int4[]")
            try await Self.check(c, [Int32](), "int4[]")
            try await Self.check(c, [[Int32(1), 2, 3], [4, 5, 6]], "int4[]")
            try await Self.check(c, [[[Int64(1)], [2]], [[3], [4]]], "int8[]")
            try await Self.check(c, [Int32?.none, 7, nil], "int4[]")
            try await Self.check(c, [[Int16?.none, 1], [2, nil]], "int2[]")
            try await Self.check(c, [true, false], "bool[]")
            try await Self.check(c, ["a b", "", "NULL", "q\"uote", "back\\slash", "{}", "ü ✓", ","] as [String], "text[]")
            try await Self.check(c, ["x", nil] as [String?], "varchar[]")
            try await Self.check(c, [PGNumeric("1.50")!, .nan, .infinity, PGNumeric("-0.0001")!], "numeric[]")
            try await Self.check(c, [Decimal(string: "2.5")!], "numeric[]")
            try await Self.check(c, [PGTimestamp(year: 1950, month: 1, day: 1), .infinity], "timestamptz[]")
            try await Self.check(c, [PGLocalTimestamp(year: 2200, month: 1, day: 1)], "timestamp[]")
            try await Self.check(c, [PGTime(hour: 1, minute: 2, second: 3)], "time[]")
            try await Self.check(c, [PGInterval(months: 1, days: 1, microseconds: 1)], "interval[]")
            try await Self.check(c, [PGDate(year: 1999, month: 12, day: 31)], "date[]")
            try await Self.check(c, [UUID(), UUID()], "uuid[]")
            try await Self.check(c, [Data([0, 1, 0xFF]), Data()], "bytea[]")
            try await Self.check(c, [PGJSONValue(#"{"a": 1}"#), PGJSONValue("[]")], "jsonb[]")
            try await Self.check(c, [PGInet("10.0.0.1/8")!, PGInet("::1")!], "inet[]")
            try await Self.check(c, [PGRange<Int32>(lower: 1, upper: 5), .empty], "int4range[]")
            try await Self.check(c, [Date(timeIntervalSince1970: 0)], "timestamptz[]", rendersText: false)
            try await Self.check(c, [1.5, -0.25, .infinity, -.infinity, 0, 1e15, 1e14, 123_456_789_012_345.6, 1e-4, 1e-5, 0.1, .leastNonzeroMagnitude,
                                     .greatestFiniteMagnitude, 1e100, -2.5e-300, 100, Double.pi], "float8[]")
            try await Self.check(c, [Float(1.5), 1e6, 1e7, 123_456.7, 1e-4, 1e-5, .infinity, 0.1, -3.4e38, .leastNonzeroMagnitude], "float4[]")
            let nan = try await c.query("SELECT $1::float8[]", [[Double.nan]]).collect()
            #expect(try nan[0].decode(String.self, column: 0) == "{NaN}")
            #expect(try nan[0].decode([Double].self, column: 0).first?.isNaN == true)
            // Arrays with other lower bounds decode; 2-D into 1-D is an error.
            let rows = try await c.query("SELECT '[0:2]={1,2,3}'::int4[], '{{1,2},{3,4}}'::int4[]").collect()
            #expect(try rows[0].decode([Int32].self, column: 0) == [1, 2, 3])
            do {
                _ = try rows[0].decode([Int32].self, column: 1)
                Issue.record("2-D array decoded as [Int32]")
            } catch let e as PGError { #expect(e.code == .decoding) }
            // Ragged nested arrays cannot be encoded.
            await #expect(throws: PGError.self) { _ = try await c.query("SELECT $1::int4[]", [[[Int32(1)], [2, 3]]]) }
        }
    }

    @Test func networkRangesMoneyEnumsAndCustomTypes() async throws {
        try await TestDB.withConnection { c in
            try await Self.utc(c)
            for text in ["192.168.0.1/24", "10.1.2.3", "2001:db8::1", "::ffff:1.2.3.4", "fe80::1/64", "::"] {
                try await Self.check(c, PGInet(text)!, "inet")
            }
            for text in ["10.0.0.0/8", "2001:db8::/32", "192.168.1.0/24"] {
                try await Self.check(c, PGInet(text, cidr: true)!, "cidr")
            }
            try await Self.check(c, PGRange<Int32>(lower: 1, upper: 10), "int4range")
            try await Self.check(c, PGRange<Int32>.empty, "int4range")
            try await Self.check(c, PGRange<Int32>(lower: nil, upper: 5), "int4range")
            try await Self.check(c, PGRange<Int64>(lower: -5, upper: nil), "int8range")
            try await Self.check(c, PGRange<Int64>(lower: nil, upper: nil), "int8range")
            try await Self.check(c, PGRange<PGNumeric>(lower: PGNumeric("1.5"), upper: PGNumeric("2.5"), lowerInclusive: false, upperInclusive: true), "numrange")
            try await Self.check(c, PGRange<PGLocalTimestamp>(lower: PGLocalTimestamp(year: 2024, month: 1, day: 1), upper: .infinity), "tsrange")
            try await Self.check(c, PGRange<PGTimestamp>(lower: PGTimestamp(year: 1960, month: 1, day: 1, microsecond: 1), upper: PGTimestamp(year: 2200, month: 1, day: 1)), "tstzrange")
            try await Self.check(c, PGRange<PGDate>(lower: PGDate(year: 2024, month: 2, day: 1), upper: PGDate(year: 2024, month: 3, day: 1)), "daterange")
            // Discrete ranges come back canonical.
            let canonical = try await c.query("SELECT $1::int4range", [PGRange<Int32>(lower: 1, upper: 10, lowerInclusive: true, upperInclusive: true)]).collect()
            #expect(try canonical[0].decode(PGRange<Int32>.self, column: 0) == PGRange(lower: 1, upper: 11))

            let money = try await c.query("SELECT $1::money, $2::money[]", [PGMoney("12.34"), [PGMoney("1.5"), nil] as [PGMoney?]]).collect()
            #expect(money[0].columns.columns[0].format == .text)
            let shown = try money[0].decode(PGMoney.self, column: 0).text
            #expect(shown.contains("12.34"))
            #expect(try money[0].decode(String.self, column: 0) == shown)
            #expect(try money[0].decode([PGMoney?].self, column: 1).count == 2)

            let name = "tusk_weather_\(UInt32.random(in: 0...UInt32.max))"
            try await c.simpleQuery("CREATE TYPE \(name) AS ENUM ('sunny', 'cloudy', 'rainy')")
            do {
                let rows = try await c.query("SELECT $1::\(name), $2::\(name)[], 'rainy'::\(name)", [Weather.cloudy, [Weather.sunny, .rainy]]).collect()
                #expect(try rows[0].decode(Weather.self, column: 0) == .cloudy)
                #expect(try rows[0].decode([Weather].self, column: 1) == [.sunny, .rainy])
                #expect(try rows[0].decode(Weather.self, column: 2) == .rainy)
                let text = try await c.simpleQuery("SELECT 'sunny'::\(name), '{cloudy,NULL}'::\(name)[]")
                #expect(try text[0].rows[0].decode(Weather.self, column: 0) == .sunny)
                #expect(try text[0].rows[0].decode([Weather?].self, column: 1) == [.cloudy, nil])
                try await c.simpleQuery("CREATE TEMP TABLE enum_t(w \(name))")
                try await c.execute("INSERT INTO enum_t VALUES ($1)", [Weather.sunny])
                #expect(try await c.query("SELECT w FROM enum_t").collect()[0].decode(Weather.self, column: 0) == .sunny)
                try await c.simpleQuery("DROP TABLE enum_t; DROP TYPE \(name)")
            } catch {
                _ = try? await c.simpleQuery("DROP TABLE IF EXISTS enum_t; DROP TYPE IF EXISTS \(name)")
                throw error
            }

            let p = Point2D(x: 1.5, y: -2)
            let points = try await c.query("SELECT $1::point, ($1::point)[0]", [p]).collect()
            #expect(try points[0].decode(Point2D.self, column: 0) == p)
            #expect(try points[0].decode(Double.self, column: 1) == 1.5)
            let textPoint = try await c.simpleQuery("SELECT '(3,4)'::point")
            #expect(try textPoint[0].rows[0].decode(Point2D.self, column: 0) == Point2D(x: 3, y: 4))
        }
    }
}
