// PGTime: a time of day without a time zone, the Swift side of Postgres' `time`.

/// A time of day without a date or time zone: Postgres' `time`, in microseconds since midnight
/// (`0...86_400_000_000`; Postgres accepts `24:00:00`).
///
/// ```swift
/// let t = PGTime(hour: 13, minute: 30, second: 5, microsecond: 250_000)
/// print(t) // 13:30:05.25
/// let rows = try await connection.query("SELECT $1::time", [t])
/// ```
public struct PGTime: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    /// Microseconds since midnight.
    public var microsecondsSinceMidnight: Int64

    /// Creates a time from microseconds since midnight (not validated; encoding an out-of-range value throws).
    public init(microsecondsSinceMidnight: Int64) {
        self.microsecondsSinceMidnight = microsecondsSinceMidnight
    }

    /// Creates a time from its parts (not validated).
    public init(hour: Int, minute: Int, second: Int, microsecond: Int = 0) {
        self.microsecondsSinceMidnight = (Int64(hour) * 3600 + Int64(minute) * 60 + Int64(second)) * 1_000_000 + Int64(microsecond)
    }

    /// The hour, 0...24.
    public var hour: Int { Int(microsecondsSinceMidnight / 3_600_000_000) }
    /// The minute, 0...59.
    public var minute: Int { Int(microsecondsSinceMidnight / 60_000_000 % 60) }
    /// The second, 0...59.
    public var second: Int { Int(microsecondsSinceMidnight / 1_000_000 % 60) }
    /// The microsecond within the second.
    public var microsecond: Int { Int(microsecondsSinceMidnight % 1_000_000) }

    /// "HH:MM:SS[.ffffff]", as Postgres prints it.
    public var description: String {
        String(decoding: PGCodec.renderTimeOfDay(microsecondsSinceMidnight), as: UTF8.self)
    }

    public static func < (lhs: PGTime, rhs: PGTime) -> Bool {
        lhs.microsecondsSinceMidnight < rhs.microsecondsSinceMidnight
    }
}

extension PGCodec {
    /// "HH:MM:SS" plus ".ffffff" without trailing zeros; hours may exceed 24 (intervals).
    static func renderTimeOfDay(_ micros: Int64, into out: inout [UInt8]) {
        let m = micros.magnitude
        let hours = m / 3_600_000_000
        appendPadded(&out, hours, width: 2)
        out.append(UInt8(ascii: ":"))
        appendPadded(&out, m / 60_000_000 % 60, width: 2)
        out.append(UInt8(ascii: ":"))
        appendPadded(&out, m / 1_000_000 % 60, width: 2)
        appendFraction(&out, m % 1_000_000)
    }

    static func renderTimeOfDay(_ micros: Int64) -> [UInt8] {
        var out: [UInt8] = []
        renderTimeOfDay(micros, into: &out)
        return out
    }

    /// Appends `value` in decimal, zero-padded to `width` digits.
    static func appendPadded(_ out: inout [UInt8], _ value: some BinaryInteger, width: Int) {
        let s = String(value).utf8
        if s.count < width { out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width - s.count)) }
        out.append(contentsOf: s)
    }

    /// Appends ".ffffff" without trailing zeros (nothing when the fraction is zero).
    static func appendFraction(_ out: inout [UInt8], _ fraction: UInt64) {
        guard fraction > 0 else { return }
        var digits: [UInt8] = []
        appendPadded(&digits, fraction, width: 6)
        while digits.last == UInt8(ascii: "0") { digits.removeLast() }
        out.append(UInt8(ascii: "."))
        out.append(contentsOf: digits)
    }

    /// Parses "HH:MM[:SS[.ffffff]]" into microseconds; nil when malformed. Hours are limited to `maxHour`.
    static func parseTimeOfDay(_ s: inout PGDateTextScanner, maxHour: Int) -> Int64? {
        guard let h = s.digits(1...10), h <= maxHour, s.take(":"), let m = s.digits(2...2), m <= 59 else { return nil }
        var sec = 0
        var fraction = 0
        if s.take(":") {
            guard let sv = s.digits(2...2), sv <= 60 else { return nil }
            sec = sv
            if s.take(".") {
                let start = s.index
                guard let f = s.digits(1...6) else { return nil }
                fraction = f
                for _ in (s.index - start)..<6 { fraction *= 10 }
                while s.peek.map({ $0 &- UInt8(ascii: "0") < 10 }) == true { s.skip() }
            }
        }
        return (Int64(h) * 3600 + Int64(m) * 60 + Int64(sec)) * 1_000_000 + Int64(fraction)
    }
}

/// `PGTime` is sent as `time` (binary: microseconds since midnight).
///
/// ```swift
/// let t = try PGTime(pgBytes: Array("08:15:00.5".utf8)[...], type: .time, format: .text)
/// ```
extension PGTime: PGEncodable, PGDecodable {
    public static var pgDataType: PGDataType { .time }
    public static var pgFormat: PGFormat { .binary }

    /// Writes microseconds since midnight; throws `.encoding` outside `00:00:00...24:00:00`.
    public func encode(into buffer: inout PGWriteBuffer) throws {
        guard (0...PGCodec.microsecondsPerDay).contains(microsecondsSinceMidnight) else {
            throw PGCodec.cannotEncode(PGTime.self, as: .time, reason: "outside 00:00:00...24:00:00")
        }
        buffer.writeInteger(microsecondsSinceMidnight)
    }

    /// Decodes `time` in binary or text ("HH:MM:SS[.ffffff]") format.
    public init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
        guard type == .time else { throw PGCodec.unsupportedType(PGTime.self, type: type, format: format) }
        switch format {
        case .binary:
            guard bytes.count == 8 else {
                throw PGCodec.wrongLength(PGTime.self, type: type, length: bytes.count, expected: 8)
            }
            let us = PGCodec.loadBigEndian(bytes, as: Int64.self)
            guard (0...PGCodec.microsecondsPerDay).contains(us) else {
                throw PGCodec.invalidValue(PGTime.self, type: type, format: format, bytes: bytes, reason: "out of range")
            }
            self.init(microsecondsSinceMidnight: us)
        case .text:
            var s = PGDateTextScanner(bytes)
            guard let us = PGCodec.parseTimeOfDay(&s, maxHour: 24), s.isAtEnd, us <= PGCodec.microsecondsPerDay else {
                throw PGCodec.invalidValue(PGTime.self, type: type, format: format, bytes: bytes)
            }
            self.init(microsecondsSinceMidnight: us)
        }
    }
}
