// Bool codec: `bool`, one byte in binary, "t"/"f" in text.

/// `Bool` is sent as `bool`.
///
/// ```swift
/// let yes = try Bool(pgBytes: [1][...], type: .bool, format: .binary)        // true
/// let no = try Bool(pgBytes: Array("f".utf8)[...], type: .bool, format: .text) // false
/// ```
extension Bool: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { .bool }
    public static var pgFormat: PGFormat { .binary }

    @inlinable
    public func encode(into buffer: inout PGWriteBuffer) {
        buffer.writeInteger(UInt8(self ? 1 : 0))
    }

    /// Decodes `bool`: one byte 0/1 in binary; "t"/"f" (or "true"/"false") in text.
    @inlinable
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        guard type == .bool else { throw PGCodec.unsupportedType(Bool.self, type: type, format: format) }
        switch format {
        case .binary:
            guard bytes.count == 1 else {
                throw PGCodec.wrongLength(Bool.self, type: type, length: bytes.count, expected: 1)
            }
            switch bytes[bytes.startIndex] {
            case 0: self = false
            case 1: self = true
            default: throw PGCodec.invalidValue(Bool.self, type: type, format: format, bytes: bytes)
            }
        case .text:
            if bytes.count == 1 {
                switch bytes[bytes.startIndex] {
                case UInt8(ascii: "t"): self = true; return
                case UInt8(ascii: "f"): self = false; return
                default: break
                }
            } else if PGCodec.equals(bytes, "true") {
                self = true
                return
            } else if PGCodec.equals(bytes, "false") {
                self = false
                return
            }
            throw PGCodec.invalidValue(Bool.self, type: type, format: format, bytes: bytes)
        }
    }
}
