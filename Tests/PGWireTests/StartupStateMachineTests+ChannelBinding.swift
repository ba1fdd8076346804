@testable import PGWire
import Testing

/// channel_binding=require in the start-up machine: every path but SCRAM-SHA-256-PLUS fails before a secret is sent.
@Suite struct StartupChannelBindingTests {
    let hash = [UInt8](repeating: 0xAB, count: 32)

    func failure(_ action: PGStartupStateMachine.Action) -> PGError? {
        if case .fail(let e) = action { return e }
        return nil
    }

    func sent(_ action: PGStartupStateMachine.Action) -> String? {
        guard case .send(let bytes) = action else { return nil }
        return String(decoding: bytes.map { $0 == 0 ? UInt8(ascii: "|") : $0 }, as: UTF8.self)
    }

    @Test(arguments: [
        PGBackendMessage.Authentication.ok, .cleartextPassword, .md5Password(salt: [1, 2, 3, 4]),
    ])
    func requireRefusesMethodsWithoutChannelBinding(_ request: PGBackendMessage.Authentication) throws {
        var m = PGStartupStateMachine(
            user: "app", password: "secret", channelBinding: .tlsServerEndPoint(certificateHash: hash), requireChannelBinding: true)
        let error = try #require(failure(m.messageReceived(.authentication(request))))
        #expect(error.code == .tls)
        #expect(error.tlsFailure == .channelBindingUnavailable)
        #expect(!error.description.contains("secret"))
    }

    @Test func requireRefusesAServerWithoutPLUS() throws {
        var m = PGStartupStateMachine(
            user: "app", password: "secret", channelBinding: .tlsServerEndPoint(certificateHash: hash), requireChannelBinding: true)
        let error = try #require(failure(m.messageReceived(.authentication(.sasl(mechanisms: ["SCRAM-SHA-256"])))))
        #expect(error.tlsFailure == .channelBindingUnavailable)
        #expect(error.message.contains("over TLS"))
    }

    @Test func requireRefusesAPlainConnection() throws {
        var m = PGStartupStateMachine(user: "app", password: "secret", channelBinding: .notSupported, requireChannelBinding: true)
        let error = try #require(failure(m.messageReceived(.authentication(.sasl(mechanisms: ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"])))))
        #expect(error.tlsFailure == .channelBindingUnavailable)
        #expect(error.message.contains("without TLS"))
    }

    @Test func requireUsesPLUSWhenOffered() throws {
        var m = PGStartupStateMachine(
            user: "app", password: "secret", channelBinding: .tlsServerEndPoint(certificateHash: hash), requireChannelBinding: true)
        let first = try #require(sent(m.messageReceived(.authentication(.sasl(mechanisms: ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"])))))
        #expect(first.contains("SCRAM-SHA-256-PLUS|"))
        #expect(first.contains("p=tls-server-end-point,,n=,r="))
        #expect(m.authenticationMethod == "SCRAM-SHA-256-PLUS")
    }

    @Test func preferFallsBackToYWhenTheServerDoesNotOfferPLUS() throws {
        var m = PGStartupStateMachine(user: "app", password: "secret", channelBinding: .tlsServerEndPoint(certificateHash: hash))
        let first = try #require(sent(m.messageReceived(.authentication(.sasl(mechanisms: ["SCRAM-SHA-256"])))))
        #expect(first.contains("SCRAM-SHA-256|"))
        #expect(first.contains("y,,n=,r="))
        #expect(m.authenticationMethod == "SCRAM-SHA-256")
    }
}
