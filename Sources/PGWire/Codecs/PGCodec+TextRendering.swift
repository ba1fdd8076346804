// The text form of binary values, so that `String` (and `PGTextValue`) can decode every column type
// Tusk requests in binary format, as they decode the text form of any type.
//
// Output matches Postgres' own text output with default settings, except that `timestamptz` is
// shown in UTC ("+00") whatever the session's TimeZone.

extension PGCodec {
    /// Types whose binary form is their text.
    static let textLikeTypes: Set<PGDataType> = [.text, .varchar, .name, .bpchar, .char, .json, .pgUnknown, .pgXML]

    /// True for the types whose binary values `String` decodes by rendering them: numeric, time, interval,
    /// inet, cidr, money, ranges and arrays. (Integers, bool, uuid, bytea, date and timestamps keep the
    /// earlier rule, a decoding error in binary format, though they are rendered inside arrays and ranges.)
    @usableFromInline
    static func rendersAsText(_ type: PGDataType) -> Bool {
        switch type {
        case .numeric, .time, .interval, .inet, .cidr, .money: true
        default: type.arrayElementType != nil || PGDataType.rangeBoundTypes[type] != nil
        }
    }

    /// The text form of a binary value of `type`, or nil when Tusk cannot render that type or the bytes are malformed.
    @usableFromInline
    static func renderBinary(_ bytes: ArraySlice<UInt8>, type: PGDataType) -> [UInt8]? {
        if textLikeTypes.contains(type) { return Array(bytes) }
        switch type {
        case .jsonb:
            return bytes.first == 1 ? Array(bytes.dropFirst()) : nil
        case .bool:
            guard bytes.count == 1, bytes.first.map({ $0 <= 1 }) == true else { return nil }
            return bytes.first == 1 ? [UInt8(ascii: "t")] : [UInt8(ascii: "f")]
        case .int2, .int4, .int8, .oid:
            return (try? decodeInteger(bytes, type: type, format: .binary, as: Int64.self)).map { Array(String($0).utf8) }
        case .numeric:
            return (try? decodeNumeric(bytes, type: type, format: .binary, swiftType: String.self)).map { Array($0.description.utf8) }
        case .uuid:
            guard bytes.count == 16 else { return nil }
            var out: [UInt8] = []
            for (i, b) in bytes.enumerated() {
                if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
                out.append(contentsOf: hexDigits(b))
            }
            return out
        case .bytea:
            return Array("\\x".utf8) + bytes.flatMap(hexDigits)
        case .date:
            guard bytes.count == 4 else { return nil }
            switch loadBigEndian(bytes, as: Int32.self) {
            case .max: return Array("infinity".utf8)
            case .min: return Array("-infinity".utf8)
            default: return (try? PGDate(pgBytes: bytes, type: .date, format: .binary)).map { Array($0.description.utf8) }
            }
        case .time:
            return (try? PGTime(pgBytes: bytes, type: type, format: .binary)).map { renderTimeOfDay($0.microsecondsSinceMidnight) }
        case .timestamp, .timestamptz:
            guard bytes.count == 8 else { return nil }
            return renderTimestamp(loadBigEndian(bytes, as: Int64.self), withZone: type == .timestamptz)
        case .interval:
            return (try? PGInterval(pgBytes: bytes, type: type, format: .binary)).map(renderInterval)
        case .inet, .cidr:
            return (try? PGInet(pgBytes: bytes, type: type, format: .binary)).map { Array($0.description.utf8) }
        case .float8:
            guard bytes.count == 8 else { return nil }
            let v = Double(bitPattern: loadBigEndian(bytes, as: UInt64.self))
            return renderFloat(v.description, isNaN: v.isNaN, isInfinite: v.isInfinite, negative: v.sign == .minus, float4: false)
        case .float4:
            guard bytes.count == 4 else { return nil }
            let v = Float(bitPattern: loadBigEndian(bytes, as: UInt32.self))
            return renderFloat(v.description, isNaN: v.isNaN, isInfinite: v.isInfinite, negative: v.sign == .minus, float4: true)
        case .money:
            return (try? PGMoney(pgBytes: bytes, type: type, format: .binary)).map { Array($0.text.utf8) }
        default:
            if let boundType = PGDataType.rangeBoundTypes[type] { return renderRange(bytes, boundType: boundType) }
            if type.arrayElementType != nil { return renderArray(bytes) }
            return nil
        }
    }

    static func hexDigits(_ b: UInt8) -> [UInt8] {
        let digits = Array("0123456789abcdef".utf8)
        return [digits[Int(b >> 4)], digits[Int(b & 0xF)]]
    }

    /// "[lower,upper)" with bounds rendered and quoted as Postgres' range_out does.
    static func renderRange(_ bytes: ArraySlice<UInt8>, boundType: PGDataType) -> [UInt8]? {
        var cursor = PGReadCursor(bytes)
        guard let flags = cursor.readInteger(as: UInt8.self) else { return nil }
        if flags & 0x01 != 0 { return Array("empty".utf8) }
        var out: [UInt8] = [flags & 0x02 != 0 ? UInt8(ascii: "[") : UInt8(ascii: "(")]
        for (infinite, separator) in [(UInt8(0x08), UInt8(ascii: ",")), (UInt8(0x10), flags & 0x04 != 0 ? UInt8(ascii: "]") : UInt8(ascii: ")"))] {
            if flags & infinite == 0 {
                guard let length = cursor.readInteger(as: Int32.self), let slice = cursor.readSlice(Int(length)),
                    let text = renderBinary(slice, type: boundType)
                else { return nil }
                out.append(contentsOf: quoteRangeBound(text).utf8)
            }
            out.append(separator)
        }
        return cursor.remaining == 0 ? out : nil
    }

    /// Range bounds are quoted when they contain quotes, backslashes, commas, brackets, parentheses or spaces.
    static func quoteRangeBound(_ text: [UInt8]) -> String {
        let special: Set<UInt8> = [UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: ","), UInt8(ascii: "("),
                                   UInt8(ascii: ")"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: " ")]
        guard text.isEmpty || text.contains(where: special.contains) else { return String(decoding: text, as: UTF8.self) }
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for c in text {
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") { out.append(c) }
            out.append(c)
        }
        out.append(UInt8(ascii: "\""))
        return String(decoding: out, as: UTF8.self)
    }

    /// "{…}" from a binary array, each element rendered and quoted as Postgres' array_out does.
    static func renderArray(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        guard let parsed = parseBinaryArray(bytes) else { return nil }
        if parsed.dims.isEmpty { return Array("{}".utf8) }
        var leaves: [[UInt8]?] = []
        leaves.reserveCapacity(parsed.elements.count)
        for element in parsed.elements {
            guard let element else {
                leaves.append(nil)
                continue
            }
            guard let text = renderBinary(element, type: parsed.elementType) else { return nil }
            leaves.append(text)
        }
        var out: [UInt8] = []
        var slice = leaves[...]
        appendTextLevel(&out, dims: parsed.dims[...], leaves: &slice)
        return out
    }
}

extension PGCodec {
    /// Postgres' float output (shortest round-trip digits, as `extra_float_digits = 1`, the default):
    /// fixed notation when the decimal exponent is within -4...14 (float4: -4...5), else "1.5e+16".
    static func renderFloat(_ description: String, isNaN: Bool, isInfinite: Bool, negative: Bool, float4: Bool) -> [UInt8] {
        if isNaN { return Array("NaN".utf8) }
        if isInfinite { return Array((negative ? "-Infinity" : "Infinity").utf8) }
        // Swift's description has the same shortest digits: "1.0", "0.001", "1e-05", "1.2345e+16".
        var text = Substring(description)
        if text.first == "-" { text = text.dropFirst() }
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = text[..<e]
        }
        var digits = Array(text.utf8.filter { $0 != UInt8(ascii: ".") })
        var point = (text.firstIndex(of: ".").map { text.distance(from: text.startIndex, to: $0) } ?? text.count) + exponent
        while digits.first == UInt8(ascii: "0") {
            digits.removeFirst()
            point -= 1
        }
        while digits.last == UInt8(ascii: "0") { digits.removeLast() }
        var out: [UInt8] = negative ? [UInt8(ascii: "-")] : []
        guard !digits.isEmpty else { return out + [UInt8(ascii: "0")] }
        if point >= -3, point <= (float4 ? 6 : 15) {
            if point <= 0 {
                out += Array("0.".utf8) + Array(repeating: UInt8(ascii: "0"), count: -point) + digits
            } else if point >= digits.count {
                out += digits + Array(repeating: UInt8(ascii: "0"), count: point - digits.count)
            } else {
                out += digits[..<point] + [UInt8(ascii: ".")] + digits[point...]
            }
        } else {
            out.append(digits[0])
            if digits.count > 1 { out += [UInt8(ascii: ".")] + digits[1...] }
            let e = point - 1
            out += Array("e\(e < 0 ? "-" : "+")".utf8)
            appendPadded(&out, abs(e), width: 2)
        }
        return out
    }
}
