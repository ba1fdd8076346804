import PGCrypto

/// The `md5` password method's response (AuthenticationMD5Password).
///
/// ```swift
/// // salt comes from the server's AuthenticationMD5Password message
/// let response = PGMD5Password.hash(user: "alice", password: "secret", salt: [0x01, 0x02, 0x03, 0x04])
/// // send `response` + [0] as the PasswordMessage body
/// ```
public enum PGMD5Password {
    /// Returns the ASCII bytes `"md5" + hex(md5(hex(md5(password + user)) + salt))` (35 bytes, no NUL terminator).
    ///
    /// ```swift
    /// let bytes = PGMD5Password.hash(user: "postgres", password: "pw", salt: salt)
    /// ```
    ///
    /// The protocol's salt is 4 bytes; other lengths are hashed as given (the message decoder checks the length).
    public static func hash(user: String, password: String, salt: [UInt8]) -> [UInt8] {
        let inner = PGDigest.md5Hex(Array(password.utf8) + Array(user.utf8))
        let outer = PGDigest.md5Hex(Array(inner.utf8) + salt)
        return Array("md5".utf8) + Array(outer.utf8)
    }
}
