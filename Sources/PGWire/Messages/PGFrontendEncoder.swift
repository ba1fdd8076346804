/// Encodes frontend (client → server) messages into a `PGWriteBuffer`.
///
/// Several messages can be appended to one buffer and sent with a single write.
///
/// ```swift
/// var out = PGWriteBuffer()
/// PGFrontendEncoder.query("SELECT 1", into: &out)
/// ```
public enum PGFrontendEncoder {
    /// Protocol version 3.0. (3.2, PostgreSQL 18+, changes BackendKeyData's key length; the decoder already accepts it.)
    public static let protocolVersion30: Int32 = 196_608
    /// Protocol version 3.2.
    public static let protocolVersion32: Int32 = 196_610

    @inlinable
    static func begin(_ type: UInt8, _ out: inout PGWriteBuffer) -> Int {
        out.bytes.append(type)
        let start = out.count
        out.writeInteger(Int32(0))
        return start
    }

    @inlinable
    static func end(_ start: Int, _ out: inout PGWriteBuffer) {
        out.setInt32(Int32(out.count - start), at: start)
    }

    /// StartupMessage with the given parameters (user, database, application_name, options, …).
    public static func startup(version: Int32 = protocolVersion30, parameters: [(String, String)], into out: inout PGWriteBuffer) {
        let start = out.count
        out.writeInteger(Int32(0))
        out.writeInteger(version)
        for (k, v) in parameters {
            out.writeCString(k)
            out.writeCString(v)
        }
        out.bytes.append(0)
        end(start, &out)
    }

    /// SSLRequest.
    public static func sslRequest(into out: inout PGWriteBuffer) {
        out.writeInteger(Int32(8))
        out.writeInteger(Int32(80_877_103))
    }

    /// CancelRequest, sent on a separate connection.
    public static func cancelRequest(processID: Int32, secretKey: [UInt8], into out: inout PGWriteBuffer) {
        out.writeInteger(Int32(12 + secretKey.count))
        out.writeInteger(Int32(80_877_102))
        out.writeInteger(processID)
        out.writeBytes(secretKey)
    }

    /// PasswordMessage ('p') carrying a cleartext or MD5 password (a NUL is appended).
    public static func password(_ bytes: [UInt8], into out: inout PGWriteBuffer) {
        let s = begin(UInt8(ascii: "p"), &out)
        out.writeBytes(bytes)
        out.bytes.append(0)
        end(s, &out)
    }

    /// SASLInitialResponse.
    public static func saslInitialResponse(mechanism: String, initialResponse: [UInt8], into out: inout PGWriteBuffer) {
        let s = begin(UInt8(ascii: "p"), &out)
        out.writeCString(mechanism)
        out.writeInteger(Int32(initialResponse.count))
        out.writeBytes(initialResponse)
        end(s, &out)
    }

    /// SASLResponse.
    public static func saslResponse(_ data: [UInt8], into out: inout PGWriteBuffer) {
        let s = begin(UInt8(ascii: "p"), &out)
        out.writeBytes(data)
        end(s, &out)
    }

    /// Simple Query.
    public static func query(_ sql: String, into out: inout PGWriteBuffer) {
        let s = begin(UInt8(ascii: "Q"), &out)
        out.writeCString(sql)
        end(s, &out)
    }

    /// Parse.
    public static func parse(statement: String, sql: String, parameterTypes: [PGDataType], into out: inout PGWriteBuffer) {
        let s = begin(UInt8(ascii: "P"), &out)
        out.writeCString(statement)
        out.writeCString(sql)
        out.writeInteger(Int16(truncatingIfNeeded: parameterTypes.count))
        for t in parameterTypes { out.writeInteger(t.rawValue) }
        end(s, &out)
    }

    /// Bind: encodes each parameter in place (no intermediate copies). `resultFormats` empty means all text;
    /// one entry applies to all columns.
    public static func bind(
        portal: String = "", statement: String, parameters: [any PGEncodable], resultFormats: [PGFormat],
        into out: inout PGWriteBuffer
    ) throws(PGError) {
        let s = begin(UInt8(ascii: "B"), &out)
        out.writeCString(portal)
        out.writeCString(statement)
        // Parameter formats: one code when all agree.
        let allBinary = parameters.allSatisfy { type(of: $0).pgFormat == .binary }
        if allBinary {
            out.writeInteger(Int16(1))
            out.writeInteger(Int16(1))
        } else {
            out.writeInteger(Int16(truncatingIfNeeded: parameters.count))
            for p in parameters { out.writeInteger(type(of: p).pgFormat.rawValue) }
        }
        out.writeInteger(Int16(truncatingIfNeeded: parameters.count))
        try writeParameterValues(parameters, into: &out)
        out.writeInteger(Int16(truncatingIfNeeded: resultFormats.count))
        for f in resultFormats { out.writeInteger(f.rawValue) }
        end(s, &out)
    }

    /// Each value as its length and bytes (-1 for NULL), as Bind carries them.
    static func writeParameterValues(_ parameters: [any PGEncodable], into out: inout PGWriteBuffer) throws(PGError) {
        for (i, p) in parameters.enumerated() {
            if p.pgIsNull {
                out.writeInteger(Int32(-1))
                continue
            }
            let lengthAt = out.count
            out.writeInteger(Int32(0))
            do {
                try p.encode(into: &out)
            } catch let e as PGError {
                throw e
            } catch {
                throw PGError(code: .encoding, message: "parameter $\(i + 1) could not be encoded", underlying: "\(type(of: error))")
            }
            out.setInt32(Int32(out.count - lengthAt - 4), at: lengthAt)
        }
    }

    /// Bind (unnamed portal, every value in binary) + Execute (all rows) + Sync for a statement run again and
    /// again: the parts that do not change are copied from `template`, so a run costs a few copies and the
    /// values' encoding instead of a write per field. Same bytes as `bind` + `execute` + `sync`.
    ///
    /// ```swift
    /// let template = PGBindTemplate(statement: "s1", parameterCount: 1, resultFormats: [.binary])
    /// var out = PGWriteBuffer()
    /// try PGFrontendEncoder.bindExecuteSync(template, parameters: [Int32(41)], into: &out)
    /// ```
    public static func bindExecuteSync(_ template: PGBindTemplate, parameters: [any PGEncodable],
                                       into out: inout PGWriteBuffer) throws(PGError) {
        let start = out.count
        out.bytes.append(contentsOf: template.head)
        try writeParameterValues(parameters, into: &out)
        out.bytes.append(contentsOf: template.tail)
        out.setInt32(Int32(out.count - PGBindTemplate.executeSyncCount - start - 1), at: start + 1)
    }

    /// Inserts a Flush between the Bind and the Execute and Sync that `bindExecuteSync` has just written, so the
    /// server sends BindComplete as soon as it has read the Bind (a sign it holds the whole request).
    ///
    /// ```swift
    /// try PGFrontendEncoder.bindExecuteSync(template, parameters: [big], into: &out)
    /// PGFrontendEncoder.insertFlushBeforeExecuteSync(into: &out)
    /// ```
    public static func insertFlushBeforeExecuteSync(into out: inout PGWriteBuffer) {
        out.bytes.insert(contentsOf: [UInt8(ascii: "H"), 0, 0, 0, 4], at: out.count - PGBindTemplate.executeSyncCount)
    }

    /// Describe a statement ('S') or portal ('P').
    public static func describe(statement: String, into out: inout PGWriteBuffer) {
        let s = begin(UInt8(ascii: "D"), &out)
        out.bytes.append(UInt8(ascii: "S"))
        out.writeCString(statement)
        end(s, &out)
    }

    /// Describe a portal.
    public static func describe(portal: String, into out: inout PGWriteBuffer) {
        let s = begin(UInt8(ascii: "D"), &out)
        out.bytes.append(UInt8(ascii: "P"))
        out.writeCString(portal)
        end(s, &out)
    }

    /// Execute (maxRows 0 = all).
    public static func execute(portal: String = "", maxRows: Int32 = 0, into out: inout PGWriteBuffer) {
        let s = begin(UInt8(ascii: "E"), &out)
        out.writeCString(portal)
        out.writeInteger(maxRows)
        end(s, &out)
    }

    /// Close a statement.
    public static func close(statement: String, into out: inout PGWriteBuffer) {
        let s = begin(UInt8(ascii: "C"), &out)
        out.bytes.append(UInt8(ascii: "S"))
        out.writeCString(statement)
        end(s, &out)
    }

    /// Sync.
    @inlinable
    public static func sync(into out: inout PGWriteBuffer) {
        out.bytes.append(contentsOf: [UInt8(ascii: "S"), 0, 0, 0, 4])
    }

    /// Flush.
    public static func flush(into out: inout PGWriteBuffer) {
        out.bytes.append(contentsOf: [UInt8(ascii: "H"), 0, 0, 0, 4])
    }

    /// Terminate.
    public static func terminate(into out: inout PGWriteBuffer) {
        out.bytes.append(contentsOf: [UInt8(ascii: "X"), 0, 0, 0, 4])
    }

    /// CopyData.
    public static func copyData<C: Collection>(_ data: C, into out: inout PGWriteBuffer) where C.Element == UInt8 {
        let s = begin(UInt8(ascii: "d"), &out)
        out.writeBytes(data)
        end(s, &out)
    }

    /// CopyDone.
    public static func copyDone(into out: inout PGWriteBuffer) {
        out.bytes.append(contentsOf: [UInt8(ascii: "c"), 0, 0, 0, 4])
    }

    /// CopyFail with a reason.
    public static func copyFail(reason: String, into out: inout PGWriteBuffer) {
        let s = begin(UInt8(ascii: "f"), &out)
        out.writeCString(reason)
        end(s, &out)
    }
}

/// The unchanging bytes of Bind + Execute + Sync for one prepared statement whose values all go in binary
/// (see `PGFrontendEncoder.bindExecuteSync`).
///
/// ```swift
/// let template = PGBindTemplate(statement: "s1", parameterCount: 2, resultFormats: [])
/// ```
public struct PGBindTemplate: Sendable {
    /// 'B', a length to fill in, the unnamed portal, the statement's name, one format code (binary) and the
    /// number of values.
    let head: [UInt8]
    /// The result-format codes, then Execute (unnamed portal, all rows) and Sync.
    let tail: [UInt8]
    static let executeSyncCount = 10 + 5

    public init(statement: String, parameterCount: Int, resultFormats: [PGFormat]) {
        var h = PGWriteBuffer(capacity: 16 + statement.utf8.count)
        h.bytes.append(UInt8(ascii: "B"))
        h.writeInteger(Int32(0))
        h.writeCString("")
        h.writeCString(statement)
        h.writeInteger(Int16(1))
        h.writeInteger(Int16(1))
        h.writeInteger(Int16(truncatingIfNeeded: parameterCount))
        head = h.bytes
        var t = PGWriteBuffer(capacity: 2 + 2 * resultFormats.count + Self.executeSyncCount)
        t.writeInteger(Int16(truncatingIfNeeded: resultFormats.count))
        for f in resultFormats { t.writeInteger(f.rawValue) }
        PGFrontendEncoder.execute(into: &t)
        PGFrontendEncoder.sync(into: &t)
        tail = t.bytes
    }
}
