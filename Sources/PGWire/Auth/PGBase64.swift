/// Standard Base64 (RFC 4648 §4, with `=` padding) as SCRAM uses it.
///
/// Decoding is strict: it returns `nil` for any character outside the alphabet, missing or misplaced
/// padding, whitespace, or non-zero unused bits, so a malformed server message is never half-accepted.
///
/// ```swift
/// let text = PGBase64.encode(Array("n,,".utf8))   // "biws"
/// let bytes = PGBase64.decode("biws")              // [0x6E, 0x2C, 0x2C]
/// PGBase64.decode("bi ws")                         // nil
/// ```
public enum PGBase64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Maps an ASCII byte to its 6-bit value, or 0xFF if it is not in the alphabet.
    private static let reverse: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, char) in alphabet.enumerated() { table[Int(char)] = UInt8(value) }
        return table
    }()

    /// Encodes bytes as padded Base64 bytes (ASCII).
    ///
    /// ```swift
    /// let ascii = PGBase64.encodeToBytes([0xFF])  // Array("/w==".utf8)
    /// ```
    public static func encodeToBytes(_ data: some Collection<UInt8>) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity((data.count + 2) / 3 * 4)
        var iterator = data.makeIterator()
        while let b0 = iterator.next() {
            let b1 = iterator.next()
            let b2 = b1 == nil ? nil : iterator.next()
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | (b1 ?? 0) >> 4)])
            if let b1 {
                out.append(alphabet[Int((b1 & 0x0F) << 2 | (b2 ?? 0) >> 6)])
            } else {
                out.append(UInt8(ascii: "="))
            }
            if let b2 {
                out.append(alphabet[Int(b2 & 0x3F)])
            } else {
                out.append(UInt8(ascii: "="))
            }
        }
        return out
    }

    /// Encodes bytes as a padded Base64 string.
    ///
    /// ```swift
    /// PGBase64.encode(Array("foobar".utf8))  // "Zm9vYmFy"
    /// ```
    public static func encode(_ data: some Collection<UInt8>) -> String {
        String(decoding: encodeToBytes(data), as: UTF8.self)
    }

    /// Decodes padded Base64, or returns `nil` if `text` is not strictly valid.
    ///
    /// ```swift
    /// PGBase64.decode("Zm9vYg==")  // Array("foob".utf8)
    /// PGBase64.decode("Zm9vYg")    // nil (padding missing)
    /// ```
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        decode(bytes: Array(text.utf8))
    }

    /// Decodes padded Base64 given as ASCII bytes, or returns `nil` if they are not strictly valid.
    ///
    /// ```swift
    /// PGBase64.decode(bytes: Array("biws".utf8))  // Array("n,,".utf8)
    /// ```
    public static func decode(bytes input: some Collection<UInt8>) -> [UInt8]? {
        let chars = Array(input)
        guard chars.count % 4 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 4 * 3)
        var i = 0
        while i < chars.count {
            let isLast = i + 4 == chars.count
            var padding = 0
            if isLast {
                if chars[i + 3] == UInt8(ascii: "=") { padding += 1 }
                if chars[i + 2] == UInt8(ascii: "=") {
                    guard padding == 1 else { return nil }  // "x=y" is invalid: "=" only at the end
                    padding += 1
                }
            }
            var values: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
            for k in 0..<(4 - padding) {
                let v = reverse[Int(chars[i + k])]
                guard v != 0xFF else { return nil }
                switch k {
                case 0: values.0 = v
                case 1: values.1 = v
                case 2: values.2 = v
                default: values.3 = v
                }
            }
            out.append(values.0 << 2 | values.1 >> 4)
            switch padding {
            case 0:
                out.append((values.1 & 0x0F) << 4 | values.2 >> 2)
                out.append((values.2 & 0x03) << 6 | values.3)
            case 1:
                guard values.2 & 0x03 == 0 else { return nil }  // unused bits must be zero
                out.append((values.1 & 0x0F) << 4 | values.2 >> 2)
            default:
                guard values.1 & 0x0F == 0 else { return nil }
            }
            i += 4
        }
        return out
    }
}
