// Array wire formats.
//
// Binary (array_send): ndim, has-null flag, element OID (Int32 each), then per dimension its length
// and lower bound, then each element as an Int32 length (-1 for NULL) and its bytes, row-major.
// Text (array_out): "{1,2,3}", "{{1,2},{3,4}}", "{\"a b\",NULL,\"q\\\"x\"}", optionally prefixed by
// dimension bounds ("[0:1]={1,2}"). An empty array has no dimensions ("{}", ndim 0).

extension PGCodec {
    /// Postgres' MAXDIM.
    static let maxArrayDimensions = 6

    /// Encodes `elements` as one array value, in binary format or (for text-format scalars) text format.
    static func encodeArray<N: PGArrayNode>(_ elements: [N], into buffer: inout PGWriteBuffer) throws {
        var dims: [Int] = []
        try elements.pgArrayShape(into: &dims)
        guard dims.count <= maxArrayDimensions else {
            throw cannotEncode([N].self, as: N.pgArrayDataType, reason: "more than \(maxArrayDimensions) dimensions")
        }
        let empty = dims.contains(0)
        var writer = PGArrayWriter(format: N.pgArrayFormat)
        if N.pgArrayFormat == .text {
            if !empty { try elements.pgArrayWriteLeaves(into: &writer) }
            var leaves = writer.textLeaves[...]
            var out: [UInt8] = []
            if empty {
                out = Array("{}".utf8)
            } else {
                appendTextLevel(&out, dims: dims[...], leaves: &leaves)
            }
            buffer.writeBytes(out)
            return
        }
        let elementOID = N.pgArrayLeafType.rawValue
        if empty {
            buffer.writeInteger(Int32(0))
            buffer.writeInteger(Int32(0))
            buffer.writeInteger(N.pgArrayLeafType.rawValue)
            return
        }
        buffer.writeInteger(Int32(dims.count))
        let hasNullOffset = buffer.count
        buffer.writeInteger(Int32(0))
        buffer.writeInteger(elementOID)
        for d in dims {
            guard let d32 = Int32(exactly: d) else { throw cannotEncode([N].self, as: N.pgArrayDataType, reason: "too many elements") }
            buffer.writeInteger(d32)
            buffer.writeInteger(Int32(1))
        }
        swap(&writer.buffer, &buffer)
        defer { swap(&writer.buffer, &buffer) }
        try elements.pgArrayWriteLeaves(into: &writer)
        if writer.hasNull { writer.buffer.setInt32(1, at: hasNullOffset) }
    }

    /// Appends one level of nested braces of a text array.
    static func appendTextLevel(_ out: inout [UInt8], dims: ArraySlice<Int>, leaves: inout ArraySlice<[UInt8]?>) {
        out.append(UInt8(ascii: "{"))
        let n = dims.first ?? 0
        for i in 0..<n {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            if dims.count > 1 {
                appendTextLevel(&out, dims: dims.dropFirst(), leaves: &leaves)
            } else if let leaf = leaves.popFirst() {
                if let leaf { out.append(contentsOf: quoteArrayText(leaf, always: false).utf8) } else { out.append(contentsOf: "NULL".utf8) }
            }
        }
        out.append(UInt8(ascii: "}"))
    }

    /// Quotes an element for array text as array_out does when needed (empty, "NULL", or containing
    /// braces, quotes, commas, backslashes or white space), or always (range bounds we send).
    static func quoteArrayText(_ text: [UInt8], always: Bool) -> String {
        let special: Set<UInt8> = [UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "\""), UInt8(ascii: ","),
                                   UInt8(ascii: "\\"), UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"),
                                   UInt8(ascii: "\r"), UInt8(ascii: "\u{0B}"), UInt8(ascii: "\u{0C}")]
        let needs = always || text.isEmpty || text.contains(where: special.contains)
            || (text.count == 4 && text.map({ $0 | 0x20 }) == Array("null".utf8))
        guard needs else { return String(decoding: text, as: UTF8.self) }
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for c in text {
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
            out.append(c)
        }
        out.append(UInt8(ascii: "\""))
        return String(decoding: out, as: UTF8.self)
    }

    /// A parsed array value: its dimensions, element type and elements (nil for NULL), row-major.
    struct ParsedArray {
        var dims: [Int]
        var elementType: PGDataType
        var elements: [ArraySlice<UInt8>?]
    }

    /// True when `type` may hold an array value: a known array type, or a type Tusk does not know (a
    /// user-defined array such as `mood[]`).
    static func mayBeArray(_ type: PGDataType, expected: PGDataType) -> Bool {
        type == expected || type.arrayElementType != nil || (PGDataType.rangeBoundTypes[type] == nil && type.description.hasPrefix("oid "))
    }

    /// Decodes an array value into `[N]`.
    static func decodeArray<N: PGArrayNode>(
        _ bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat, as: N.Type
    ) throws -> [N] {
        guard mayBeArray(type, expected: N.pgArrayDataType) else {
            throw unsupportedType([N].self, type: type, format: format)
        }
        let parsed: ParsedArray
        switch format {
        case .binary:
            guard let p = parseBinaryArray(bytes) else {
                throw invalidValue([N].self, type: type, format: format, bytes: bytes, reason: "malformed array")
            }
            if let expected = type.arrayElementType, expected != p.elementType {
                throw invalidValue([N].self, type: type, format: format, bytes: bytes, reason: "element type \(p.elementType) does not match")
            }
            parsed = p
        case .text:
            guard var p = parseTextArray(bytes) else {
                throw invalidValue([N].self, type: type, format: format, bytes: bytes, reason: "malformed array text")
            }
            p.elementType = type.arrayElementType ?? N.pgArrayLeafType
            parsed = p
        }
        if parsed.dims.isEmpty || parsed.dims.contains(0) { return [] }
        guard parsed.dims.count == N.pgArrayDepth + 1 else {
            throw PGError(code: .decoding, message: "cannot decode \(type) with \(parsed.dims.count) dimension(s) into \(name([N].self)), which has \(N.pgArrayDepth + 1)")
        }
        var reader = PGArrayReader(elements: parsed.elements, elementType: parsed.elementType, format: format,
                                   arrayType: type, swiftType: name([N].self))
        return try [N].pgArrayRead(from: &reader, dims: parsed.dims[...])
    }

    /// Parses the binary array format; nil when malformed.
    static func parseBinaryArray(_ bytes: ArraySlice<UInt8>) -> ParsedArray? {
        var cursor = PGReadCursor(bytes)
        guard let ndim = cursor.readInteger(as: Int32.self), let hasNull = cursor.readInteger(as: Int32.self),
            let oid = cursor.readInteger(as: UInt32.self), (0...Int32(maxArrayDimensions)).contains(ndim), hasNull == 0 || hasNull == 1
        else { return nil }
        var dims: [Int] = []
        var total = 1
        for _ in 0..<ndim {
            guard let d = cursor.readInteger(as: Int32.self), cursor.readInteger(as: Int32.self) != nil, d >= 0 else { return nil }
            dims.append(Int(d))
            total = total.multipliedReportingOverflow(by: Int(d)).overflow ? Int.max : total * Int(d)
        }
        if ndim == 0 { total = 0 }
        // Each element takes at least its 4-byte length: a hostile count cannot make us allocate.
        guard total <= cursor.remaining / 4 else { return nil }
        var elements: [ArraySlice<UInt8>?] = []
        elements.reserveCapacity(total)
        for _ in 0..<total {
            guard let length = cursor.readInteger(as: Int32.self) else { return nil }
            if length == -1 {
                guard hasNull == 1 else { return nil }
                elements.append(nil)
                continue
            }
            guard let slice = cursor.readSlice(Int(length)) else { return nil }
            elements.append(slice)
        }
        guard cursor.remaining == 0 else { return nil }
        return ParsedArray(dims: dims, elementType: PGDataType(oid), elements: elements)
    }

    /// Parses the text array format (array_in): nested braces, quoted elements with backslash
    /// escapes, unquoted NULL, optional "[lo:hi]…=" bounds; nil when malformed or ragged.
    static func parseTextArray(_ text: ArraySlice<UInt8>) -> ParsedArray? {
        var p = ArrayTextParser(text: text)
        return p.parse()
    }
}

/// The state of one text array parse.
struct ArrayTextParser {
    let text: ArraySlice<UInt8>
    var i: Int
    var dims: [Int?] = Array(repeating: nil, count: PGCodec.maxArrayDimensions)
    var leafDepth: Int?
    var storage: [UInt8] = []
    var ranges: [Range<Int>?] = []

    init(text: ArraySlice<UInt8>) {
        self.text = text
        self.i = text.startIndex
    }

    static func isSpace(_ c: UInt8) -> Bool {
        c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r")
            || c == 0x0B || c == 0x0C
    }

    mutating func skipSpace() {
        while i < text.endIndex, Self.isSpace(text[i]) { i += 1 }
    }

    mutating func parse() -> PGCodec.ParsedArray? {
        skipSpace()
        if i < text.endIndex, text[i] == UInt8(ascii: "[") {
            guard let eq = text[i...].firstIndex(of: UInt8(ascii: "=")) else { return nil }
            i = eq + 1
            skipSpace()
        }
        guard let count = level(0) else { return nil }
        skipSpace()
        guard i == text.endIndex else { return nil }
        if count == 0 && dims[1] == nil {
            return PGCodec.ParsedArray(dims: [], elementType: .unspecified, elements: [])
        }
        guard let leafDepth else { return nil }
        let found = dims[...leafDepth].compactMap { $0 }
        guard found.count == leafDepth + 1, dims[(leafDepth + 1)...].allSatisfy({ $0 == nil }) else { return nil }
        let elements = ranges.map { r -> ArraySlice<UInt8>? in r.map { storage[$0] } }
        return PGCodec.ParsedArray(dims: found, elementType: .unspecified, elements: elements)
    }

    /// Parses "{…}" at `depth`; returns its item count, checking it against siblings.
    mutating func level(_ depth: Int) -> Int? {
        guard depth < PGCodec.maxArrayDimensions, i < text.endIndex, text[i] == UInt8(ascii: "{") else { return nil }
        i += 1
        skipSpace()
        var count = 0
        if i < text.endIndex, text[i] == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                skipSpace()
                guard i < text.endIndex else { return nil }
                if text[i] == UInt8(ascii: "{") {
                    guard leafDepth.map({ $0 > depth }) ?? true, level(depth + 1) != nil else { return nil }
                } else {
                    guard leafDepth == nil || leafDepth == depth, element() else { return nil }
                    leafDepth = depth
                }
                count += 1
                skipSpace()
                guard i < text.endIndex else { return nil }
                if text[i] == UInt8(ascii: ",") {
                    i += 1
                } else if text[i] == UInt8(ascii: "}") {
                    i += 1
                    break
                } else {
                    return nil
                }
            }
        }
        if let known = dims[depth] {
            guard known == count else { return nil }
        } else {
            dims[depth] = count
        }
        return count
    }

    /// Parses one element (quoted or not) into `storage`.
    mutating func element() -> Bool {
        let start = storage.count
        if text[i] == UInt8(ascii: "\"") {
            i += 1
            while true {
                guard i < text.endIndex else { return false }
                let c = text[i]
                if c == UInt8(ascii: "\"") {
                    i += 1
                    break
                }
                if c == UInt8(ascii: "\\") {
                    i += 1
                    guard i < text.endIndex else { return false }
                }
                storage.append(text[i])
                i += 1
            }
            ranges.append(start..<storage.count)
            return true
        }
        var lastNonSpace = start
        var sawEscape = false
        while i < text.endIndex {
            let c = text[i]
            if c == UInt8(ascii: ",") || c == UInt8(ascii: "}") { break }
            if c == UInt8(ascii: "{") || c == UInt8(ascii: "\"") { return false }
            if c == UInt8(ascii: "\\") {
                i += 1
                guard i < text.endIndex else { return false }
                storage.append(text[i])
                sawEscape = true
                lastNonSpace = storage.count
            } else {
                storage.append(c)
                if !Self.isSpace(c) { lastNonSpace = storage.count }
            }
            i += 1
        }
        storage.removeSubrange(lastNonSpace...)
        guard storage.count > start else { return false }
        if !sawEscape, storage.count - start == 4, storage[start...].map({ $0 | 0x20 }) == Array("null".utf8) {
            storage.removeSubrange(start...)
            ranges.append(nil)
            return true
        }
        ranges.append(start..<storage.count)
        return true
    }
}
