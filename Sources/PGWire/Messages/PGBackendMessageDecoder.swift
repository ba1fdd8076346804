/// Splits the server's byte stream into messages and decodes them.
///
/// Framing never waits for bytes a hostile header promised: a length under 4 or over `maxMessageLength`
/// is rejected as soon as the 5-byte header has arrived. Partial input returns `nil` until more bytes come.
///
/// ```swift
/// var decoder = PGBackendMessageDecoder(maxMessageLength: 1 << 20)
/// decoder.append([0x5A, 0, 0, 0, 5, 0x49]) // ReadyForQuery, idle
/// let message = try decoder.nextMessage()   // .readyForQuery(.idle)
/// ```
public struct PGBackendMessageDecoder: Sendable {
    /// Messages longer than this (the length field, in bytes) are rejected as protocol violations.
    public let maxMessageLength: Int
    /// Received bytes live in `buffer[readIndex..<writeIndex]`. The array's count is its whole allocation
    /// (bytes past `writeIndex` are scratch), so a read can fill the storage in place.
    @usableFromInline var buffer: [UInt8] = []
    @usableFromInline var readIndex: Int = 0
    @usableFromInline var writeIndex: Int = 0

    /// Creates a decoder. The default maximum is 1 GiB.
    public init(maxMessageLength: Int = 1 << 30) {
        self.maxMessageLength = maxMessageLength
    }

    /// How much the next read should ask for: grows (to 64 KiB) while reads fill it, shrinks (to 4 KiB) while
    /// they use little of it. Fresh storage is needed whenever decoded rows still hold the old one, so small
    /// replies should not cost a 64 KiB allocation each (glibc consolidates and trims around that size).
    public private(set) var preferredReadSize = 16_384

    /// Bytes received but not yet decoded.
    @inlinable public var unreadCount: Int { writeIndex - readIndex }

    /// Appends received bytes.
    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let count = bytes.count
        _ = readFrom(capacity: count) { pointer, capacity in
            let target = pointer.bindMemory(to: UInt8.self, capacity: capacity)
            _ = UnsafeMutableBufferPointer(start: target, count: capacity).initialize(from: bytes)
            return count
        }
    }

    /// Reads from a source into the buffer: `read(pointer, capacity)` returns the bytes written (0 for end of
    /// stream, negative for "nothing now"). Rows already decoded keep referencing the storage they came from: the
    /// storage is filled in place when it has room (copy-on-write copies it first if such rows are still alive,
    /// so they never see their bytes change), and replaced by a larger one otherwise — sized for the whole message
    /// that has started when its header is here, so a message far larger than one read is not copied per read.
    public mutating func readFrom(capacity: Int = 65_536, _ read: (UnsafeMutableRawPointer, Int) -> Int) -> Int {
        let tail = writeIndex - readIndex
        let from = readIndex
        var needed = tail + capacity
        if tail >= 5 {
            let length = buffer.withUnsafeBufferPointer { Self.lengthField($0.baseAddress! + from) }
            if length <= maxMessageLength { needed = max(needed, 1 + length) }
        }
        var result = 0
        if needed <= buffer.count {
            buffer.withUnsafeMutableBufferPointer { storage in
                let base = storage.baseAddress!
                if tail > 0 && from > 0 { base.update(from: base + from, count: tail) }
                result = read(UnsafeMutableRawPointer(base + tail), min(capacity, storage.count - tail))
            }
        } else {
            let size = max(needed, tail + max(capacity, 4096), 2 * tail)
            buffer = [UInt8](unsafeUninitializedCapacity: size) { storage, initialized in
                if tail > 0 {
                    buffer.withUnsafeBufferPointer { old in
                        storage.baseAddress!.update(from: old.baseAddress! + from, count: tail)
                    }
                }
                result = read(UnsafeMutableRawPointer(storage.baseAddress! + tail), capacity)
                // The whole allocation counts as the array (UInt8 is trivial); only [0, writeIndex) is data.
                initialized = storage.count
            }
        }
        readIndex = 0
        writeIndex = tail + max(result, 0)
        if result >= capacity {
            preferredReadSize = min(preferredReadSize * 2, 65_536)
        } else if result >= 0, result < capacity / 4 {
            preferredReadSize = max(preferredReadSize / 2, 4096)
        }
        return result
    }

    /// One framed message: its type byte and where its body lies in the buffer.
    public struct Frame: Sendable {
        public let type: UInt8
        @usableFromInline let bodyStart: Int
        @usableFromInline let bodyEnd: Int
        @inlinable init(type: UInt8, bodyStart: Int, bodyEnd: Int) {
            self.type = type
            self.bodyStart = bodyStart
            self.bodyEnd = bodyEnd
        }
    }

    /// The next complete message's frame, or nil when more bytes are needed. Checks the length as soon as the
    /// 5-byte header is there; the body is decoded with `message(_:)` or `dataRow(_:)`.
    @inlinable
    public mutating func nextFrame() throws(PGError) -> Frame? {
        let available = writeIndex - readIndex
        guard available >= 5 else { return nil }
        let (type, length) = buffer.withUnsafeBufferPointer { b in
            let p = b.baseAddress! + readIndex
            return (p[0], Self.lengthField(p))
        }
        guard length >= 4, length <= maxMessageLength else { throw Self.badLength(type, length, maxMessageLength) }
        guard available >= 1 + length else { return nil }
        let frame = Frame(type: type, bodyStart: readIndex + 5, bodyEnd: readIndex + 1 + length)
        readIndex = frame.bodyEnd
        return frame
    }

    /// The big-endian length after a message's type byte at `header`.
    @inlinable
    static func lengthField(_ header: UnsafePointer<UInt8>) -> Int {
        Int(UInt32(header[1]) << 24 | UInt32(header[2]) << 16 | UInt32(header[3]) << 8 | UInt32(header[4]))
    }

    @usableFromInline
    static func badLength(_ type: UInt8, _ length: Int, _ maximum: Int) -> PGError {
        length < 4
            ? .violation("message '\(printable(type))' has an invalid length \(length) (under 4)")
            : .violation("message '\(printable(type))' length \(length) exceeds the maximum \(maximum)")
    }

    /// Decodes a framed message.
    public func message(_ frame: Frame) throws(PGError) -> PGBackendMessage {
        if frame.type == UInt8(ascii: "D") { return .dataRow(try dataRow(frame)) }
        return try Self.decode(type: frame.type, body: buffer[frame.bodyStart..<frame.bodyEnd])
    }

    /// Decodes a framed DataRow (type "D"), checking every field length against the message.
    public func dataRow(_ frame: Frame) throws(PGError) -> PGDataRow {
        try Self.dataRow(body: buffer[frame.bodyStart..<frame.bodyEnd])
    }

    /// Decodes the next complete message, or returns nil when more bytes are needed.
    /// Throws a `.protocolViolation` PGError for a bad length, an unknown type or a malformed body;
    /// after a throw the stream is unusable and the connection must be closed.
    public mutating func nextMessage() throws(PGError) -> PGBackendMessage? {
        guard let frame = try nextFrame() else { return nil }
        return try message(frame)
    }

    static func dataRow(body: ArraySlice<UInt8>) throws(PGError) -> PGDataRow {
        let end = body.endIndex
        guard end - body.startIndex >= 2 else { throw .violation("DataRow without a valid column count") }
        let count = Int(Int16(bitPattern: UInt16(body[body.startIndex]) << 8 | UInt16(body[body.startIndex + 1])))
        guard count >= 0 else { throw .violation("DataRow without a valid column count") }
        // Validate every field length now, so later lazy access can never run past the message.
        let fieldsStart = body.startIndex + 2
        let ok: PGError? = body.withUnsafeBufferPointer { b -> PGError? in
            let base = b.baseAddress!
            var offset = 2
            let total = b.count
            for _ in 0..<count {
                guard total - offset >= 4 else { return .violation("DataRow is shorter than its column count says") }
                let p = base + offset
                let length = Int(Int32(bitPattern: UInt32(p[0]) << 24 | UInt32(p[1]) << 16 | UInt32(p[2]) << 8 | UInt32(p[3])))
                offset += 4
                if length < -1 { return .violation("DataRow field has a negative length \(length)") }
                if length > 0 {
                    guard total - offset >= length else { return .violation("DataRow field length \(length) runs past the message") }
                    offset += length
                }
            }
            guard offset == total else { return .violation("DataRow has \(total - offset) trailing bytes") }
            return nil
        }
        if let ok { throw ok }
        return PGDataRow(fields: body[fieldsStart..<end], columnCount: count)
    }

    static func printable(_ type: UInt8) -> String {
        (0x20..<0x7F).contains(type) ? String(UnicodeScalar(type)) : "0x" + String(type, radix: 16)
    }

    /// Decodes one message body (without the type byte and length).
    public static func decode(type: UInt8, body: ArraySlice<UInt8>) throws(PGError) -> PGBackendMessage {
        var c = PGReadCursor(body)
        let message: PGBackendMessage
        switch type {
        case UInt8(ascii: "D"):
            return .dataRow(try dataRow(body: body))
        case UInt8(ascii: "C"):
            message = .commandComplete(tag: try cstring(&c, "CommandComplete"))
        case UInt8(ascii: "Z"):
            guard let s = c.readInteger(as: UInt8.self), let status = PGBackendMessage.TransactionStatus(rawValue: s) else {
                throw .violation("ReadyForQuery with an unknown transaction status")
            }
            message = .readyForQuery(status)
        case UInt8(ascii: "1"): message = .parseComplete
        case UInt8(ascii: "2"): message = .bindComplete
        case UInt8(ascii: "3"): message = .closeComplete
        case UInt8(ascii: "n"): message = .noData
        case UInt8(ascii: "s"): message = .portalSuspended
        case UInt8(ascii: "I"): message = .emptyQueryResponse
        case UInt8(ascii: "c"): message = .copyDone
        case UInt8(ascii: "d"): return .copyData(body)
        case UInt8(ascii: "T"):
            guard let count = c.readInteger(as: Int16.self), count >= 0 else { throw .violation("RowDescription without a valid column count") }
            var columns: [PGRowDescription.Column] = []
            columns.reserveCapacity(Int(count))
            for _ in 0..<count {
                let name = try cstring(&c, "RowDescription")
                guard let table = c.readInteger(as: UInt32.self), let attr = c.readInteger(as: Int16.self),
                      let oid = c.readInteger(as: UInt32.self), let size = c.readInteger(as: Int16.self),
                      let mod = c.readInteger(as: Int32.self), let fmt = c.readInteger(as: Int16.self),
                      let format = PGFormat(rawValue: fmt)
                else { throw .violation("RowDescription is truncated or has an unknown format code") }
                columns.append(.init(name: name, tableOID: table, columnAttributeNumber: attr, dataType: PGDataType(oid),
                                     dataTypeSize: size, dataTypeModifier: mod, format: format))
            }
            message = .rowDescription(PGRowDescription(columns: columns))
        case UInt8(ascii: "t"):
            guard let count = c.readInteger(as: Int16.self), count >= 0 else { throw .violation("ParameterDescription without a valid count") }
            var types: [PGDataType] = []
            for _ in 0..<count {
                guard let oid = c.readInteger(as: UInt32.self) else { throw .violation("ParameterDescription is truncated") }
                types.append(PGDataType(oid))
            }
            message = .parameterDescription(types)
        case UInt8(ascii: "E"):
            message = .errorResponse(try fields(&c, "ErrorResponse"))
        case UInt8(ascii: "N"):
            message = .noticeResponse(try fields(&c, "NoticeResponse"))
        case UInt8(ascii: "S"):
            let name = try cstring(&c, "ParameterStatus")
            let value = try cstring(&c, "ParameterStatus")
            message = .parameterStatus(name: name, value: value)
        case UInt8(ascii: "K"):
            guard let pid = c.readInteger(as: Int32.self), c.remaining >= 4, c.remaining <= 256,
                  let key = c.readSlice(c.remaining) else { throw .violation("BackendKeyData is malformed") }
            message = .backendKeyData(processID: pid, secretKey: Array(key))
        case UInt8(ascii: "A"):
            guard let pid = c.readInteger(as: Int32.self) else { throw .violation("NotificationResponse is truncated") }
            let channel = try cstring(&c, "NotificationResponse")
            let payload = try cstring(&c, "NotificationResponse")
            message = .notificationResponse(processID: pid, channel: channel, payload: payload)
        case UInt8(ascii: "v"):
            guard let minor = c.readInteger(as: Int32.self), let n = c.readInteger(as: Int32.self), n >= 0 else {
                throw .violation("NegotiateProtocolVersion is truncated")
            }
            var options: [String] = []
            for _ in 0..<n { options.append(try cstring(&c, "NegotiateProtocolVersion")) }
            message = .negotiateProtocolVersion(newestMinor: minor, unrecognizedOptions: options)
        case UInt8(ascii: "G"), UInt8(ascii: "H"), UInt8(ascii: "W"):
            guard let overall = c.readInteger(as: Int8.self), let format = PGFormat(rawValue: Int16(overall)),
                  let n = c.readInteger(as: Int16.self), n >= 0 else { throw .violation("Copy response is malformed") }
            var formats: [PGFormat] = []
            for _ in 0..<n {
                guard let f = c.readInteger(as: Int16.self), let pf = PGFormat(rawValue: f) else {
                    throw .violation("Copy response has a bad column format")
                }
                formats.append(pf)
            }
            switch type {
            case UInt8(ascii: "G"): message = .copyInResponse(format: format, columnFormats: formats)
            case UInt8(ascii: "H"): message = .copyOutResponse(format: format, columnFormats: formats)
            default: message = .copyBothResponse(format: format, columnFormats: formats)
            }
        case UInt8(ascii: "R"):
            message = .authentication(try authentication(&c))
        default:
            throw .violation("unknown message type '\(printable(type))'")
        }
        guard c.remaining == 0 else {
            throw .violation("\(message.name) has \(c.remaining) unexpected trailing bytes")
        }
        return message
    }

    private static func cstring(_ c: inout PGReadCursor, _ what: String) throws(PGError) -> String {
        guard let s = c.readCString() else { throw .violation("\(what) has an unterminated or invalid UTF-8 string") }
        return s
    }

    private static func fields(_ c: inout PGReadCursor, _ what: String) throws(PGError) -> PGServerErrorInfo {
        var map: [UInt8: String] = [:]
        while true {
            guard let code = c.readInteger(as: UInt8.self) else { throw .violation("\(what) is not terminated") }
            if code == 0 { break }
            map[code] = try cstring(&c, what)
        }
        return PGServerErrorInfo(fields: map)
    }

    private static func authentication(_ c: inout PGReadCursor) throws(PGError) -> PGBackendMessage.Authentication {
        guard let kind = c.readInteger(as: Int32.self) else { throw .violation("Authentication message is truncated") }
        switch kind {
        case 0: return .ok
        case 2: return .kerberosV5
        case 3: return .cleartextPassword
        case 5:
            guard let salt = c.readSlice(4) else { throw .violation("AuthenticationMD5Password without a salt") }
            return .md5Password(salt: Array(salt))
        case 6: return .scmCredential
        case 7: return .gss
        case 8: return .gssContinue(data: Array(c.readSlice(c.remaining) ?? []))
        case 9: return .sspi
        case 10:
            var mechanisms: [String] = []
            while true {
                let m = try cstring(&c, "AuthenticationSASL")
                if m.isEmpty { break }
                mechanisms.append(m)
            }
            return .sasl(mechanisms: mechanisms)
        case 11: return .saslContinue(data: Array(c.readSlice(c.remaining) ?? []))
        case 12: return .saslFinal(data: Array(c.readSlice(c.remaining) ?? []))
        default: throw .violation("unknown authentication request \(kind)")
        }
    }
}
