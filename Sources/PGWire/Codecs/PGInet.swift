// PGInet: Postgres' `inet` and `cidr` (an IPv4 or IPv6 address with a prefix length).

/// An IPv4 or IPv6 address with a prefix length: Postgres' `inet` (a host, optionally with its
/// network's prefix) and `cidr` (a network; bits after the prefix must be zero).
///
/// ```swift
/// let host = PGInet("192.168.0.1/24")!       // inet, prefix 24
/// let net = PGInet("2001:db8::/32", cidr: true)!
/// print(host.addressText, host.prefixLength) // 192.168.0.1 24
/// let rows = try await connection.query("SELECT $1::inet << '192.168.0.0/16'", [host])
/// ```
public struct PGInet: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The address family.
    public enum Family: Sendable, Hashable, Codable {
        case ipv4
        case ipv6
    }

    /// The address bytes, network order: 4 for IPv4, 16 for IPv6.
    public private(set) var address: [UInt8]
    /// The prefix length (netmask bits): 0...32 for IPv4, 0...128 for IPv6.
    public var prefixLength: UInt8
    /// True for a `cidr` value (sent as `cidr`), false for `inet`.
    public var isCIDR: Bool

    /// The family, from the address length.
    public var family: Family { address.count == 4 ? .ipv4 : .ipv6 }

    /// Creates a value from address bytes (4 or 16) and a prefix length (nil: the full length);
    /// nil when the sizes do not fit.
    public init?(address: [UInt8], prefixLength: Int? = nil, cidr: Bool = false) {
        guard address.count == 4 || address.count == 16 else { return nil }
        let maxBits = address.count * 8
        let bits = prefixLength ?? maxBits
        guard (0...maxBits).contains(bits) else { return nil }
        self.address = address
        self.prefixLength = UInt8(bits)
        self.isCIDR = cidr
    }

    /// Parses "192.168.0.1", "10.0.0.0/8", "::1", "2001:db8::1/64", "::ffff:1.2.3.4"; nil when malformed.
    ///
    /// ```swift
    /// PGInet("10.1.2.3/8")?.prefixLength // 8
    /// ```
    public init?(_ text: String, cidr: Bool = false) {
        guard let parsed = PGInet.parse(Array(text.utf8)[...], cidr: cidr) else { return nil }
        self = parsed
    }

    /// The address alone, as Postgres' `host()` prints it.
    public var addressText: String {
        family == .ipv4 ? address.map { String($0) }.joined(separator: ".") : PGInet.ipv6Text(address)
    }

    /// Postgres' text form: the address, then "/prefix" unless it is a full-length `inet`.
    public var description: String {
        let full = Int(prefixLength) == address.count * 8
        return full && !isCIDR ? addressText : "\(addressText)/\(prefixLength)"
    }

    static func parse(_ text: ArraySlice<UInt8>, cidr: Bool) -> PGInet? {
        var addressPart = text
        var prefix: Int?
        if let slash = text.firstIndex(of: UInt8(ascii: "/")) {
            addressPart = text[..<slash]
            guard let p = PGCodec.parseDecimal(text[(slash + 1)...], as: Int.self), text[(slash + 1)...].first != UInt8(ascii: "-")
            else { return nil }
            prefix = p
        }
        let bytes: [UInt8]
        if addressPart.contains(UInt8(ascii: ":")) {
            guard let b = parseIPv6(addressPart) else { return nil }
            bytes = b
        } else {
            guard let b = parseIPv4(addressPart) else { return nil }
            bytes = b
        }
        return PGInet(address: bytes, prefixLength: prefix, cidr: cidr)
    }

    static func parseIPv4(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        let parts = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard (1...3).contains(p.count), p.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }),
                let v = PGCodec.parseDecimal(p, as: UInt8.self)
            else { return nil }
            out.append(v)
        }
        return out
    }

    static func parseIPv6(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawGap = false
        var rest = text
        if rest.starts(with: [UInt8(ascii: ":"), UInt8(ascii: ":")]) {
            sawGap = true
            rest = rest.dropFirst(2)
        } else if rest.first == UInt8(ascii: ":") {
            return nil
        }
        var trailingIPv4: [UInt8]?
        while !rest.isEmpty {
            let end = rest.firstIndex(of: UInt8(ascii: ":")) ?? rest.endIndex
            let group = rest[..<end]
            if group.contains(UInt8(ascii: ".")) {
                guard end == rest.endIndex, let v4 = parseIPv4(group) else { return nil }
                trailingIPv4 = v4
                rest = rest[end...]
                break
            }
            guard (1...4).contains(group.count) else { return nil }
            var value: UInt16 = 0
            for c in group {
                guard let h = PGCodec.hexValue(c) else { return nil }
                value = value << 4 | UInt16(h)
            }
            if sawGap { tail.append(value) } else { head.append(value) }
            rest = rest[end...]
            if rest.starts(with: [UInt8(ascii: ":"), UInt8(ascii: ":")]) {
                guard !sawGap else { return nil }
                sawGap = true
                rest = rest.dropFirst(2)
            } else if rest.first == UInt8(ascii: ":") {
                rest = rest.dropFirst()
                guard !rest.isEmpty else { return nil }
            }
        }
        if let v4 = trailingIPv4 {
            let words = [UInt16(v4[0]) << 8 | UInt16(v4[1]), UInt16(v4[2]) << 8 | UInt16(v4[3])]
            if sawGap { tail += words } else { head += words }
        }
        let total = head.count + tail.count
        guard sawGap ? total <= 7 : total == 8 else { return nil }
        let words = head + Array(repeating: 0, count: 8 - total) + tail
        return words.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    /// RFC 5952 text (longest run of two or more zero groups compressed), with embedded IPv4 as
    /// Postgres prints it ("::ffff:1.2.3.4", "::1.2.3.4").
    static func ipv6Text(_ bytes: [UInt8]) -> String {
        let words = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var bestStart = -1
        var bestLength = 0
        var i = 0
        while i < 8 {
            if words[i] == 0 {
                var j = i
                while j < 8, words[j] == 0 { j += 1 }
                if j - i > bestLength, j - i >= 2 {
                    bestStart = i
                    bestLength = j - i
                }
                i = j
            } else {
                i += 1
            }
        }
        let embeddedIPv4 = bestStart == 0 && (bestLength == 6 || (bestLength == 5 && words[5] == 0xFFFF))
        var parts: [String] = []
        var k = 0
        var out = ""
        while k < 8 {
            if k == bestStart {
                out += parts.joined(separator: ":") + "::"
                parts = []
                k += bestLength
                if embeddedIPv4 {
                    if bestLength == 5 { out += "ffff:" }
                    return out + bytes[12...].map { String($0) }.joined(separator: ".")
                }
                continue
            }
            parts.append(String(words[k], radix: 16))
            k += 1
        }
        return out + parts.joined(separator: ":")
    }
}

/// `PGInet` is sent as `inet`, or as `cidr` when `isCIDR` (binary format: family, bits, is_cidr, length, address).
///
/// ```swift
/// let a = try PGInet(pgBytes: Array("10.0.0.0/8".utf8)[...], type: .cidr, format: .text)
/// ```
extension PGInet: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { .inet }
    public static var pgFormat: PGFormat { .binary }
    public var pgDataTypeOfValue: PGDataType { isCIDR ? .cidr : .inet }

    /// Postgres' family codes (PGSQL_AF_INET, PGSQL_AF_INET6).
    static let familyIPv4: UInt8 = 2
    static let familyIPv6: UInt8 = 3

    public func encode(into buffer: inout PGWriteBuffer) {
        buffer.writeInteger(family == .ipv4 ? Self.familyIPv4 : Self.familyIPv6)
        buffer.writeInteger(prefixLength)
        buffer.writeInteger(UInt8(isCIDR ? 1 : 0))
        buffer.writeInteger(UInt8(address.count))
        buffer.writeBytes(address)
    }

    /// Decodes `inet` or `cidr`, binary or text.
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        guard type == .inet || type == .cidr else { throw PGCodec.unsupportedType(PGInet.self, type: type, format: format) }
        switch format {
        case .binary:
            guard bytes.count >= 4 else { throw PGCodec.invalidValue(PGInet.self, type: type, format: format, bytes: bytes, reason: "too short") }
            let b = Array(bytes)
            let expected = b[0] == Self.familyIPv4 ? 4 : b[0] == Self.familyIPv6 ? 16 : -1
            guard expected > 0, Int(b[3]) == expected, b.count == 4 + expected,
                let value = PGInet(address: Array(b[4...]), prefixLength: Int(b[1]), cidr: type == .cidr)
            else {
                throw PGCodec.invalidValue(PGInet.self, type: type, format: format, bytes: bytes, reason: "malformed address")
            }
            self = value
        case .text:
            guard let value = PGInet.parse(bytes, cidr: type == .cidr) else {
                throw PGCodec.invalidValue(PGInet.self, type: type, format: format, bytes: bytes)
            }
            self = value
        }
    }
}
