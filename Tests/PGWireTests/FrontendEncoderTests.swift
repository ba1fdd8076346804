import PGWire
import Testing

@Suite struct FrontendEncoderTests {
    /// The bytes of Bind + Execute + Sync written field by field.
    static func reference(_ statement: String, _ parameters: [any PGEncodable], _ formats: [PGFormat]) throws -> [UInt8] {
        var out = PGWriteBuffer()
        try PGFrontendEncoder.bind(statement: statement, parameters: parameters, resultFormats: formats, into: &out)
        PGFrontendEncoder.execute(into: &out)
        PGFrontendEncoder.sync(into: &out)
        return out.bytes
    }

    @Test(arguments: [
        ("s1", [PGFormat.binary]),
        ("tusk_3f2a_17", []),
        ("", [PGFormat.text, .binary, .binary]),
    ])
    func bindFromATemplateIsTheSameBytesAsFieldByField(statement: String, formats: [PGFormat]) throws {
        let cases: [[any PGEncodable]] = [
            [],
            [Int32(41)],
            [Int64(-7), "héllo", Optional<Int32>.none, true, 2.5],
            [Array(repeating: UInt8(0xAB), count: 300) as [UInt8], Int16(3)],
        ]
        for parameters in cases {
            let template = PGBindTemplate(statement: statement, parameterCount: parameters.count, resultFormats: formats)
            var out = PGWriteBuffer()
            out.writeCString("before")  // the template writes after whatever the buffer already holds
            try PGFrontendEncoder.bindExecuteSync(template, parameters: parameters, into: &out)
            var expected = PGWriteBuffer()
            expected.writeCString("before")
            expected.bytes += try Self.reference(statement, parameters, formats)
            #expect(out.bytes == expected.bytes, "\(parameters.count) values")
            // Run twice from the same template: it is not consumed.
            var again = PGWriteBuffer()
            try PGFrontendEncoder.bindExecuteSync(template, parameters: parameters, into: &again)
            #expect(again.bytes == (try Self.reference(statement, parameters, formats)))
        }
    }

    /// A Flush inserted after a templated Bind lands between the Bind and the Execute, from either way of
    /// writing Bind + Execute + Sync.
    @Test func aFlushGoesBetweenBindAndExecute() throws {
        let parameters: [any PGEncodable] = [Int32(7), "x"]
        var expected = PGWriteBuffer()
        try PGFrontendEncoder.bind(statement: "s1", parameters: parameters, resultFormats: [.binary], into: &expected)
        PGFrontendEncoder.flush(into: &expected)
        PGFrontendEncoder.execute(into: &expected)
        PGFrontendEncoder.sync(into: &expected)
        var templated = PGWriteBuffer()
        let template = PGBindTemplate(statement: "s1", parameterCount: 2, resultFormats: [.binary])
        try PGFrontendEncoder.bindExecuteSync(template, parameters: parameters, into: &templated)
        PGFrontendEncoder.insertFlushBeforeExecuteSync(into: &templated)
        #expect(templated.bytes == expected.bytes)
        var fieldByField = PGWriteBuffer()
        fieldByField.bytes = try Self.reference("s1", parameters, [.binary])
        PGFrontendEncoder.insertFlushBeforeExecuteSync(into: &fieldByField)
        #expect(fieldByField.bytes == expected.bytes)
    }
}
