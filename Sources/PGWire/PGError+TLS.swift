extension PGError {
    /// What went wrong with TLS, for `PGError.Code.tls` errors (``PGError/tlsFailure``).
    ///
    /// ```swift
    /// do {
    ///     _ = try await PGConnection.connect(config)  // sslmode=verify-full
    /// } catch let error as PGError where error.tlsFailure == .hostNameMismatch {
    ///     print("the certificate is for another host: \(error.message)")
    /// }
    /// ```
    public struct TLSFailure: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The server does not accept TLS (it answered the SSLRequest with "N"), but the sslmode requires it.
        public static let serverDoesNotSupportTLS = TLSFailure("serverDoesNotSupportTLS")
        /// The server's certificate is not signed by a trusted CA (or is self-signed).
        public static let untrustedCertificate = TLSFailure("untrustedCertificate")
        /// The server's certificate names another host or IP address (sslmode=verify-full).
        public static let hostNameMismatch = TLSFailure("hostNameMismatch")
        /// The server's certificate is expired or not yet valid.
        public static let certificateExpired = TLSFailure("certificateExpired")
        /// Another certificate verification failure.
        public static let certificateInvalid = TLSFailure("certificateInvalid")
        /// A root certificate, client certificate or key file is missing, unreadable or mismatched.
        public static let certificateFile = TLSFailure("certificateFile")
        /// The TLS handshake failed for another reason (including a server that does not accept direct TLS).
        public static let handshakeFailed = TLSFailure("handshakeFailed")
        /// Reading or writing the encrypted stream failed.
        public static let io = TLSFailure("io")
        /// channel_binding=require, but the connection or the server's authentication does not bind the channel.
        public static let channelBindingUnavailable = TLSFailure("channelBindingUnavailable")
    }
}
