@testable import PGWire
import Testing

@Suite struct SASLprepTests {
    @Test func asciiTakesTheFastPathUnchanged() {
        #expect(PGSASLprep.prepare("pencil") == .prepared("pencil"))
        #expect(PGSASLprep.prepare("") == .prepared(""))
        // libpq passes ASCII through untouched, control characters included.
        #expect(PGSASLprep.prepare("a\u{7}b") == .prepared("a\u{7}b"))
    }

    @Test func mapsNonASCIISpacesToSpace() {
        #expect(PGSASLprep.prepare("pen\u{00A0}cil") == .prepared("pen cil"))
        #expect(PGSASLprep.prepare("a\u{3000}b\u{2003}c") == .prepared("a b c"))
    }

    @Test func removesCharactersMappedToNothing() {
        // RFC 4013 §3 examples: SOFT HYPHEN is removed.
        #expect(PGSASLprep.prepare("I\u{00AD}X") == .prepared("IX"))
        #expect(PGSASLprep.prepare("a\u{FEFF}b\u{200D}c") == .prepared("abc"))
    }

    @Test func normalizesWithNFKC() {
        #expect(PGSASLprep.prepare("\u{00AA}") == .prepared("a"))         // RFC 4013: <U+00AA> → "a"
        #expect(PGSASLprep.prepare("\u{2168}") == .prepared("IX"))        // ROMAN NUMERAL NINE
        #expect(PGSASLprep.prepare("\u{FB01}x") == .prepared("fix"))      // LATIN SMALL LIGATURE FI
        #expect(PGSASLprep.prepare("e\u{0301}") == .prepared("\u{00E9}")) // composed
    }

    @Test func prohibitedCharactersAreReported() {
        // RFC 4013 §3: <U+0007> is prohibited (non-ASCII context so the fast path does not apply).
        guard case .prohibited = PGSASLprep.prepare("\u{00E9}\u{0007}") else {
            Issue.record("a control character must be prohibited")
            return
        }
        #expect(PGSASLprep.prepare("\u{E000}x") != .prepared("\u{E000}x"))   // private use
        #expect(PGSASLprep.prepare("\u{0221}") != .prepared("\u{0221}"))     // unassigned in Unicode 3.2
        #expect(PGSASLprep.prepare("\u{00AD}") != .prepared(""))              // maps to nothing
    }

    @Test func bidiRules() {
        // RFC 4013 §3: <U+0627><U+0031> violates the rule that an RandALCat string must end with RandALCat.
        #expect(PGSASLprep.prepare("\u{0627}\u{0031}") != .prepared("\u{0627}\u{0031}"))
        #expect(PGSASLprep.prepare("\u{0627}\u{0031}\u{0628}") == .prepared("\u{0627}\u{0031}\u{0628}"))
        // Mixing right-to-left with left-to-right letters is prohibited.
        #expect(PGSASLprep.prepare("\u{05D0}a\u{05D0}") != .prepared("\u{05D0}a\u{05D0}"))
    }

    @Test func passwordBytesFallBackToRawUTF8() {
        #expect(PGSASLprep.passwordBytes("pencil") == Array("pencil".utf8))
        #expect(PGSASLprep.passwordBytes("I\u{00AD}X") == Array("IX".utf8))
        #expect(PGSASLprep.passwordBytes("\u{2168}") == Array("IX".utf8))
        let prohibited = "\u{00E9}\u{0007}"
        #expect(PGSASLprep.passwordBytes(prohibited) == Array(prohibited.utf8))
        let mixedBidi = "\u{0627}\u{0031}"
        #expect(PGSASLprep.passwordBytes(mixedBidi) == Array(mixedBidi.utf8))
    }

    @Test func tableLookupEdges() {
        #expect(PGSASLprep.contains(PGSASLprepTables.nonASCIISpaces, "\u{00A0}"))
        #expect(PGSASLprep.contains(PGSASLprepTables.nonASCIISpaces, "\u{3000}"))
        #expect(!PGSASLprep.contains(PGSASLprepTables.nonASCIISpaces, " "))
        #expect(PGSASLprep.contains(PGSASLprepTables.prohibitedOutput, "\u{10FFFD}"))
        #expect(!PGSASLprep.contains(PGSASLprepTables.prohibitedOutput, "a"))
    }
}
