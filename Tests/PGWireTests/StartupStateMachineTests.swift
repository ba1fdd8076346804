import PGCrypto
@testable import PGWire
import Testing

/// The server's side of SCRAM-SHA-256 (RFC 5802 §3), to check the client's proof and sign as a real server would.
func scramServerSide(clientFirstBare: String, serverFirst: String, clientFinalWithoutProof: String,
                     password: String, salt: [UInt8], iterations: Int) throws -> (clientProof: String, serverFinal: String) {
    let salted = try PGDigest.pbkdf2SHA256(password: Array(password.utf8), salt: salt, iterations: iterations)
    let clientKey = try PGDigest.hmacSHA256(key: salted, message: Array("Client Key".utf8))
    let storedKey = try PGDigest.sha256(clientKey)
    let authMessage = Array((clientFirstBare + "," + serverFirst + "," + clientFinalWithoutProof).utf8)
    let clientSignature = try PGDigest.hmacSHA256(key: storedKey, message: authMessage)
    let proof = zip(clientKey, clientSignature).map { $0 ^ $1 }
    let serverKey = try PGDigest.hmacSHA256(key: salted, message: Array("Server Key".utf8))
    let serverSignature = try PGDigest.hmacSHA256(key: serverKey, message: authMessage)
    return (PGBase64.encode(proof), "v=" + PGBase64.encode(serverSignature))
}

/// Transcripts of startup: each backend message in, the action out. No server.
@Suite struct StartupStateMachineTests {
    /// The password message's body (after the 'p' type byte and the length).
    func passwordBody(_ action: PGStartupStateMachine.Action) -> [UInt8]? {
        guard case .send(let bytes) = action, bytes.first == UInt8(ascii: "p"), bytes.count >= 5 else { return nil }
        return Array(bytes.dropFirst(5))
    }

    func isWait(_ action: PGStartupStateMachine.Action) -> Bool {
        if case .wait = action { return true }
        return false
    }

    func failure(_ action: PGStartupStateMachine.Action) -> PGError? {
        if case .fail(let e) = action { return e }
        return nil
    }

    /// ParameterStatus, BackendKeyData, ReadyForQuery: the tail every successful startup shares.
    func finish(_ m: inout PGStartupStateMachine) -> PGStartupResult? {
        #expect(isWait(m.messageReceived(.parameterStatus(name: "server_version", value: "15.18"))))
        #expect(isWait(m.messageReceived(.backendKeyData(processID: 4242, secretKey: [1, 2, 3, 4]))))
        guard case .ready(let result) = m.messageReceived(.readyForQuery(.idle)) else { return nil }
        return result
    }

    @Test func trust() throws {
        var m = PGStartupStateMachine(user: "app", password: nil)
        #expect(isWait(m.messageReceived(.authentication(.ok))))
        let result = try #require(finish(&m))
        #expect(m.authenticationMethod == "trust")
        #expect(result.parameters["server_version"] == "15.18")
        #expect(result.processID == 4242)
        #expect(result.secretKey == [1, 2, 3, 4])
        #expect(result.transactionStatus == .idle)
    }

    @Test func cleartextPassword() throws {
        var m = PGStartupStateMachine(user: "app", password: "secret")
        let body = try #require(passwordBody(m.messageReceived(.authentication(.cleartextPassword))))
        #expect(body == Array("secret".utf8) + [0])
        #expect(isWait(m.messageReceived(.authentication(.ok))))
        _ = try #require(finish(&m))
        #expect(m.authenticationMethod == "password")
    }

    @Test func md5MatchesPostgresFormula() throws {
        // md5(md5(password || user) || salt), hex, prefixed "md5" — checked against a value computed by
        // PostgreSQL's own pg_md5_encrypt for user "postgres", password "postgres", salt 01 02 03 04.
        var m = PGStartupStateMachine(user: "postgres", password: "postgres")
        let body = try #require(passwordBody(m.messageReceived(.authentication(.md5Password(salt: [1, 2, 3, 4])))))
        let text = String(decoding: body.dropLast(), as: UTF8.self)
        #expect(text.hasPrefix("md5"))
        #expect(text.count == 35)
        #expect(body.last == 0)
        #expect(text == String(decoding: PGMD5Password.hash(user: "postgres", password: "postgres", salt: [1, 2, 3, 4]), as: UTF8.self))
        #expect(isWait(m.messageReceived(.authentication(.ok))))
        _ = try #require(finish(&m))
        #expect(m.authenticationMethod == "md5")
    }

    @Test func scramWithTheRFC7677Vector() throws {
        var m = PGStartupStateMachine(user: "user", password: "pencil", scramNonce: "rOprNGfwEbeRWgbNEkqO")
        guard case .send(let initial) = m.messageReceived(.authentication(.sasl(mechanisms: ["SCRAM-SHA-256"]))) else {
            Issue.record("no SASLInitialResponse")
            return
        }
        #expect(initial.first == UInt8(ascii: "p"))
        let initialText = String(decoding: initial, as: UTF8.self)
        #expect(initialText.contains("SCRAM-SHA-256\0"))
        #expect(initialText.hasSuffix("n,,n=,r=rOprNGfwEbeRWgbNEkqO"))
        let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        guard case .send(let response) = m.messageReceived(.authentication(.saslContinue(data: Array(serverFirst.utf8)))) else {
            Issue.record("no SASLResponse")
            return
        }
        let responseText = String(decoding: response.dropFirst(5), as: UTF8.self)
        #expect(responseText.hasPrefix("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p="))
        // libpq sends an empty user name (the server uses the startup user), so the proof differs from the
        // RFC's; the server's signature below is the matching one for this client-first message.
        let proofAndSignature = try scramServerSide(
            clientFirstBare: "n=,r=rOprNGfwEbeRWgbNEkqO", serverFirst: serverFirst,
            clientFinalWithoutProof: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
            password: "pencil", salt: try #require(PGBase64.decode("W22ZaJ0SNY7soEsUEjb6gQ==")), iterations: 4096)
        #expect(responseText.hasSuffix(proofAndSignature.clientProof))
        #expect(isWait(m.messageReceived(.authentication(.saslFinal(data: Array(proofAndSignature.serverFinal.utf8))))))
        #expect(isWait(m.messageReceived(.authentication(.ok))))
        _ = try #require(finish(&m))
        #expect(m.authenticationMethod == "SCRAM-SHA-256")
    }

    @Test func scramServerWithAWrongSignatureIsRefused() throws {
        var m = PGStartupStateMachine(user: "user", password: "pencil", scramNonce: "rOprNGfwEbeRWgbNEkqO")
        _ = m.messageReceived(.authentication(.sasl(mechanisms: ["SCRAM-SHA-256"])))
        let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        _ = m.messageReceived(.authentication(.saslContinue(data: Array(serverFirst.utf8))))
        let error = try #require(failure(m.messageReceived(.authentication(.saslFinal(data: Array("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".utf8))))))
        #expect(error.code == .authenticationFailed)
        // Once failed, nothing more is accepted.
        #expect(failure(m.messageReceived(.authentication(.ok))) != nil)
    }

    @Test func scramServerSkippingSASLFinalIsRefused() throws {
        var m = PGStartupStateMachine(user: "user", password: "pencil", scramNonce: "rOprNGfwEbeRWgbNEkqO")
        _ = m.messageReceived(.authentication(.sasl(mechanisms: ["SCRAM-SHA-256"])))
        let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        _ = m.messageReceived(.authentication(.saslContinue(data: Array(serverFirst.utf8))))
        let error = try #require(failure(m.messageReceived(.authentication(.ok))))
        #expect(error.code == .authenticationFailed)
    }

    @Test func onlyUnknownSASLMechanismsAreUnsupported() throws {
        var m = PGStartupStateMachine(user: "u", password: "p")
        let error = try #require(failure(m.messageReceived(.authentication(.sasl(mechanisms: ["SCRAM-SHA-512"])))))
        #expect(error.code == .unsupportedAuthentication)
    }

    @Test(arguments: [
        PGBackendMessage.Authentication.kerberosV5, .scmCredential, .gss, .sspi, .gssContinue(data: [1]),
    ])
    func unsupportedMethodsAreTypedErrors(_ auth: PGBackendMessage.Authentication) throws {
        var m = PGStartupStateMachine(user: "u", password: "p")
        let error = try #require(failure(m.messageReceived(.authentication(auth))))
        #expect(error.code == .unsupportedAuthentication || error.code == .protocolViolation)
    }

    @Test func passwordRequestWithoutAPasswordFails() throws {
        for auth in [PGBackendMessage.Authentication.cleartextPassword, .md5Password(salt: [0, 0, 0, 0]),
                     .sasl(mechanisms: ["SCRAM-SHA-256"])] {
            var m = PGStartupStateMachine(user: "u", password: nil)
            let error = try #require(failure(m.messageReceived(.authentication(auth))))
            #expect(error.code == .authenticationFailed)
        }
    }

    @Test func errorResponseDuringAuthenticationIsTyped() throws {
        var m = PGStartupStateMachine(user: "u", password: "p")
        _ = m.messageReceived(.authentication(.cleartextPassword))
        let info = PGServerErrorInfo(fields: [
            UInt8(ascii: "C"): "28P01", UInt8(ascii: "M"): "password authentication failed for user \"u\"", UInt8(ascii: "S"): "FATAL",
        ])
        let error = try #require(failure(m.messageReceived(.errorResponse(info))))
        #expect(error.code == .authenticationFailed)
        #expect(error.sqlState == .invalidPassword)
        #expect(!error.description.contains("\"p\""))
    }

    @Test func noticesPassThroughAndNegotiateProtocolVersionIsRecorded() throws {
        var m = PGStartupStateMachine(user: "u", password: nil)
        #expect(isWait(m.messageReceived(.negotiateProtocolVersion(newestMinor: 0, unrecognizedOptions: ["_pq_.x"]))))
        let notice = PGServerErrorInfo(fields: [UInt8(ascii: "M"): "hello", UInt8(ascii: "S"): "NOTICE"])
        guard case .notice(let info) = m.messageReceived(.noticeResponse(notice)) else {
            Issue.record("notice not passed through")
            return
        }
        #expect(info.message == "hello")
        #expect(isWait(m.messageReceived(.authentication(.ok))))
        let result = try #require(finish(&m))
        #expect(result.protocolMinorVersion == 0)
        #expect(result.unrecognizedOptions == ["_pq_.x"])
    }

    @Test func messagesOutOfPlaceAreViolations() throws {
        // A DataRow before authentication.
        var a = PGStartupStateMachine(user: "u", password: nil)
        #expect(failure(a.messageReceived(.readyForQuery(.idle)))?.code == .protocolViolation)
        // SASLContinue without a SASL request.
        var b = PGStartupStateMachine(user: "u", password: "p")
        #expect(failure(b.messageReceived(.authentication(.saslContinue(data: [])))) != nil)
        // A query reply after authentication, before ReadyForQuery.
        var c = PGStartupStateMachine(user: "u", password: nil)
        _ = c.messageReceived(.authentication(.ok))
        #expect(failure(c.messageReceived(.commandComplete(tag: "SELECT 1")))?.code == .protocolViolation)
        // A second AuthenticationOk while awaiting the result of a password.
        var d = PGStartupStateMachine(user: "u", password: "p")
        _ = d.messageReceived(.authentication(.cleartextPassword))
        #expect(failure(d.messageReceived(.parameterStatus(name: "a", value: "b")))?.code == .protocolViolation)
    }
}
