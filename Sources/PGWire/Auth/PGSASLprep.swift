// NFKC normalization (`precomposedStringWithCompatibilityMapping`) lives in full Foundation, not FoundationEssentials.
import Foundation

/// SASLprep (RFC 4013, a profile of stringprep, RFC 3454) as PostgreSQL applies it to SCRAM passwords.
///
/// Mirrors libpq's `pg_saslprep`: non-ASCII spaces become U+0020, characters "commonly mapped to nothing"
/// are removed, the result is NFKC-normalized, then checked for prohibited output, unassigned code
/// points (Unicode 3.2) and the bidirectional rules. A password that fails those checks (or that maps to
/// nothing) is used as its raw UTF-8 bytes instead, exactly as libpq and the server do, so such
/// passwords still work.
///
/// ```swift
/// PGSASLprep.prepare("pencil")                      // .prepared("pencil"), ASCII fast path
/// PGSASLprep.prepare("I\u{00AD}X")                  // .prepared("IX"), soft hyphen removed
/// PGSASLprep.passwordBytes("a\u{0007}\u{00E9}")     // raw UTF-8 bytes (prohibited control character)
/// ```
public enum PGSASLprep {
    /// The outcome of preparing a string.
    public enum Result: Sendable, Hashable {
        /// The string was valid for SASLprep; this is its prepared form.
        case prepared(String)
        /// The string contains prohibited or unassigned characters, violates the bidi rules, or maps to
        /// nothing; `reason` says which (it never contains the string itself).
        case prohibited(reason: String)
    }

    /// Applies SASLprep (stored-strings profile: unassigned code points are prohibited).
    ///
    /// ```swift
    /// if case .prepared(let s) = PGSASLprep.prepare("\u{2168}") { print(s) }  // "IX"
    /// ```
    public static func prepare(_ input: String) -> Result {
        // Fast path: pure ASCII needs no processing (libpq does the same, even for control characters).
        if input.utf8.allSatisfy({ $0 < 0x80 }) { return .prepared(input) }

        // 1. Map.
        var mapped = String.UnicodeScalarView()
        for scalar in input.unicodeScalars {
            if contains(PGSASLprepTables.nonASCIISpaces, scalar) {
                mapped.append(" ")
            } else if !contains(PGSASLprepTables.mappedToNothing, scalar) {
                mapped.append(scalar)
            }
        }
        if mapped.isEmpty { return .prohibited(reason: "the string maps to nothing") }

        // 2. Normalize (NFKC).
        let normalized = String(mapped).precomposedStringWithCompatibilityMapping
        let scalars = Array(normalized.unicodeScalars)
        guard let first = scalars.first, let last = scalars.last else {
            return .prohibited(reason: "the string normalizes to nothing")
        }

        // 3. Prohibit (C.1.2, C.2.1, C.2.2, C.3–C.9) and 4. unassigned code points (A.1).
        if scalars.contains(where: { contains(PGSASLprepTables.prohibitedOutput, $0) }) {
            return .prohibited(reason: "the string contains a prohibited or unassigned character")
        }

        // 5. Bidirectional characters (RFC 3454 §6).
        if scalars.contains(where: { contains(PGSASLprepTables.randALCat, $0) }) {
            if scalars.contains(where: { contains(PGSASLprepTables.lCat, $0) }) {
                return .prohibited(reason: "the string mixes right-to-left and left-to-right characters")
            }
            guard contains(PGSASLprepTables.randALCat, first), contains(PGSASLprepTables.randALCat, last) else {
                return .prohibited(reason: "a right-to-left string must start and end with a right-to-left character")
            }
        }
        return .prepared(normalized)
    }

    /// The bytes SCRAM should use for `password`: its SASLprep form if valid, else its raw UTF-8 bytes.
    ///
    /// ```swift
    /// let bytes = PGSASLprep.passwordBytes("p\u{00A0}w")  // Array("p w".utf8)
    /// ```
    public static func passwordBytes(_ password: String) -> [UInt8] {
        switch prepare(password) {
        case .prepared(let prepared): return Array(prepared.utf8)
        case .prohibited: return Array(password.utf8)
        }
    }

    /// Whether `scalar` falls in one of the flat `[lower, upper, lower, upper, …]` ranges of `table`.
    static func contains(_ table: [UInt32], _ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        var low = 0
        var high = table.count / 2 - 1
        while low <= high {
            let mid = (low + high) / 2
            if value < table[2 * mid] {
                high = mid - 1
            } else if value > table[2 * mid + 1] {
                low = mid + 1
            } else {
                return true
            }
        }
        return false
    }
}
