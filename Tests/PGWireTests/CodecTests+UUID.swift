// UUID codec.

import Foundation
import Testing

@testable import PGWire

@Suite struct CodecUUIDTests {
    typealias S = CodecTestSupport
    static let sample = UUID(uuidString: "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11")!
    static let sampleBytes: [UInt8] = [0xA0, 0xEE, 0xBC, 0x99, 0x9C, 0x0B, 0x4E, 0xF8, 0xBB, 0x6D, 0x6B, 0xB9, 0xBD, 0x38, 0x0A, 0x11]

    @Test func knownBytesAndRoundTrip() throws {
        #expect(try S.bytes(Self.sample) == Self.sampleBytes)
        #expect(try S.roundTrip(Self.sample) == Self.sample)
        let zero = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        #expect(try S.roundTrip(zero) == zero)
        for _ in 0..<20 {
            let id = UUID()
            #expect(try S.roundTrip(id) == id)
        }
        #expect(UUID.pgDataType == .uuid)
    }

    @Test func decodesText() throws {
        #expect(try UUID(pgBytes: S.field("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), type: .uuid, format: .text) == Self.sample)
        #expect(try UUID(pgBytes: S.field("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), type: .uuid, format: .text) == Self.sample)
    }

    @Test func rejectsBadInput() {
        for text in ["", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", "a0eebc999c0b-4ef8-bb6d-6bb9bd380a11-", "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                     "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111", "a0eebc99+9c0b-4ef8-bb6d-6bb9bd380a11"] {
            S.expectDecodingError(["uuid", "UUID"]) { _ = try UUID(pgBytes: S.field(text), type: .uuid, format: .text) }
        }
        S.expectDecodingError(["uuid", "15 bytes", "UUID"]) {
            _ = try UUID(pgBytes: S.field(Array(Self.sampleBytes.dropLast())), type: .uuid, format: .binary)
        }
        S.expectDecodingError(["text", "UUID"]) {
            _ = try UUID(pgBytes: S.field("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), type: .text, format: .text)
        }
    }
}
