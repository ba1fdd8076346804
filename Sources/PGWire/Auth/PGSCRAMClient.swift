import PGCrypto

/// The client side of a SCRAM-SHA-256 exchange (RFC 5802, RFC 7677) as PostgreSQL runs it.
///
/// Pure: it turns the server's SASL messages into the client's answers and never touches the network.
/// Call the three methods in order; any error leaves the client failed, and later calls throw.
///
/// ```swift
/// var scram = try PGSCRAMClient(username: "alice", password: "secret")
/// send(.saslInitialResponse(mechanism: scram.mechanismName, data: scram.clientFirstMessage()))
/// let clientFinal = try scram.handleServerFirstMessage(saslContinueData)  // AuthenticationSASLContinue
/// send(.saslResponse(clientFinal))
/// try scram.handleServerFinalMessage(saslFinalData)                       // AuthenticationSASLFinal
/// ```
///
/// The password is prepared with SASLprep (falling back to its raw bytes, as libpq does) and never
/// appears in any error, `description` or mirror.
public struct PGSCRAMClient: Sendable {
    /// The largest iteration count accepted from a server. PostgreSQL's default is 4096 (the
    /// `scram_iterations` setting); ten million takes a few seconds of PBKDF2, so a hostile or
    /// misconfigured server cannot make the client burn CPU for minutes.
    public static let maximumIterations = 10_000_000

    /// The channel-binding choice this exchange uses.
    public let channelBinding: PGSCRAMChannelBinding
    /// The SASL mechanism to announce: `SCRAM-SHA-256`, or `SCRAM-SHA-256-PLUS` with channel binding.
    public var mechanismName: String { channelBinding.mechanismName }
    /// True once the server's signature has been verified.
    public var isComplete: Bool {
        if case .completed = state { return true }
        return false
    }

    private let username: String
    private let includesUsernameInMessage: Bool
    private let password: [UInt8]
    private let clientNonce: String
    private var state: State

    private enum State: Sendable {
        case initial
        case awaitingServerFirst(clientFirstBare: String)
        case awaitingServerFinal(serverSignature: [UInt8])
        case completed
        case failed
    }

    /// Creates a client for one exchange.
    ///
    /// ```swift
    /// var scram = try PGSCRAMClient(username: "alice", password: "secret")
    /// // tests inject the nonce and send the user name, as RFC 7677's example does:
    /// var rfc = try PGSCRAMClient(username: "user", password: "pencil",
    ///                             clientNonce: "rOprNGfwEbeRWgbNEkqO", includesUsernameInMessage: true)
    /// ```
    ///
    /// - Parameters:
    ///   - username: The user name. PostgreSQL takes the user from the startup message and ignores the one
    ///     in the SCRAM message, so by default the message carries an empty `n=` like libpq's.
    ///   - password: The password; SASLprep is applied (raw UTF-8 bytes if it is not valid for SASLprep).
    ///   - clientNonce: The client nonce (printable ASCII without `,`). `nil` (the default) draws 24 secure
    ///     random bytes and Base64-encodes them; inject one only in tests.
    ///   - channelBinding: Whether and how to bind to the TLS channel.
    ///   - includesUsernameInMessage: Send `n=<username>` (escaped per RFC 5802) instead of `n=`.
    /// - Throws: `PGError` with code `.misuse` for an invalid injected nonce, or `.authenticationFailed`
    ///   if no random nonce could be generated.
    public init(
        username: String, password: String, clientNonce: String? = nil,
        channelBinding: PGSCRAMChannelBinding = .notSupported, includesUsernameInMessage: Bool = false
    ) throws {
        if let clientNonce {
            guard !clientNonce.isEmpty, Self.isValidNonce(Substring(clientNonce)) else {
                throw PGError(code: .misuse, message: "a SCRAM client nonce must be non-empty printable ASCII without ','")
            }
            self.clientNonce = clientNonce
        } else {
            do {
                self.clientNonce = PGBase64.encode(try PGSecureRandom.bytes(24))
            } catch {
                throw PGError(code: .authenticationFailed, message: "could not generate a SCRAM nonce: \(error)")
            }
        }
        self.username = username
        self.includesUsernameInMessage = includesUsernameInMessage
        self.password = PGSASLprep.passwordBytes(password)
        self.channelBinding = channelBinding
        self.state = .initial
    }

    /// The client-first message (the data of SASLInitialResponse): `<gs2 header>n=,r=<nonce>`.
    ///
    /// ```swift
    /// let data = scram.clientFirstMessage()  // "n,,n=,r=…" as bytes
    /// ```
    ///
    /// Call it once, first. A second call returns the same bytes but leaves the client failed.
    public mutating func clientFirstMessage() -> [UInt8] {
        let user = includesUsernameInMessage ? Self.escapeSASLName(username) : ""
        let bare = "n=\(user),r=\(clientNonce)"
        if case .initial = state {
            state = .awaitingServerFirst(clientFirstBare: bare)
        } else {
            state = .failed
        }
        return Array((channelBinding.gs2Header + bare).utf8)
    }

    /// Handles the server-first message (the data of AuthenticationSASLContinue) and returns the
    /// client-final message to send in SASLResponse.
    ///
    /// ```swift
    /// let clientFinal = try scram.handleServerFirstMessage(continueData[...])
    /// ```
    ///
    /// - Throws: `PGError` with code `.protocolViolation` if the message is malformed (bad UTF-8, bad
    ///   attributes, a nonce that does not extend the client's, an invalid salt, an iteration count
    ///   outside `1...maximumIterations`) or arrives out of order.
    public mutating func handleServerFirstMessage(_ bytes: ArraySlice<UInt8>) throws -> [UInt8] {
        guard case .awaitingServerFirst(let clientFirstBare) = state else {
            state = .failed
            throw PGError.protocolViolation("SCRAM server-first message arrived out of order")
        }
        state = .failed
        let serverFirst = try Self.utf8(bytes, "server-first")
        let attributes = try Self.parseAttributes(serverFirst, "server-first")
        guard attributes.count >= 3 else {
            throw PGError.protocolViolation("SCRAM server-first message is missing attributes")
        }
        if attributes[0].name == "m" {
            throw PGError.protocolViolation("SCRAM server-first message has an unsupported mandatory extension")
        }
        guard attributes[0].name == "r", attributes[1].name == "s", attributes[2].name == "i" else {
            throw PGError.protocolViolation("SCRAM server-first message must start with r=, s= and i=")
        }
        let serverNonce = attributes[0].value
        guard Self.isValidNonce(serverNonce), serverNonce.hasPrefix(clientNonce),
              serverNonce.utf8.count > clientNonce.utf8.count else {
            throw PGError.protocolViolation("SCRAM server nonce is invalid or does not extend the client nonce")
        }
        guard let salt = PGBase64.decode(attributes[1].value), !salt.isEmpty else {
            throw PGError.protocolViolation("SCRAM salt is missing or not valid Base64")
        }
        let iterationText = attributes[2].value
        guard !iterationText.isEmpty, iterationText.utf8.count <= 10,
              iterationText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let iterations = Int(iterationText), iterations >= 1, iterations <= Self.maximumIterations else {
            throw PGError.protocolViolation("SCRAM iteration count is invalid or outside 1...\(Self.maximumIterations)")
        }

        let saltedPassword: [UInt8]
        do {
            saltedPassword = try PGSaltedPasswordCache.shared.saltedPassword(password: password, salt: salt, iterations: iterations)
        } catch {
            throw PGError(code: .authenticationFailed, message: "SCRAM key derivation failed: \(error)")
        }
        let clientFinalWithoutProof = "c=\(channelBinding.channelBindingAttribute),r=\(serverNonce)"
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(clientFinalWithoutProof)".utf8)

        let proof: [UInt8]
        let serverSignature: [UInt8]
        do {
            let clientKey = try PGDigest.hmacSHA256(key: saltedPassword, message: Array("Client Key".utf8))
            let storedKey = try PGDigest.sha256(clientKey)
            let clientSignature = try PGDigest.hmacSHA256(key: storedKey, message: authMessage)
            proof = zip(clientKey, clientSignature).map { $0 ^ $1 }
            let serverKey = try PGDigest.hmacSHA256(key: saltedPassword, message: Array("Server Key".utf8))
            serverSignature = try PGDigest.hmacSHA256(key: serverKey, message: authMessage)
        } catch {
            throw PGError(code: .authenticationFailed, message: "SCRAM proof computation failed: \(error)")
        }

        state = .awaitingServerFinal(serverSignature: serverSignature)
        return Array("\(clientFinalWithoutProof),p=".utf8) + PGBase64.encodeToBytes(proof)
    }

    /// Handles the server-final message (the data of AuthenticationSASLFinal), verifying in constant
    /// time that the server knows the password.
    ///
    /// ```swift
    /// try scram.handleServerFinalMessage(finalData[...])
    /// assert(scram.isComplete)
    /// ```
    ///
    /// - Throws: `PGError` with code `.authenticationFailed` if the server signature is wrong or the server
    ///   reported an error (`e=`), `.protocolViolation` if the message is malformed or out of order.
    public mutating func handleServerFinalMessage(_ bytes: ArraySlice<UInt8>) throws {
        guard case .awaitingServerFinal(let expected) = state else {
            state = .failed
            throw PGError.protocolViolation("SCRAM server-final message arrived out of order")
        }
        state = .failed
        let serverFinal = try Self.utf8(bytes, "server-final")
        let attributes = try Self.parseAttributes(serverFinal, "server-final")
        guard let first = attributes.first else {
            throw PGError.protocolViolation("SCRAM server-final message is empty")
        }
        switch first.name {
        case "e":
            let reason = String(first.value.unicodeScalars.prefix(100).filter { (0x20..<0x7F).contains($0.value) })
            throw PGError(code: .authenticationFailed, message: "the server rejected SCRAM authentication: \(reason)")
        case "v":
            guard let signature = PGBase64.decode(first.value) else {
                throw PGError.protocolViolation("SCRAM server signature is not valid Base64")
            }
            guard Self.constantTimeEqual(signature, expected) else {
                throw PGError(code: .authenticationFailed, message: "the server's SCRAM signature is wrong; it does not know the password")
            }
            state = .completed
        default:
            throw PGError.protocolViolation("SCRAM server-final message must start with v= or e=")
        }
    }

    // MARK: - Helpers

    private static func utf8(_ bytes: ArraySlice<UInt8>, _ what: String) throws -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw PGError.protocolViolation("SCRAM \(what) message is not valid UTF-8")
        }
        return text
    }

    /// Splits `a=value,b=value,…` into attributes; names must be single ASCII letters and values non-empty.
    private static func parseAttributes(
        _ text: String, _ what: String
    ) throws -> [(name: Character, value: Substring)] {
        var result: [(name: Character, value: Substring)] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let utf8 = part.utf8
            guard utf8.count >= 3, let name = utf8.first, name < 0x80, (name | 0x20) >= UInt8(ascii: "a"),
                  (name | 0x20) <= UInt8(ascii: "z"), utf8[utf8.index(after: utf8.startIndex)] == UInt8(ascii: "=") else {
                throw PGError.protocolViolation("SCRAM \(what) message has a malformed attribute")
            }
            result.append((Character(Unicode.Scalar(name)), part.dropFirst(2)))
        }
        return result
    }

    /// RFC 5802 `printable`: %x21-2B / %x2D-7E.
    private static func isValidNonce(_ nonce: Substring) -> Bool {
        !nonce.isEmpty && nonce.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: ",") }
    }

    /// RFC 5802 `saslname`: "=" becomes "=3D" and "," becomes "=2C".
    private static func escapeSASLName(_ name: String) -> String {
        var out = ""
        for ch in name {
            switch ch {
            case "=": out += "=3D"
            case ",": out += "=2C"
            default: out.append(ch)
            }
        }
        return out
    }

    /// Compares without an early exit, so timing does not reveal how many leading bytes matched.
    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}

extension PGSCRAMClient: CustomStringConvertible, CustomReflectable {
    /// Shows the mechanism and progress, never the password.
    public var description: String {
        let phase = switch state {
        case .initial: "initial"
        case .awaitingServerFirst: "awaitingServerFirst"
        case .awaitingServerFinal: "awaitingServerFinal"
        case .completed: "completed"
        case .failed: "failed"
        }
        return "PGSCRAMClient(\(mechanismName), \(phase))"
    }

    /// A mirror without the password or derived keys.
    public var customMirror: Mirror {
        Mirror(self, children: ["mechanismName": mechanismName, "isComplete": isComplete], displayStyle: .struct)
    }
}
