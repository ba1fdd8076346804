// Shared helpers for the built-in type codecs: error construction, big-endian loads, ASCII parsing.
//
// Everything here is internal (`@usableFromInline` where the public, inlinable codecs call it).
// Error constructors are `@inline(never)`: they sit on cold paths and should not bloat callers.

/// Namespace for the helpers the built-in codecs share.
@usableFromInline
enum PGCodec {
    // MARK: Errors

    /// A Swift type's name as users write it ("[UInt8]" rather than "Array<UInt8>").
    static func name(_ swiftType: Any.Type) -> String {
        prettyTypeName("\(swiftType)")
    }

    /// "Array<Optional<Int32>>" → "[Int32?]".
    static func prettyTypeName(_ s: String) -> String {
        if s.hasPrefix("Array<"), s.hasSuffix(">") {
            return "[" + prettyTypeName(String(s.dropFirst(6).dropLast())) + "]"
        }
        if s.hasPrefix("Optional<"), s.hasSuffix(">") {
            return prettyTypeName(String(s.dropFirst(9).dropLast())) + "?"
        }
        return s
    }

    /// The field has a length the server type never has, e.g. an `int4` of 3 bytes.
    @usableFromInline @inline(never)
    static func wrongLength(_ swiftType: Any.Type, type: PGDataType, length: Int, expected: Int) -> PGError {
        .decoding("cannot decode \(type) value of \(length) bytes into \(name(swiftType)): expected \(expected) bytes")
    }

    /// The Swift type has no decoder for this server type in this format.
    @usableFromInline @inline(never)
    static func unsupportedType(_ swiftType: Any.Type, type: PGDataType, format: PGFormat) -> PGError {
        .decoding("cannot decode server type \(type) (\(format) format) into \(name(swiftType))")
    }

    /// The bytes are malformed for the server type. The offending text goes to `underlying`
    /// (shown only by `debugDescription`), never into `description`.
    @usableFromInline @inline(never)
    static func invalidValue(
        _ swiftType: Any.Type, type: PGDataType, format: PGFormat, bytes: ArraySlice<UInt8>, reason: String = "invalid value"
    ) -> PGError {
        let shown = bytes.prefix(64)
        let text = String(decoding: shown, as: UTF8.self) + (bytes.count > shown.count ? "…" : "")
        return PGError(
            code: .decoding,
            message: "cannot decode \(type) (\(format) format) into \(name(swiftType)): \(reason)",
            underlying: format == .text ? "text: \(text)" : "bytes: \(Array(shown))"
        )
    }

    /// The value is well-formed but does not fit the Swift type (e.g. an `int8` of 70000 into `Int16`).
    @usableFromInline @inline(never)
    static func outOfRange(_ swiftType: Any.Type, type: PGDataType) -> PGError {
        .decoding("\(type) value is out of range for \(name(swiftType))")
    }

    /// A Swift value that the server type cannot represent.
    @usableFromInline @inline(never)
    static func cannotEncode(_ swiftType: Any.Type, as type: PGDataType, reason: String) -> PGError {
        PGError(code: .encoding, message: "cannot encode \(name(swiftType)) as \(type): \(reason)")
    }

    // MARK: Binary

    /// Loads a big-endian integer from the start of `bytes`. The caller checks `bytes.count >= MemoryLayout<T>.size`.
    @inlinable @inline(__always)
    static func loadBigEndian<T: FixedWidthInteger>(_ bytes: ArraySlice<UInt8>, as: T.Type = T.self) -> T {
        bytes.withUnsafeBytes { T(bigEndian: $0.loadUnaligned(as: T.self)) }
    }

    // MARK: Text

    /// Parses an optionally signed ASCII decimal integer straight into `T`; nil on bad syntax or overflow.
    @inlinable
    static func parseDecimal<T: FixedWidthInteger>(_ bytes: ArraySlice<UInt8>, as: T.Type = T.self) -> T? {
        var i = bytes.startIndex
        let end = bytes.endIndex
        guard i < end else { return nil }
        var negative = false
        if bytes[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        } else if bytes[i] == UInt8(ascii: "+") {
            i += 1
        }
        guard i < end else { return nil }
        var value: T = 0
        while i < end {
            let digit = bytes[i] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = negative
                ? shifted.subtractingReportingOverflow(T(truncatingIfNeeded: digit))
                : shifted.addingReportingOverflow(T(truncatingIfNeeded: digit))
            if o1 || o2 { return nil }
            value = next
            i += 1
        }
        return value
    }

    /// The value of an ASCII hex digit, or nil.
    @inlinable @inline(__always)
    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c &- UInt8(ascii: "A") &+ 10
        default: nil
        }
    }

    /// True when `bytes` equals the ASCII string `literal`.
    @inlinable
    static func equals(_ bytes: ArraySlice<UInt8>, _ literal: StaticString) -> Bool {
        guard bytes.count == literal.utf8CodeUnitCount else { return false }
        return literal.withUTF8Buffer { lit in bytes.elementsEqual(lit) }
    }
}
