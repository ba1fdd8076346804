/// A failure inside a cryptographic primitive (OpenSSL refused an operation, or an argument was out of range).
///
/// ```swift
/// do {
///     let bytes = try PGSecureRandom.bytes(16)
/// } catch {
///     print(error.message)  // error is a PGCryptoError
/// }
/// ```
public struct PGCryptoError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong. Never contains key material or input bytes.
    public var message: String

    /// Creates an error with a message.
    public init(_ message: String) { self.message = message }

    public var description: String { "PGCryptoError: \(message)" }
}
