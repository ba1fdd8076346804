// Malformed input never traps: every new decoder, fed truncated, corrupted and random bytes in both
// formats, either decodes or throws a `.decoding` PGError.

import Foundation
import Testing

@testable import PGWire

@Suite struct CodecFuzzTests {
    typealias S = CodecTestSupport

    /// A decoder under test: its name, and a closure decoding (bytes, type, format).
    struct Target: Sendable {
        let type: PGDataType
        let decode: @Sendable (ArraySlice<UInt8>, PGDataType, PGFormat) throws -> Void
        init<T: PGDecodable>(_ swiftType: T.Type, _ type: PGDataType) {
            self.type = type
            self.decode = { bytes, type, format in _ = try T(pgBytes: bytes, type: type, format: format) }
        }
    }

    static let targets: [Target] = [
        Target(PGNumeric.self, .numeric), Target(Decimal.self, .numeric), Target(String.self, .numeric),
        Target(PGTime.self, .time), Target(PGTimestamp.self, .timestamptz), Target(PGLocalTimestamp.self, .timestamp),
        Target(PGInterval.self, .interval), Target(String.self, .interval), Target(PGJSONValue.self, .jsonb),
        Target(PGJSON<[String: Int]>.self, .jsonb), Target(PGInet.self, .inet), Target(PGInet.self, .cidr), Target(String.self, .cidr),
        Target(PGRange<Int32>.self, .int4range), Target(PGRange<PGTimestamp>.self, .tstzrange), Target(String.self, .tstzrange),
        Target(PGRange<PGNumeric>.self, .numrange), Target(PGMoney.self, .money),
        Target([Int32].self, .int4Array), Target([Int32?].self, .int4Array), Target([[Int32?]].self, .int4Array),
        Target([String?].self, .textArray), Target([[String]].self, .textArray), Target(String.self, .textArray),
        Target([PGNumeric].self, .numericArray), Target(String.self, .numericArray), Target([Double].self, .float8Array),
        Target(String.self, .float8Array), Target([PGRange<Int32>].self, .int4rangeArray), Target(String.self, .int4rangeArray),
        Target([PGInet].self, .inetArray), Target([PGTimestamp?].self, .timestamptzArray), Target(String.self, .timestamptzArray),
    ]

    /// Valid encodings to corrupt.
    static func seeds() throws -> [[UInt8]] {
        try [
            S.bytes(PGNumeric("-12345.6789")!), S.bytes(PGTime(hour: 1, minute: 2, second: 3)), S.bytes(PGInterval(months: 1, days: 2, microseconds: 3)),
            S.bytes(PGJSONValue(#"{"a":1}"#)), S.bytes(PGInet("2001:db8::1/64")!), S.bytes(PGRange<Int32>(lower: 1, upper: nil)),
            S.bytes([[Int32?.none, 2], [3, 4]]), S.bytes(["a", "b c"]), S.bytes([PGNumeric("1.5")!]), S.bytes([1.5, 2.5]),
            S.bytes([PGRange<Int32>(lower: 1, upper: 2)]), S.bytes([PGTimestamp.infinity]),
            Array("{{1,2},{3,NULL}}".utf8), Array(#"{"a\"b",c}"#.utf8), Array("[1,5)".utf8), Array("1 year 2 mons -03:04:05.6".utf8),
            Array("2024-01-01 00:00:00+00".utf8), Array("192.168.0.1/24".utf8), Array("-1.5e-3".utf8),
        ]
    }

    static func mustNotTrap(_ target: Target, _ bytes: [UInt8]) {
        for format in [PGFormat.binary, .text] {
            do {
                try target.decode(S.field(bytes), target.type, format)
            } catch let e as PGError {
                #expect(e.code == .decoding, "\(e)")
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
    }

    @Test func truncatedAndCorruptedInputs() throws {
        for seed in try Self.seeds() {
            for target in Self.targets {
                for length in 0..<seed.count { Self.mustNotTrap(target, Array(seed.prefix(length))) }
                for i in seed.indices {
                    for value: UInt8 in [0x00, 0xFF, UInt8(ascii: "{")] {
                        var corrupted = seed
                        corrupted[i] = value
                        Self.mustNotTrap(target, corrupted)
                    }
                }
            }
        }
    }

    @Test func randomInputs() {
        var rng = SplitMix64(seed: 0x7A5C)
        for _ in 0..<600 {
            let length = Int(rng.next() % 40)
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            for target in Self.targets { Self.mustNotTrap(target, bytes) }
        }
    }
}

/// A small deterministic generator, so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
