import CTuskOpenSSL

/// Message digests, HMAC and PBKDF2 over OpenSSL's EVP interface.
///
/// These are the primitives PostgreSQL authentication needs (SCRAM-SHA-256, MD5 passwords) plus a
/// by-name digest lookup for TLS channel binding.
///
/// ```swift
/// let hash = try PGDigest.sha256(Array("abc".utf8))          // 32 bytes
/// let mac = try PGDigest.hmacSHA256(key: Array("key".utf8), message: Array("msg".utf8))
/// let hex = PGDigest.md5Hex(Array("secret".utf8))            // 32 lowercase hex characters
/// ```
public enum PGDigest {
    /// Length in bytes of a SHA-256 digest.
    public static let sha256Length = 32
    /// Length in bytes of an MD5 digest.
    public static let md5Length = 16

    /// The SHA-256 digest of `data` (32 bytes).
    ///
    /// ```swift
    /// let digest = try PGDigest.sha256(Array("abc".utf8))
    /// ```
    ///
    /// - Throws: `PGCryptoError` only if OpenSSL itself cannot run the algorithm (out of memory, a broken
    ///   installation), never because of `data`: SHA-256 is always available, FIPS mode included.
    public static func sha256(_ data: some Collection<UInt8>) throws(PGCryptoError) -> [UInt8] {
        guard let digest = evpDigest(EVP_sha256(), data) else {
            throw PGCryptoError("OpenSSL could not compute SHA-256 (out of memory or a broken OpenSSL installation)")
        }
        return digest
    }

    /// The MD5 digest of `data` (16 bytes).
    ///
    /// ```swift
    /// let digest = PGDigest.md5(Array("abc".utf8))
    /// ```
    ///
    /// Uses OpenSSL; if OpenSSL refuses MD5 (for example when only the FIPS provider is loaded), a
    /// built-in implementation computes the same value, so the result never depends on configuration.
    public static func md5(_ data: some Collection<UInt8>) -> [UInt8] {
        evpDigest(EVP_md5(), data) ?? portableMD5(Array(data))
    }

    /// The MD5 digest of `data` as 32 lowercase hexadecimal characters.
    ///
    /// ```swift
    /// PGDigest.md5Hex(Array("".utf8))  // "d41d8cd98f00b204e9800998ecf8427e"
    /// ```
    public static func md5Hex(_ data: some Collection<UInt8>) -> String {
        hex(md5(data))
    }

    /// HMAC-SHA-256 of `message` under `key` (32 bytes).
    ///
    /// ```swift
    /// let mac = try PGDigest.hmacSHA256(key: Array("Client Key".utf8), message: Array("abc".utf8))
    /// ```
    ///
    /// Keys of any length are accepted (keys longer than the 64-byte block are hashed first, as RFC 2104 says).
    ///
    /// - Throws: `PGCryptoError` only if OpenSSL itself fails (out of memory, a broken installation).
    public static func hmacSHA256(key: [UInt8], message: some Collection<UInt8>) throws(PGCryptoError) -> [UInt8] {
        // RFC 2104: a key longer than the block size is replaced by its hash. Doing it here keeps the
        // length within OpenSSL's `int` parameter whatever the caller passes.
        let effectiveKey = key.count > 64 ? try sha256(key) : key
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var outLength: UInt32 = 0
        let produced = withBytes(of: message) { data -> Bool in
            effectiveKey.withUnsafeBufferPointer { k -> Bool in
                out.withUnsafeMutableBufferPointer { o -> Bool in
                    HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), data.baseAddress, data.count,
                         o.baseAddress, &outLength) != nil
                }
            }
        }
        guard produced, Int(outLength) == sha256Length else {
            throw PGCryptoError("OpenSSL could not compute HMAC-SHA-256 (out of memory or a broken OpenSSL installation)")
        }
        out.removeSubrange(Int(outLength)...)
        return out
    }

    /// PBKDF2 with HMAC-SHA-256 (RFC 8018), producing a 32-byte key: SCRAM-SHA-256's `Hi()` function.
    ///
    /// ```swift
    /// let salted = try PGDigest.pbkdf2SHA256(password: Array("pencil".utf8), salt: salt, iterations: 4096)
    /// ```
    ///
    /// The cost grows linearly with `iterations`; callers that take the count from a peer should bound it first.
    ///
    /// - Throws: `PGCryptoError` if `iterations` is not in `1...Int32.max`, an input is longer than
    ///   `Int32.max` bytes, or OpenSSL fails.
    public static func pbkdf2SHA256(password: [UInt8], salt: [UInt8], iterations: Int) throws -> [UInt8] {
        guard iterations >= 1, iterations <= Int(Int32.max) else {
            throw PGCryptoError("PBKDF2 iteration count \(iterations) is out of range")
        }
        guard password.count <= Int(Int32.max), salt.count <= Int(Int32.max) else {
            throw PGCryptoError("PBKDF2 input is too long")
        }
        var out = [UInt8](repeating: 0, count: sha256Length)
        let status = password.withUnsafeBufferPointer { p in
            salt.withUnsafeBufferPointer { s in
                out.withUnsafeMutableBufferPointer { o in
                    p.withMemoryRebound(to: CChar.self) { pc in
                        PKCS5_PBKDF2_HMAC(pc.baseAddress, Int32(pc.count), s.baseAddress, Int32(s.count),
                                          Int32(iterations), EVP_sha256(), Int32(o.count), o.baseAddress)
                    }
                }
            }
        }
        guard status == 1 else { throw PGCryptoError("OpenSSL could not compute PBKDF2-HMAC-SHA-256") }
        return out
    }

    /// The digest of `data` with the algorithm OpenSSL knows as `name` ("SHA256", "sha384", "SHA512", …),
    /// or `nil` if OpenSSL does not know or cannot run that algorithm.
    ///
    /// Used for TLS channel binding (`tls-server-end-point` hashes the server certificate with the
    /// certificate's signature hash).
    ///
    /// ```swift
    /// let hash = PGDigest.digest(named: "SHA384", certificateDER)
    /// ```
    public static func digest(named name: String, _ data: some Collection<UInt8>) -> [UInt8]? {
        guard let md = EVP_get_digestbyname(name) else { return nil }
        return evpDigest(md, data)
    }

    // MARK: - Helpers

    /// Runs `EVP_Digest`; `nil` if OpenSSL fails.
    private static func evpDigest(_ md: OpaquePointer?, _ data: some Collection<UInt8>) -> [UInt8]? {
        guard let md else { return nil }
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var outLength: UInt32 = 0
        let status = withBytes(of: data) { d in
            out.withUnsafeMutableBufferPointer { o in
                EVP_Digest(d.baseAddress, d.count, o.baseAddress, &outLength, md, nil)
            }
        }
        guard status == 1, outLength > 0, Int(outLength) <= out.count else { return nil }
        out.removeSubrange(Int(outLength)...)
        return out
    }

    /// Calls `body` with the bytes of `data` in contiguous memory, copying only if the collection is not contiguous.
    private static func withBytes<R>(
        of data: some Collection<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> R
    ) -> R {
        if let result = data.withContiguousStorageIfAvailable(body) { return result }
        return Array(data).withUnsafeBufferPointer(body)
    }

    /// Lowercase hexadecimal encoding.
    static func hex(_ bytes: [UInt8]) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
