import Testing
@testable import PGWire

/// Builds backend messages byte by byte, the way a server would send them.
enum Server {
    static func message(_ type: Character, _ body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [type.asciiValue!]
        let length = UInt32(body.count + 4)
        out += [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        return out + body
    }
    static func int32(_ v: Int32) -> [UInt8] {
        let u = UInt32(bitPattern: v)
        return [UInt8(u >> 24), UInt8(u >> 16 & 0xFF), UInt8(u >> 8 & 0xFF), UInt8(u & 0xFF)]
    }
    static func int16(_ v: Int16) -> [UInt8] {
        let u = UInt16(bitPattern: v)
        return [UInt8(u >> 8), UInt8(u & 0xFF)]
    }
    static func cstring(_ s: String) -> [UInt8] { Array(s.utf8) + [0] }

    static func rowDescription(_ columns: [(String, UInt32)]) -> [UInt8] {
        var body = int16(Int16(columns.count))
        for (name, oid) in columns {
            body += cstring(name) + int32(0) + int16(0) + int32(Int32(bitPattern: oid)) + int16(4) + int32(-1) + int16(1)
        }
        return message("T", body)
    }
    static func dataRow(_ fields: [[UInt8]?]) -> [UInt8] {
        var body = int16(Int16(fields.count))
        for f in fields {
            if let f { body += int32(Int32(f.count)) + f } else { body += int32(-1) }
        }
        return message("D", body)
    }
    static func commandComplete(_ tag: String) -> [UInt8] { message("C", cstring(tag)) }
    static func readyForQuery(_ status: Character = "I") -> [UInt8] { message("Z", [status.asciiValue!]) }
    static func error(_ code: String, _ text: String, severity: String = "ERROR") -> [UInt8] {
        message("E", [UInt8(ascii: "S")] + cstring(severity) + [UInt8(ascii: "V")] + cstring(severity)
            + [UInt8(ascii: "C")] + cstring(code) + [UInt8(ascii: "M")] + cstring(text) + [0])
    }
}

@Suite struct BackendMessageDecoderTests {
    /// One of every message the client understands.
    static let transcript: [[UInt8]] = [
        Server.message("R", Server.int32(0)),
        Server.message("R", Server.int32(5) + [1, 2, 3, 4]),
        Server.message("R", Server.int32(10) + Server.cstring("SCRAM-SHA-256-PLUS") + Server.cstring("SCRAM-SHA-256") + [0]),
        Server.message("R", Server.int32(11) + Array("r=abc,s=xyz,i=4096".utf8)),
        Server.message("S", Server.cstring("server_version") + Server.cstring("15.4")),
        Server.message("K", Server.int32(1234) + Server.int32(5678)),
        Server.readyForQuery(),
        Server.message("1", []),
        Server.message("t", Server.int16(2) + Server.int32(23) + Server.int32(25)),
        Server.rowDescription([("a", 23), ("b", 25)]),
        Server.message("2", []),
        Server.dataRow([[0, 0, 0, 1], Array("héllo".utf8)]),
        Server.dataRow([nil, []]),
        Server.commandComplete("SELECT 2"),
        Server.error("23505", "duplicate key value violates unique constraint"),
        Server.message("N", [UInt8(ascii: "S")] + Server.cstring("NOTICE") + [UInt8(ascii: "C")] + Server.cstring("00000") + [UInt8(ascii: "M")] + Server.cstring("hi") + [0]),
        Server.message("A", Server.int32(99) + Server.cstring("chan") + Server.cstring("payload")),
        Server.message("n", []),
        Server.message("I", []),
        Server.message("s", []),
        Server.message("3", []),
        Server.message("v", Server.int32(0) + Server.int32(1) + Server.cstring("_pq_.x")),
        Server.message("G", [0] + Server.int16(1) + Server.int16(0)),
        Server.message("d", [1, 2, 3]),
        Server.message("c", []),
        Server.readyForQuery("T"),
    ]

    func decodeAll(_ bytes: [UInt8], chunks: [Int]) throws -> [PGBackendMessage] {
        var decoder = PGBackendMessageDecoder()
        var messages: [PGBackendMessage] = []
        var start = 0
        for end in chunks + [bytes.count] {
            decoder.append(bytes[start..<end])
            start = end
            while let m = try decoder.nextMessage() { messages.append(m) }
        }
        return messages
    }

    @Test func decodesEveryMessageType() throws {
        let bytes = Self.transcript.flatMap { $0 }
        let messages = try decodeAll(bytes, chunks: [])
        #expect(messages.map(\.name) == [
            "Authentication", "Authentication", "Authentication", "Authentication", "ParameterStatus", "BackendKeyData",
            "ReadyForQuery", "ParseComplete", "ParameterDescription", "RowDescription", "BindComplete", "DataRow", "DataRow",
            "CommandComplete", "ErrorResponse", "NoticeResponse", "NotificationResponse", "NoData", "EmptyQueryResponse",
            "PortalSuspended", "CloseComplete", "NegotiateProtocolVersion", "CopyInResponse", "CopyData", "CopyDone", "ReadyForQuery",
        ])
        guard case .authentication(.md5Password(let salt)) = messages[1] else { Issue.record("md5"); return }
        #expect(salt == [1, 2, 3, 4])
        guard case .authentication(.sasl(let mechs)) = messages[2] else { Issue.record("sasl"); return }
        #expect(mechs == ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"])
        guard case .dataRow(let row) = messages[11] else { Issue.record("row"); return }
        #expect(row.columnCount == 2)
        #expect(row.field(at: 0) == [0, 0, 0, 1][...])
        #expect(row.field(at: 1).map { String(decoding: $0, as: UTF8.self) } == "héllo")
        guard case .dataRow(let row2) = messages[12] else { Issue.record("row2"); return }
        #expect(row2.field(at: 0) == nil)
        #expect(row2.field(at: 1)?.count == 0)
        guard case .errorResponse(let info) = messages[14] else { Issue.record("error"); return }
        #expect(info.sqlState.rawValue == "23505")
        #expect(info.severity == "ERROR")
        guard case .notificationResponse(let pid, let channel, let payload) = messages[16] else { Issue.record("notify"); return }
        #expect(pid == 99 && channel == "chan" && payload == "payload")
        guard case .readyForQuery(.inTransaction) = messages.last else { Issue.record("rfq"); return }
    }

    /// Feeding the stream split at every byte position gives the same messages.
    @Test func splitAtEveryBytePosition() throws {
        let bytes = Self.transcript.flatMap { $0 }
        let whole = try decodeAll(bytes, chunks: []).map(\.name)
        for split in 1..<bytes.count {
            let names = try decodeAll(bytes, chunks: [split]).map(\.name)
            #expect(names == whole, "split at \(split)")
        }
        // And one byte at a time.
        let byByte = try decodeAll(bytes, chunks: Array(1..<bytes.count)).map(\.name)
        #expect(byByte == whole)
    }

    @Test func partialInputReturnsNil() throws {
        var decoder = PGBackendMessageDecoder()
        decoder.append(Server.commandComplete("SELECT 1").dropLast())
        #expect(try decoder.nextMessage()?.name == nil)
    }

    @Test func lengthUnderFourIsRejectedAtOnce() {
        var decoder = PGBackendMessageDecoder()
        decoder.append([UInt8(ascii: "Z"), 0, 0, 0, 3])
        #expect(throws: PGError.self) { try decoder.nextMessage() }
    }

    @Test func lengthOverMaximumIsRejectedWithoutWaiting() {
        var decoder = PGBackendMessageDecoder(maxMessageLength: 1024)
        // Only the header has arrived; the decoder must not wait for 2 GB of body.
        decoder.append([UInt8(ascii: "D"), 0x7F, 0xFF, 0xFF, 0xFF])
        do {
            _ = try decoder.nextMessage()
            Issue.record("expected a protocol violation")
        } catch {
            #expect(error.code == .protocolViolation)
            #expect(error.message.contains("exceeds the maximum"))
        }
    }

    @Test func unknownMessageTypeIsAViolation() {
        var decoder = PGBackendMessageDecoder()
        decoder.append(Server.message("~", []))
        #expect(throws: PGError.self) { try decoder.nextMessage() }
    }

    @Test func dataRowWithInconsistentLengthsIsAViolation() {
        // Declares 2 columns but carries one.
        var body = Server.int16(2) + Server.int32(1) + [7]
        var decoder = PGBackendMessageDecoder()
        decoder.append(Server.message("D", body))
        #expect(throws: PGError.self) { try decoder.nextMessage() }
        // Field length runs past the message.
        body = Server.int16(1) + Server.int32(10) + [1, 2]
        decoder = PGBackendMessageDecoder()
        decoder.append(Server.message("D", body))
        #expect(throws: PGError.self) { try decoder.nextMessage() }
        // Trailing bytes.
        body = Server.int16(1) + Server.int32(1) + [1, 2]
        decoder = PGBackendMessageDecoder()
        decoder.append(Server.message("D", body))
        #expect(throws: PGError.self) { try decoder.nextMessage() }
        // Negative length other than -1.
        body = Server.int16(1) + Server.int32(-5)
        decoder = PGBackendMessageDecoder()
        decoder.append(Server.message("D", body))
        #expect(throws: PGError.self) { try decoder.nextMessage() }
    }

    @Test func invalidUTF8InStringsIsAViolation() {
        var decoder = PGBackendMessageDecoder()
        decoder.append(Server.message("C", [0xC3, 0x28, 0]))
        #expect(throws: PGError.self) { try decoder.nextMessage() }
    }

    @Test func truncatedBodiesAreViolations() {
        for bad in [
            Server.message("Z", []),
            Server.message("Z", [UInt8(ascii: "Q")]),
            Server.message("K", [0, 0]),
            Server.message("R", [0, 0]),
            Server.message("R", Server.int32(5) + [1]),
            Server.message("T", Server.int16(1) + Server.cstring("a")),
            Server.message("C", Array("no terminator".utf8)),
            Server.message("E", [UInt8(ascii: "S")] + Server.cstring("ERROR")),
            Server.message("1", [1]),
            Server.message("R", Server.int32(42)),
        ] {
            var decoder = PGBackendMessageDecoder()
            decoder.append(bad)
            #expect(throws: PGError.self, "\(bad)") { try decoder.nextMessage() }
        }
    }

    @Test func readFromKeepsEarlierSlicesIntact() throws {
        var decoder = PGBackendMessageDecoder()
        let first = Server.dataRow([[1, 2, 3]]) + Array(Server.dataRow([[4, 5, 6]]).prefix(7))
        var remaining = first[...]
        _ = decoder.readFrom(capacity: 64) { p, cap in
            let n = min(cap, remaining.count)
            remaining.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: n) }
            remaining = remaining.dropFirst(n)
            return n
        }
        guard case .dataRow(let row1) = try decoder.nextMessage() else { Issue.record("row1"); return }
        #expect(try decoder.nextMessage()?.name == nil)
        let rest = Array(Server.dataRow([[4, 5, 6]]).dropFirst(7))
        _ = decoder.readFrom(capacity: 64) { p, _ in
            rest.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: rest.count) }
            return rest.count
        }
        guard case .dataRow(let row2) = try decoder.nextMessage() else { Issue.record("row2"); return }
        #expect(row1.field(at: 0) == [1, 2, 3][...])
        #expect(row2.field(at: 0) == [4, 5, 6][...])
    }
}


@Suite struct DecoderBufferGrowthTests {
    /// A message far larger than one read is read into one allocation sized from its header, not copied into
    /// fresh storage on every read.
    @Test func aLargeMessageIsReadInPlace() throws {
        var decoder = PGBackendMessageDecoder()
        let body = [UInt8](repeating: 0x78, count: 4_000_000)
        var message: [UInt8] = [UInt8(ascii: "d")]
        let length = UInt32(4 + body.count)
        message += [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        message += body
        var offset = 0
        var storages = Set<UInt>()
        while offset < message.count {
            let n = decoder.readFrom(capacity: 65_536) { pointer, capacity in
                let k = min(capacity, message.count - offset)
                message.withUnsafeBytes { src in pointer.copyMemory(from: src.baseAddress! + offset, byteCount: k) }
                return k
            }
            offset += n
            storages.insert(decoder.buffer.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) })
            if offset < message.count {
                let next = try decoder.nextMessage()
                #expect(next == nil)
            }
        }
        guard case .copyData(let bytes)? = try decoder.nextMessage() else {
            Issue.record("no CopyData")
            return
        }
        #expect(bytes.count == body.count)
        #expect(storages.count <= 3, "storage reallocated \(storages.count) times")
    }
}
