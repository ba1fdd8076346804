@testable import PGWire
import Testing

private func bytes(_ s: String) -> ArraySlice<UInt8> { Array(s.utf8)[...] }
private func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

@Suite struct SCRAMTests {
    static let rfcServerFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    static let rfcClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    static let rfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

    func rfcClient() throws -> PGSCRAMClient {
        try PGSCRAMClient(username: "user", password: "pencil", clientNonce: "rOprNGfwEbeRWgbNEkqO",
                          includesUsernameInMessage: true)
    }

    /// A client that has sent client-first and received the RFC server-first.
    func rfcClientAwaitingFinal() throws -> PGSCRAMClient {
        var client = try rfcClient()
        _ = client.clientFirstMessage()
        _ = try client.handleServerFirstMessage(bytes(Self.rfcServerFirst))
        return client
    }

    @Test func rfc7677EndToEnd() throws {
        var client = try rfcClient()
        #expect(client.mechanismName == "SCRAM-SHA-256")
        #expect(text(client.clientFirstMessage()) == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
        let clientFinal = try client.handleServerFirstMessage(bytes(Self.rfcServerFirst))
        #expect(text(clientFinal) == Self.rfcClientFinal)
        #expect(!client.isComplete)
        try client.handleServerFinalMessage(bytes(Self.rfcServerFinal))
        #expect(client.isComplete)
    }

    @Test func libpqStyleSendsAnEmptyUserName() throws {
        // Expected values computed independently with Python (hashlib/hmac) for user "" and the bare
        // message "n=,r=clientNonce123".
        var client = try PGSCRAMClient(username: "alice", password: "pencil", clientNonce: "clientNonce123")
        #expect(text(client.clientFirstMessage()) == "n,,n=,r=clientNonce123")
        let final = try client.handleServerFirstMessage(
            bytes("r=clientNonce123ServerPart,s=MDEyMzQ1Njc4OWFiY2RlZg==,i=4096"))
        #expect(text(final) == "c=biws,r=clientNonce123ServerPart,p=DfRnZmm5XLiYMqV4NBJjbEtGT9nFHbhOgf0cdzIChnU=")
        try client.handleServerFinalMessage(bytes("v=tA5uoTPp3CtlG8DPodZ1Jx5S5Wj5q/PdQRMiPFG8gC0="))
        #expect(client.isComplete)
    }

    @Test func channelBindingTLSServerEndPoint() throws {
        let binding = PGSCRAMChannelBinding.tlsServerEndPoint(certificateHash: (1...32).map { UInt8($0) })
        #expect(binding.mechanismName == "SCRAM-SHA-256-PLUS")
        var client = try PGSCRAMClient(username: "", password: "pencil", clientNonce: "clientNonce123",
                                       channelBinding: binding)
        #expect(client.mechanismName == "SCRAM-SHA-256-PLUS")
        #expect(text(client.clientFirstMessage()) == "p=tls-server-end-point,,n=,r=clientNonce123")
        let final = try client.handleServerFirstMessage(
            bytes("r=clientNonce123ServerPart,s=MDEyMzQ1Njc4OWFiY2RlZg==,i=4096"))
        #expect(text(final) == "c=cD10bHMtc2VydmVyLWVuZC1wb2ludCwsAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
            + ",r=clientNonce123ServerPart,p=ADahg2NaqcKnsj9QGBgZTF7bior5Jd4xOPDXrQDqBeU=")
        try client.handleServerFinalMessage(bytes("v=QWdFVlrj9/iNvh2Wn7D53+Btcs4x2+XLqGu6yK6DpHY="))
        #expect(client.isComplete)
    }

    @Test func channelBindingClientSupportsButServerDoesNot() throws {
        var client = try PGSCRAMClient(username: "", password: "pencil", clientNonce: "clientNonce123",
                                       channelBinding: .clientSupportsButServerDoesNot)
        #expect(client.mechanismName == "SCRAM-SHA-256")
        #expect(text(client.clientFirstMessage()) == "y,,n=,r=clientNonce123")
        let final = try client.handleServerFirstMessage(
            bytes("r=clientNonce123ServerPart,s=MDEyMzQ1Njc4OWFiY2RlZg==,i=4096"))
        #expect(text(final) == "c=eSws,r=clientNonce123ServerPart,p=hsEBBF5KVJdacMbpzpHuSPq7c9fhAH8k8/4NHzJ2TrA=")
        try client.handleServerFinalMessage(bytes("v=X59b5A+ZFCTBoE5eIx2ZhwtBO5fCGIZ9YbFZTqbnBAg="))
    }

    @Test func randomNonceIsBase64Of24Bytes() throws {
        var a = try PGSCRAMClient(username: "u", password: "p")
        var b = try PGSCRAMClient(username: "u", password: "p")
        let first = text(a.clientFirstMessage())
        #expect(first.hasPrefix("n,,n=,r="))
        let nonce = String(first.dropFirst("n,,n=,r=".count))
        #expect(PGBase64.decode(nonce)?.count == 24)
        #expect(first != text(b.clientFirstMessage()))
    }

    @Test func userNameIsEscaped() throws {
        var client = try PGSCRAMClient(username: "a=b,c", password: "p", clientNonce: "n",
                                       includesUsernameInMessage: true)
        #expect(text(client.clientFirstMessage()) == "n,,n=a=3Db=2Cc,r=n")
    }

    @Test func wrongServerSignatureIsRefused() throws {
        var client = try rfcClientAwaitingFinal()
        let error = #expect(throws: PGError.self) {
            try client.handleServerFinalMessage(bytes("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="))
        }
        #expect(error?.code == .authenticationFailed)
        #expect(!client.isComplete)
        // A short (but valid Base64) signature is refused too.
        var other = try rfcClientAwaitingFinal()
        #expect(throws: PGError.self) { try other.handleServerFinalMessage(bytes("v=AAAA")) }
    }

    @Test func serverErrorIsRefused() throws {
        var client = try rfcClientAwaitingFinal()
        let error = #expect(throws: PGError.self) { try client.handleServerFinalMessage(bytes("e=invalid-proof")) }
        #expect(error?.code == .authenticationFailed)
        #expect(error?.message.contains("invalid-proof") == true)
    }

    @Test(arguments: [
        "v=", "v=!!!!", "x=abc", "", "v", "=abc", "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4",
    ])
    func malformedServerFinalIsAProtocolViolation(message: String) throws {
        var client = try rfcClientAwaitingFinal()
        let error = #expect(throws: PGError.self) { try client.handleServerFinalMessage(bytes(message)) }
        #expect(error?.code == .protocolViolation)
    }

    @Test(arguments: [
        // Nonce does not start with the client nonce.
        "r=XOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        // Nonce equals the client nonce (the server added nothing).
        "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        // Nonce shorter than the client nonce.
        "r=rOprNG,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        // Empty nonce.
        "r=,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        // Non-printable character in the nonce.
        "r=rOprNGfwEbeRWgbNEkqO\u{7F}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    ])
    func badNonceIsRefused(serverFirst: String) throws {
        var client = try rfcClient()
        _ = client.clientFirstMessage()
        let error = #expect(throws: PGError.self) { try client.handleServerFirstMessage(bytes(serverFirst)) }
        #expect(error?.code == .protocolViolation)
    }

    @Test(arguments: [
        "r=rOprNGfwEbeRWgbNEkqOabc,s=,i=4096",                          // empty salt
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22Z*J0SNY7soEsUEjb6gQ==,i=4096",  // invalid Base64 salt
        "r=rOprNGfwEbeRWgbNEkqOabc,i=4096",                             // missing salt
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",     // iteration count too small
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=10000001", // above the bound
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999999999999999",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=+4096",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4k",
        "s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOabc,i=4096",  // wrong order
        "m=ext,r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", // mandatory extension
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,",  // trailing empty attribute
        "r=rOprNGfwEbeRWgbNEkqOabc,,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "rr=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "1=x,r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "e=other-error",
        "",
    ])
    func malformedServerFirstIsAProtocolViolation(serverFirst: String) throws {
        var client = try rfcClient()
        _ = client.clientFirstMessage()
        let error = #expect(throws: PGError.self) { try client.handleServerFirstMessage(bytes(serverFirst)) }
        #expect(error?.code == .protocolViolation)
    }

    @Test func extensionsAfterTheIterationCountAreIgnored() throws {
        var client = try rfcClient()
        _ = client.clientFirstMessage()
        _ = try client.handleServerFirstMessage(bytes(Self.rfcServerFirst + ",x=future"))
    }

    @Test func invalidUTF8IsRefused() throws {
        var client = try rfcClient()
        _ = client.clientFirstMessage()
        var message = Array("r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096".utf8)
        message.append(0xFF)
        let error = #expect(throws: PGError.self) { try client.handleServerFirstMessage(message[...]) }
        #expect(error?.code == .protocolViolation)

        var awaitingFinal = try rfcClientAwaitingFinal()
        #expect(throws: PGError.self) { try awaitingFinal.handleServerFinalMessage([0x76, 0x3D, 0xC3][...]) }
    }

    @Test func callsOutOfOrderAreRefused() throws {
        var fresh = try rfcClient()
        #expect(throws: PGError.self) { try fresh.handleServerFirstMessage(bytes(Self.rfcServerFirst)) }

        var noFirst = try rfcClient()
        #expect(throws: PGError.self) { try noFirst.handleServerFinalMessage(bytes(Self.rfcServerFinal)) }

        var twice = try rfcClientAwaitingFinal()
        #expect(throws: PGError.self) { try twice.handleServerFirstMessage(bytes(Self.rfcServerFirst)) }

        var done = try rfcClientAwaitingFinal()
        try done.handleServerFinalMessage(bytes(Self.rfcServerFinal))
        #expect(throws: PGError.self) { try done.handleServerFinalMessage(bytes(Self.rfcServerFinal)) }

        // After a failure the client stays failed.
        var failed = try rfcClient()
        _ = failed.clientFirstMessage()
        #expect(throws: PGError.self) { try failed.handleServerFirstMessage(bytes("garbage")) }
        #expect(throws: PGError.self) { try failed.handleServerFirstMessage(bytes(Self.rfcServerFirst)) }
    }

    @Test func invalidInjectedNonceIsMisuse() {
        for nonce in ["", "a,b", "a b", "caf\u{E9}"] {
            let error = #expect(throws: PGError.self) { try PGSCRAMClient(username: "u", password: "p", clientNonce: nonce) }
            #expect(error?.code == .misuse)
        }
    }

    @Test func passwordNeverAppearsInDescriptionsOrErrors() throws {
        let secret = "hunter2-very-secret"
        var client = try PGSCRAMClient(username: "u", password: secret, clientNonce: "abc")
        #expect(!String(describing: client).contains(secret))
        #expect(!String(reflecting: client).contains(secret))
        var dumped = ""
        dump(client, to: &dumped)
        #expect(!dumped.contains(secret))
        _ = client.clientFirstMessage()
        let error = #expect(throws: PGError.self) {
            _ = try client.handleServerFirstMessage(bytes("r=abcd,s=c2FsdA==,i=1"))
            try client.handleServerFinalMessage(bytes("v=AAAA"))
        }
        #expect(error.map { String(reflecting: $0).contains(secret) } == false)
    }

    @Test func saslPreppedPasswordsMatchTheirPreparedForm() throws {
        // "pen\u{00A0}cil" prepares to "pen cil"; both must produce the same proof.
        func clientFinal(_ password: String) throws -> [UInt8] {
            var client = try PGSCRAMClient(username: "", password: password, clientNonce: "abc")
            _ = client.clientFirstMessage()
            return try client.handleServerFirstMessage(bytes("r=abcdef,s=c2FsdA==,i=2"))
        }
        #expect(try clientFinal("pen\u{00A0}cil") == clientFinal("pen cil"))
        #expect(try clientFinal("\u{2168}") == clientFinal("IX"))
        #expect(try clientFinal("\u{2168}") != clientFinal("\u{2168}x\u{0007}"))
    }
}
