import PGCrypto
import Synchronization

/// Remembers SCRAM salted passwords (PBKDF2 results) for the last few (password, salt, iterations)
/// triples, so reconnecting with the same credentials skips the deliberately slow key derivation
/// (4096 HMAC rounds by default, about a millisecond of CPU). Entries are keyed by a SHA-256 digest
/// of the triple, never by the password itself; the derived key is as sensitive as the password,
/// which the process holds anyway.
final class PGSaltedPasswordCache: Sendable {
    static let shared = PGSaltedPasswordCache(capacity: 16)

    private struct Entry {
        var key: [UInt8]
        var salted: [UInt8]
    }

    private let capacity: Int
    private let entries = Mutex<[Entry]>([])

    init(capacity: Int) { self.capacity = capacity }

    func saltedPassword(password: [UInt8], salt: [UInt8], iterations: Int) throws -> [UInt8] {
        let count = UInt32(truncatingIfNeeded: password.count)
        var material: [UInt8] = [UInt8(count >> 24), UInt8(count >> 16 & 0xFF), UInt8(count >> 8 & 0xFF), UInt8(count & 0xFF)]
        material.append(contentsOf: password)
        material.append(contentsOf: salt)
        material.append(contentsOf: String(iterations).utf8)
        let key = try PGDigest.sha256(material)
        if let hit = entries.withLock({ list in list.first { $0.key == key }?.salted }) { return hit }
        let salted = try PGDigest.pbkdf2SHA256(password: password, salt: salt, iterations: iterations)
        entries.withLock { list in
            list.removeAll { $0.key == key }
            list.append(Entry(key: key, salted: salted))
            if list.count > capacity { list.removeFirst(list.count - capacity) }
        }
        return salted
    }
}
