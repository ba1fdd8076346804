import PGWire

/// A WAL position (log sequence number), as `pg_current_wal_lsn()` prints it: `16/B374D848`.
///
/// After a write, take the writer's position; a reader that has replayed at least that far sees the write.
///
/// ```swift
/// let lsn = PGLSN("16/B374D848")!
/// print(lsn.value, lsn)   // 97500059720 16/B374D848
/// ```
public struct PGLSN: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The 64-bit position.
    public var value: UInt64

    public init(value: UInt64) { self.value = value }

    /// Parses `high/low` in hexadecimal; nil when malformed.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, parts[0].count <= 8, parts[1].count <= 8,
              let high = UInt64(parts[0], radix: 16), let low = UInt64(parts[1], radix: 16) else { return nil }
        value = high << 32 | low
    }

    public var description: String {
        String(value >> 32, radix: 16, uppercase: true) + "/" + String(value & 0xFFFF_FFFF, radix: 16, uppercase: true)
    }

    public static func < (a: PGLSN, b: PGLSN) -> Bool { a.value < b.value }
}

extension PGLSN: PGDecodable {
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        if format == .binary, bytes.count == 8 {
            value = bytes.reduce(0) { $0 << 8 | UInt64($1) }
            return
        }
        guard let text = String(validating: bytes, as: UTF8.self), let lsn = PGLSN(text) else {
            throw PGError(code: .decoding, message: "cannot decode \(type) as PGLSN")
        }
        self = lsn
    }
}
