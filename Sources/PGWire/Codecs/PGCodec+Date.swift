// Date codec: `timestamptz` (also decodes `timestamp`, read as UTC, and `date`, read as UTC midnight).

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `Date` is sent as `timestamptz`, rounded to the microsecond.
///
/// Postgres' 'infinity' and '-infinity' decode to `Date.distantFuture` and `Date.distantPast`,
/// and those two dates encode back to them. A `timestamp` (without time zone) is read as UTC;
/// a `date` as midnight UTC. Text format expects `DateStyle` ISO, the server default.
///
/// ```swift
/// let epoch = try Date(pgBytes: [0, 0, 0, 0, 0, 0, 0, 0][...], type: .timestamptz, format: .binary)
/// // 2000-01-01 00:00:00 UTC
/// let t = try Date(pgBytes: Array("2024-03-05 12:34:56.789+01".utf8)[...], type: .timestamptz, format: .text)
/// ```
extension Date: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { .timestamptz }
    public static var pgFormat: PGFormat { .binary }

    /// Writes microseconds since 2000-01-01 UTC; throws `.encoding` for dates outside the timestamp range.
    public func encode(into buffer: inout PGWriteBuffer) throws {
        buffer.writeInteger(try PGCodec.microsecondsSince2000(self))
    }

    /// Decodes `timestamptz`, `timestamp` or `date`, in binary or (ISO) text format.
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        switch (type, format) {
        case (.timestamptz, .binary), (.timestamp, .binary):
            guard bytes.count == 8 else {
                throw PGCodec.wrongLength(Date.self, type: type, length: bytes.count, expected: 8)
            }
            self = PGCodec.date(microsecondsSince2000: PGCodec.loadBigEndian(bytes, as: Int64.self))
        case (.date, .binary):
            guard bytes.count == 4 else {
                throw PGCodec.wrongLength(Date.self, type: type, length: bytes.count, expected: 4)
            }
            switch PGCodec.loadBigEndian(bytes, as: Int32.self) {
            case .max: self = .distantFuture
            case .min: self = .distantPast
            case let days: self = PGCodec.date(microsecondsSince2000: Int64(days) * PGCodec.microsecondsPerDay)
            }
        case (.timestamptz, .text), (.timestamp, .text), (.date, .text):
            switch PGCodec.parseDateTime(bytes) {
            case .infinity: self = .distantFuture
            case .negativeInfinity: self = .distantPast
            case .finite(_, let microseconds?, _): self = PGCodec.date(microsecondsSince2000: microseconds)
            case .finite, nil: throw PGCodec.invalidValue(Date.self, type: type, format: format, bytes: bytes)
            }
        default:
            throw PGCodec.unsupportedType(Date.self, type: type, format: format)
        }
    }
}
