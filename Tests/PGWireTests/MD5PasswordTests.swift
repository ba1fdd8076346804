@testable import PGWire
import Testing

@Suite struct MD5PasswordTests {
    // Expected values computed independently with Python:
    //   "md5" + md5(md5(password + user).hexdigest().encode() + salt).hexdigest()
    @Test func matchesIndependentComputation() {
        let response = PGMD5Password.hash(user: "postgres", password: "secret", salt: [0x01, 0x02, 0x03, 0x04])
        #expect(String(decoding: response, as: UTF8.self) == "md5bb41a296aab6baccb36ff243a562abff")
        #expect(response.count == 35)
        #expect(!response.contains(0))
    }

    @Test func hashesNonASCIIPasswordsAsUTF8() {
        let response = PGMD5Password.hash(user: "alice", password: "pässwörd", salt: [0xDE, 0xAD, 0xBE, 0xEF])
        #expect(String(decoding: response, as: UTF8.self) == "md5f844ef79d5bdbe1ed21eaba5f0e4488a")
    }
}
