/// Drives startup: authentication, then ParameterStatus/BackendKeyData until the first ReadyForQuery.
///
/// Pure: the connection sends the StartupMessage, then feeds each backend message here and performs
/// the returned action.
///
/// ```swift
/// var startup = PGStartupStateMachine(user: "app", password: "secret")
/// switch startup.messageReceived(.authentication(.cleartextPassword)) {
/// case .send(let bytes): break // write bytes to the socket
/// default: break
/// }
/// ```
public struct PGStartupStateMachine: Sendable {
    /// What the connection must do next.
    public enum Action: Sendable {
        /// Write these bytes (an encoded frontend message) and keep reading.
        case send([UInt8])
        /// Keep reading.
        case wait
        /// Log a notice from the server.
        case notice(PGServerErrorInfo)
        /// Startup finished; the connection is ready for queries.
        case ready(PGStartupResult)
        /// Startup failed; close the connection.
        case fail(PGError)
    }

    enum State: Sendable {
        case awaitingAuthentication
        case sasl(PGSCRAMClient, finalReceived: Bool)
        case awaitingAuthenticationResult
        case authenticated
        case done
        case failed
    }

    private let user: String
    private let password: String?
    private let scramNonce: String?
    private let channelBinding: PGSCRAMChannelBinding
    private let requireChannelBinding: Bool
    private var state: State = .awaitingAuthentication
    private var result = PGStartupResult()

    /// Creates the machine. `scramNonce` is for tests only (nil: a fresh secure random nonce).
    /// With `requireChannelBinding` (libpq's `channel_binding=require`), any authentication other than
    /// SCRAM-SHA-256-PLUS with `channelBinding` fails before a password or proof is sent.
    public init(
        user: String, password: String?, scramNonce: String? = nil, channelBinding: PGSCRAMChannelBinding = .notSupported,
        requireChannelBinding: Bool = false
    ) {
        self.user = user
        self.password = password
        self.scramNonce = scramNonce
        self.channelBinding = channelBinding
        self.requireChannelBinding = requireChannelBinding
    }

    private func channelBindingRefusal(_ method: String) -> PGError? {
        guard requireChannelBinding else { return nil }
        var error = PGError(
            code: .tls,
            message: "channel_binding=require, but the server authenticated with \(method), which does not bind the TLS channel")
        error.tlsFailure = .channelBindingUnavailable
        return error
    }

    /// The SASL mechanism in use, once chosen (for tests and diagnostics).
    public private(set) var authenticationMethod: String?

    private mutating func fail(_ error: PGError) -> Action {
        state = .failed
        return .fail(error)
    }

    private func needPassword(_ method: String) -> PGError? {
        password == nil
            ? PGError(code: .authenticationFailed, message: "the server requested \(method) authentication but no password was provided")
            : nil
    }

    /// Feeds one backend message.
    public mutating func messageReceived(_ message: PGBackendMessage) -> Action {
        switch message {
        case .errorResponse(let info):
            let code: PGError.Code = info.sqlState.rawValue.hasPrefix("28") ? .authenticationFailed : .server
            return fail(PGError(code: code, message: info.message, serverInfo: info))
        case .noticeResponse(let info):
            return .notice(info)
        case .negotiateProtocolVersion(let minor, let options):
            // We ask for 3.0 today; a server may downgrade a 3.2 request. Record what it offered.
            result.protocolMinorVersion = Int(minor)
            result.unrecognizedOptions = options
            return .wait
        default:
            break
        }

        switch state {
        case .awaitingAuthentication:
            guard case .authentication(let auth) = message else {
                return fail(.violation("expected an authentication request, got \(message.name)"))
            }
            return authenticationRequested(auth)
        case .sasl(var client, let finalReceived):
            guard case .authentication(let auth) = message else {
                return fail(.violation("expected a SASL message, got \(message.name)"))
            }
            switch auth {
            case .saslContinue(let data) where !finalReceived:
                do {
                    let reply = try client.handleServerFirstMessage(data[...])
                    state = .sasl(client, finalReceived: false)
                    var out = PGWriteBuffer()
                    PGFrontendEncoder.saslResponse(reply, into: &out)
                    return .send(out.bytes)
                } catch let e as PGError {
                    return fail(e)
                } catch {
                    return fail(PGError(code: .authenticationFailed, message: "SCRAM exchange failed"))
                }
            case .saslFinal(let data) where !finalReceived:
                do {
                    try client.handleServerFinalMessage(data[...])
                    state = .sasl(client, finalReceived: true)
                    return .wait
                } catch let e as PGError {
                    return fail(e)
                } catch {
                    return fail(PGError(code: .authenticationFailed, message: "the server's SCRAM signature could not be verified"))
                }
            case .ok where finalReceived:
                state = .authenticated
                return .wait
            case .ok:
                // A server that skips SASLFinal never proved it knows the password.
                return fail(PGError(code: .authenticationFailed, message: "the server ended SCRAM authentication without proving it knows the password"))
            default:
                return fail(.violation("unexpected authentication message during SASL"))
            }
        case .awaitingAuthenticationResult:
            guard case .authentication(.ok) = message else {
                return fail(.violation("expected AuthenticationOk, got \(message.name)"))
            }
            state = .authenticated
            return .wait
        case .authenticated:
            switch message {
            case .parameterStatus(let name, let value):
                result.parameters[name] = value
                return .wait
            case .backendKeyData(let pid, let key):
                result.processID = pid
                result.secretKey = key
                return .wait
            case .readyForQuery(let status):
                result.transactionStatus = status
                state = .done
                return .ready(result)
            default:
                return fail(.violation("unexpected \(message.name) during startup"))
            }
        case .done, .failed:
            return fail(.violation("unexpected \(message.name) after startup"))
        }
    }

    private mutating func authenticationRequested(_ auth: PGBackendMessage.Authentication) -> Action {
        switch auth {
        case .ok:
            if let e = channelBindingRefusal("no password (trust or certificate)") { return fail(e) }
            state = .authenticated
            authenticationMethod = "trust"
            return .wait
        case .cleartextPassword:
            if let e = channelBindingRefusal("a cleartext password") { return fail(e) }
            if let e = needPassword("password") { return fail(e) }
            authenticationMethod = "password"
            state = .awaitingAuthenticationResult
            var out = PGWriteBuffer()
            PGFrontendEncoder.password(Array(password!.utf8), into: &out)
            return .send(out.bytes)
        case .md5Password(let salt):
            if let e = channelBindingRefusal("MD5") { return fail(e) }
            if let e = needPassword("MD5") { return fail(e) }
            authenticationMethod = "md5"
            state = .awaitingAuthenticationResult
            var out = PGWriteBuffer()
            PGFrontendEncoder.password(PGMD5Password.hash(user: user, password: password!, salt: salt), into: &out)
            return .send(out.bytes)
        case .sasl(let mechanisms):
            if let e = needPassword("SCRAM") { return fail(e) }
            var binding = channelBinding
            if case .tlsServerEndPoint = binding, !mechanisms.contains("SCRAM-SHA-256-PLUS") {
                binding = .clientSupportsButServerDoesNot
            }
            if case .tlsServerEndPoint = binding {
            } else if requireChannelBinding {
                var error = PGError(
                    code: .tls,
                    message: "channel_binding=require, but SCRAM-SHA-256-PLUS is not possible (the server offered \(mechanisms.joined(separator: ", ")) on a connection \(channelBinding == .notSupported ? "without TLS" : "over TLS"))")
                error.tlsFailure = .channelBindingUnavailable
                return fail(error)
            }
            if case .tlsServerEndPoint = binding {
                // keep
            } else if !mechanisms.contains("SCRAM-SHA-256") {
                return fail(PGError(code: .unsupportedAuthentication,
                                    message: "the server offered SASL mechanisms \(mechanisms.joined(separator: ", ")); Tusk supports SCRAM-SHA-256"))
            }
            do {
                var client = try PGSCRAMClient(username: user, password: password!, clientNonce: scramNonce, channelBinding: binding)
                let first = client.clientFirstMessage()
                authenticationMethod = client.mechanismName
                state = .sasl(client, finalReceived: false)
                var out = PGWriteBuffer()
                PGFrontendEncoder.saslInitialResponse(mechanism: client.mechanismName, initialResponse: first, into: &out)
                return .send(out.bytes)
            } catch let e as PGError {
                return fail(e)
            } catch {
                return fail(PGError(code: .authenticationFailed, message: "could not start SCRAM authentication"))
            }
        case .kerberosV5:
            return fail(PGError(code: .unsupportedAuthentication, message: "the server requested Kerberos V5 authentication, which Tusk does not support"))
        case .scmCredential:
            return fail(PGError(code: .unsupportedAuthentication, message: "the server requested SCM credential authentication, which Tusk does not support"))
        case .gss, .gssContinue:
            return fail(PGError(code: .unsupportedAuthentication, message: "the server requested GSSAPI authentication, which Tusk does not support"))
        case .sspi:
            return fail(PGError(code: .unsupportedAuthentication, message: "the server requested SSPI authentication, which Tusk does not support"))
        case .saslContinue, .saslFinal:
            return fail(.violation("SASL continuation without a SASL request"))
        }
    }
}

/// What startup learned about the session.
public struct PGStartupResult: Sendable {
    /// ParameterStatus values (server_version, client_encoding, TimeZone, …).
    public var parameters: [String: String] = [:]
    /// The backend's process id (for CancelRequest).
    public var processID: Int32 = 0
    /// The cancel key (4 bytes in protocol 3.0, up to 256 in 3.2).
    public var secretKey: [UInt8] = []
    /// Transaction status at the first ReadyForQuery.
    public var transactionStatus: PGBackendMessage.TransactionStatus = .idle
    /// Set when the server sent NegotiateProtocolVersion.
    public var protocolMinorVersion: Int?
    /// Startup options the server did not recognise.
    public var unrecognizedOptions: [String] = []
    public init() {}
}
