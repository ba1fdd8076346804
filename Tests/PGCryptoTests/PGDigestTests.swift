@testable import PGCrypto
import Testing

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

private func ascii(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite struct PGDigestTests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func sha256KnownAnswers(input: String, expected: String) throws {
        #expect(try hex(PGDigest.sha256(ascii(input))) == expected)
    }

    @Test func sha256AcceptsNonContiguousCollections() throws {
        let bytes = ascii("abc")
        #expect(try PGDigest.sha256(bytes[...]) == PGDigest.sha256(bytes))
        #expect(try PGDigest.sha256(bytes.reversed().reversed()) == PGDigest.sha256(bytes))
        #expect(try PGDigest.sha256("abc".utf8) == PGDigest.sha256(bytes))
    }

    @Test func hmacSHA256RFC4231() throws {
        // RFC 4231 test cases 1, 2 and 6 (key longer than the block size).
        #expect(try hex(PGDigest.hmacSHA256(key: [UInt8](repeating: 0x0B, count: 20), message: ascii("Hi There")))
            == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(try hex(PGDigest.hmacSHA256(key: ascii("Jefe"), message: ascii("what do ya want for nothing?")))
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(try hex(PGDigest.hmacSHA256(
            key: [UInt8](repeating: 0xAA, count: 131),
            message: ascii("Test Using Larger Than Block-Size Key - Hash Key First")))
            == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func pbkdf2SHA256KnownAnswers() throws {
        // RFC 7914 §11 (first 32 bytes) and values cross-checked with Python's hashlib.
        #expect(hex(try PGDigest.pbkdf2SHA256(password: ascii("passwd"), salt: ascii("salt"), iterations: 1))
            == "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc")
        #expect(hex(try PGDigest.pbkdf2SHA256(password: ascii("password"), salt: ascii("salt"), iterations: 4096))
            == "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a")
        #expect(hex(try PGDigest.pbkdf2SHA256(password: ascii("Password"), salt: ascii("NaCl"), iterations: 80000))
            == "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56")
    }

    @Test func pbkdf2RejectsBadIterationCounts() {
        #expect(throws: PGCryptoError.self) { try PGDigest.pbkdf2SHA256(password: [1], salt: [2], iterations: 0) }
        #expect(throws: PGCryptoError.self) { try PGDigest.pbkdf2SHA256(password: [1], salt: [2], iterations: -5) }
        #expect(throws: PGCryptoError.self) {
            try PGDigest.pbkdf2SHA256(password: [1], salt: [2], iterations: Int(Int32.max) + 1)
        }
    }

    @Test(arguments: [
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
    ])
    func md5KnownAnswers(input: String, expected: String) {
        #expect(PGDigest.md5Hex(ascii(input)) == expected)
        #expect(hex(PGDigest.md5(ascii(input))) == expected)
        #expect(hex(PGDigest.portableMD5(ascii(input))) == expected)
    }

    @Test func portableMD5MatchesOpenSSLAcrossBlockBoundaries() {
        // Lengths around the 55/56/64-byte padding edges and several blocks.
        for length in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000] {
            let data = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            #expect(PGDigest.portableMD5(data) == PGDigest.md5(data), "length \(length)")
        }
    }

    @Test func digestByName() throws {
        #expect(try PGDigest.digest(named: "SHA256", ascii("abc")) == PGDigest.sha256(ascii("abc")))
        #expect(PGDigest.digest(named: "sha384", ascii("abc")).map(hex)
            == "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7")
        #expect(PGDigest.digest(named: "no-such-digest", ascii("abc")) == nil)
        #expect(PGDigest.digest(named: "", ascii("abc")) == nil)
    }
}

@Suite struct PGSecureRandomTests {
    @Test func producesRequestedLengths() throws {
        #expect(try PGSecureRandom.bytes(0).isEmpty)
        #expect(try PGSecureRandom.bytes(1).count == 1)
        #expect(try PGSecureRandom.bytes(64).count == 64)
    }

    @Test func successiveCallsDiffer() throws {
        #expect(try PGSecureRandom.bytes(32) != PGSecureRandom.bytes(32))
    }

    @Test func rejectsNegativeCounts() {
        #expect(throws: PGCryptoError.self) { try PGSecureRandom.bytes(-1) }
    }
}
