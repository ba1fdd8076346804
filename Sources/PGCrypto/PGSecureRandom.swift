import CTuskOpenSSL

/// Cryptographically secure random bytes from OpenSSL's CSPRNG (`RAND_bytes`).
///
/// ```swift
/// let nonce = try PGSecureRandom.bytes(24)
/// ```
public enum PGSecureRandom {
    /// Returns `count` random bytes.
    ///
    /// ```swift
    /// let key = try PGSecureRandom.bytes(32)
    /// ```
    ///
    /// - Throws: `PGCryptoError` if `count` is negative or too large, or the generator could not be seeded.
    public static func bytes(_ count: Int) throws -> [UInt8] {
        guard count >= 0, count <= Int(Int32.max) else {
            throw PGCryptoError("cannot generate \(count) random bytes")
        }
        if count == 0 { return [] }
        var out = [UInt8](repeating: 0, count: count)
        let status = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32($0.count)) }
        guard status == 1 else { throw PGCryptoError("OpenSSL's random generator failed (RAND_bytes)") }
        return out
    }
}
