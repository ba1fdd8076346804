/// A growable byte buffer that frontend messages and binary values are encoded into.
///
/// Integers are written in network byte order, as the protocol requires.
///
/// ```swift
/// var buffer = PGWriteBuffer()
/// buffer.writeInteger(Int32(42))
/// buffer.writeCString("hello")
/// ```
public struct PGWriteBuffer: Sendable {
    /// The encoded bytes.
    public var bytes: [UInt8]

    /// Creates an empty buffer with room for `capacity` bytes.
    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Number of bytes written so far.
    @inlinable public var count: Int { bytes.count }

    /// Appends a fixed-width integer in big-endian order.
    @inlinable
    public mutating func writeInteger<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// Appends raw bytes.
    @inlinable
    public mutating func writeBytes<C: Collection>(_ data: C) where C.Element == UInt8 {
        bytes.append(contentsOf: data)
    }

    /// Appends the UTF-8 bytes of a string without a terminator.
    @inlinable
    public mutating func writeString(_ string: String) {
        var s = string
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// Appends the UTF-8 bytes of a string followed by a NUL byte.
    @inlinable
    public mutating func writeCString(_ string: String) {
        writeString(string)
        bytes.append(0)
    }

    /// Overwrites a big-endian Int32 at `offset` (used to back-fill message lengths).
    @inlinable
    public mutating func setInt32(_ value: Int32, at offset: Int) {
        let v = UInt32(bitPattern: value)
        bytes[offset] = UInt8(truncatingIfNeeded: v >> 24)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: v >> 16)
        bytes[offset + 2] = UInt8(truncatingIfNeeded: v >> 8)
        bytes[offset + 3] = UInt8(truncatingIfNeeded: v)
    }

    /// Removes all bytes, keeping the capacity.
    @inlinable
    public mutating func clear() { bytes.removeAll(keepingCapacity: true) }
}

/// A reading cursor over bytes received from the server.
///
/// Every read checks bounds and returns `nil` (or throws from the `*OrThrow` forms) rather than trapping,
/// so malformed server bytes can never crash the process.
public struct PGReadCursor: Sendable {
    /// The underlying bytes; indices are those of the slice.
    public let bytes: ArraySlice<UInt8>
    /// The index of the next unread byte.
    public var index: Int

    /// Creates a cursor at the start of `bytes`.
    @inlinable
    public init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    /// Bytes not yet read.
    @inlinable public var remaining: Int { bytes.endIndex - index }

    /// Reads a big-endian integer, or nil when too few bytes remain.
    @inlinable
    public mutating func readInteger<T: FixedWidthInteger>(as: T.Type = T.self) -> T? {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { return nil }
        var value: T = 0
        for i in 0..<size {
            value = (value << 8) | T(truncatingIfNeeded: bytes[index + i])
        }
        index += size
        return value
    }

    /// Reads `count` bytes as a slice, or nil when too few remain.
    @inlinable
    public mutating func readSlice(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, remaining >= count else { return nil }
        let slice = bytes[index..<(index + count)]
        index += count
        return slice
    }

    /// Reads a NUL-terminated UTF-8 string, or nil when no terminator is found or the text is not valid UTF-8.
    @inlinable
    public mutating func readCString() -> String? {
        let start = index
        let length: Int? = bytes.withUnsafeBufferPointer { b in
            UnsafeBufferPointer(rebasing: b[(start - bytes.startIndex)...]).firstIndex(of: 0)
        }
        guard let length, let s = PGCodec.utf8String(bytes[start..<(start + length)]) else { return nil }
        index = start + length + 1
        return s
    }
}
