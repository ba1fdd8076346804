@testable import PGWire
import Testing

@Suite struct Base64Tests {
    // RFC 4648 §10 test vectors.
    static let vectors: [(String, String)] = [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ]

    @Test func encodesRFC4648Vectors() {
        for (plain, encoded) in Self.vectors {
            #expect(PGBase64.encode(Array(plain.utf8)) == encoded)
            #expect(PGBase64.encodeToBytes(Array(plain.utf8)) == Array(encoded.utf8))
        }
    }

    @Test func decodesRFC4648Vectors() {
        for (plain, encoded) in Self.vectors {
            #expect(PGBase64.decode(encoded) == Array(plain.utf8))
            #expect(PGBase64.decode(bytes: Array(encoded.utf8)) == Array(plain.utf8))
        }
    }

    @Test func roundTripsAllByteValues() {
        let all = (0...255).map { UInt8($0) }
        for length in 0...all.count where length % 17 == 0 || length < 5 {
            let slice = Array(all[0..<length])
            #expect(PGBase64.decode(PGBase64.encode(slice)) == slice)
        }
        #expect(PGBase64.encode([0xFB, 0xFF, 0xBF]) == "+/+/")
    }

    @Test(arguments: [
        "Zg", "Zg=", "Zm9", "Z===", "====", "Zg==Zg==", "Zm=v", "Zm9v\n", " Zm9v", "Zm9-", "Zm9_",
        "Zh==", "Zm9=", "Zm8\u{E9}", "Zm 9v",
    ])
    func rejectsInvalidInput(text: String) {
        #expect(PGBase64.decode(text) == nil)
    }
}
