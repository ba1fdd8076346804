// UUID codec: `uuid`, 16 bytes in binary, "8-4-4-4-12" hex in text.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension PGCodec {
    /// Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (either case) without allocating.
    static func parseUUID(_ text: ArraySlice<UInt8>) -> uuid_t? {
        guard text.count == 36 else { return nil }
        var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let ok = withUnsafeMutableBytes(of: &uuid) { out -> Bool in
            var i = text.startIndex
            var o = 0
            while o < 16 {
                let offset = i - text.startIndex
                if offset == 8 || offset == 13 || offset == 18 || offset == 23 {
                    guard text[i] == UInt8(ascii: "-") else { return false }
                    i += 1
                }
                guard let hi = hexValue(text[i]), let lo = hexValue(text[i + 1]) else { return false }
                out[o] = hi << 4 | lo
                o += 1
                i += 2
            }
            return true
        }
        return ok ? uuid : nil
    }
}

/// `UUID` is sent as `uuid`.
///
/// ```swift
/// let id = try UUID(pgBytes: Array("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".utf8)[...], type: .uuid, format: .text)
/// ```
extension UUID: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { .uuid }
    public static var pgFormat: PGFormat { .binary }

    public func encode(into buffer: inout PGWriteBuffer) {
        withUnsafeBytes(of: uuid) { buffer.writeBytes($0) }
    }

    /// Decodes `uuid`: 16 bytes in binary format, the canonical hex form in text.
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        guard type == .uuid else { throw PGCodec.unsupportedType(UUID.self, type: type, format: format) }
        switch format {
        case .binary:
            guard bytes.count == 16 else {
                throw PGCodec.wrongLength(UUID.self, type: type, length: bytes.count, expected: 16)
            }
            self = UUID(uuid: bytes.withUnsafeBytes { $0.loadUnaligned(as: uuid_t.self) })
        case .text:
            guard let uuid = PGCodec.parseUUID(bytes) else {
                throw PGCodec.invalidValue(UUID.self, type: type, format: format, bytes: bytes)
            }
            self = UUID(uuid: uuid)
        }
    }
}
