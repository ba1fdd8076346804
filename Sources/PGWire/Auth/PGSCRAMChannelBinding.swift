/// How a SCRAM client handles channel binding (RFC 5802 §6, RFC 5929), which ties the authentication
/// to the TLS connection it runs over.
///
/// ```swift
/// // No TLS: plain SCRAM-SHA-256.
/// let plain = PGSCRAMChannelBinding.notSupported
/// // TLS: bind to the server certificate's hash (RFC 5929 tls-server-end-point).
/// let bound = PGSCRAMChannelBinding.tlsServerEndPoint(certificateHash: hash)
/// bound.mechanismName  // "SCRAM-SHA-256-PLUS"
/// ```
public enum PGSCRAMChannelBinding: Sendable, Hashable {
    /// The client does not support channel binding (GS2 header `n,,`).
    case notSupported
    /// The client supports channel binding but the server did not offer `SCRAM-SHA-256-PLUS`
    /// (GS2 header `y,,`), which lets the server detect a downgrade attack.
    case clientSupportsButServerDoesNot
    /// Bind to the server's TLS certificate (GS2 header `p=tls-server-end-point,,`). `certificateHash`
    /// is the hash of the DER certificate with its signature's hash algorithm (SHA-256 for MD5/SHA-1).
    case tlsServerEndPoint(certificateHash: [UInt8])

    /// The SASL mechanism to announce in SASLInitialResponse.
    ///
    /// ```swift
    /// PGSCRAMChannelBinding.notSupported.mechanismName  // "SCRAM-SHA-256"
    /// ```
    public var mechanismName: String {
        switch self {
        case .notSupported, .clientSupportsButServerDoesNot: "SCRAM-SHA-256"
        case .tlsServerEndPoint: "SCRAM-SHA-256-PLUS"
        }
    }

    /// The GS2 header that starts the client-first message.
    ///
    /// ```swift
    /// PGSCRAMChannelBinding.clientSupportsButServerDoesNot.gs2Header  // "y,,"
    /// ```
    public var gs2Header: String {
        switch self {
        case .notSupported: "n,,"
        case .clientSupportsButServerDoesNot: "y,,"
        case .tlsServerEndPoint: "p=tls-server-end-point,,"
        }
    }

    /// The value of the client-final message's `c=` attribute: Base64 of the GS2 header followed by the
    /// channel-binding data (if any).
    ///
    /// ```swift
    /// PGSCRAMChannelBinding.notSupported.channelBindingAttribute  // "biws"
    /// ```
    public var channelBindingAttribute: String {
        var input = Array(gs2Header.utf8)
        if case .tlsServerEndPoint(let hash) = self { input += hash }
        return PGBase64.encode(input)
    }
}
