import Foundation
import PGClient
import PGCrypto

/// Who holds a lease: host, process id and a random part, so two processes (or two holders in one
/// process) never share an identity. Stored as text `host:pid:random`.
///
/// ```swift
/// let me = PGLeaseHolder.current()
/// print(me)   // "web-1:4242:9f2c61d0a8e4b7c3"
/// ```
public struct PGLeaseHolder: Sendable, Hashable, CustomStringConvertible {
    /// The host name.
    public let host: String
    /// The process id.
    public let pid: Int32
    /// 16 hex digits of secure randomness.
    public let random: String

    /// Creates an identity.
    public init(host: String, pid: Int32, random: String) {
        self.host = host
        self.pid = pid
        self.random = random
    }

    /// A fresh identity for this process (a new random part each call).
    ///
    /// ```swift
    /// let holder = PGLeaseHolder.current()
    /// ```
    public static func current() -> PGLeaseHolder {
        let bytes = (try? PGSecureRandom.bytes(8)) ?? (0..<8).map { _ in UInt8.random(in: 0...255) }
        return PGLeaseHolder(host: ProcessInfo.processInfo.hostName, pid: ProcessInfo.processInfo.processIdentifier,
                             random: PGStoreMigration.hex(bytes))
    }

    /// Parses `host:pid:random` (the host may itself contain colons).
    ///
    /// ```swift
    /// let h = PGLeaseHolder(parsing: "web-1:4242:9f2c61d0a8e4b7c3")
    /// ```
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3, let pid = Int32(parts[parts.count - 2]) else { return nil }
        self.init(host: parts.dropLast(2).joined(separator: ":"), pid: pid, random: String(parts[parts.count - 1]))
    }

    /// `host:pid:random`.
    public var description: String { "\(host):\(pid):\(random)" }
}

/// A fencing token: strictly increasing per schema (from `<schema>.tusk_fencing`). A store accepts a
/// holder's write only while the token on the leased row is still the holder's; a newer holder's
/// larger token fences the old one out.
///
/// ```swift
/// let token = try await PGStoreFencing(schema: schema).nextToken(on: connection)
/// ```
public struct PGFencingToken: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The sequence value.
    public let rawValue: Int64
    /// Wraps a sequence value.
    public init(rawValue: Int64) { self.rawValue = rawValue }
    public static func < (a: PGFencingToken, b: PGFencingToken) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(rawValue) }
}

/// A lease as a store hands it out: holder, fencing token, expiry on the database clock.
///
/// ```swift
/// let lease = PGLease(holder: .current(), token: token, expiresAt: expiry)
/// try lease.check(current: tokenOnRow, store: "queue", what: "item 42")   // throws .fenced when taken over
/// ```
public struct PGLease: Sendable, Hashable {
    /// Who holds it.
    public var holder: PGLeaseHolder
    /// Its fencing token.
    public var token: PGFencingToken
    /// When it expires, by the database's clock (`tusk_now()`).
    public var expiresAt: Date

    /// Creates a lease value.
    public init(holder: PGLeaseHolder, token: PGFencingToken, expiresAt: Date) {
        self.holder = holder
        self.token = token
        self.expiresAt = expiresAt
    }

    /// Throws `.fenced` unless `current` (the token now stored on the leased row) is this lease's token.
    public func check(current: PGFencingToken?, store: String?, what: String) throws(PGStoreError) {
        guard current == token else { throw PGStoreError.fenced(store: store, what: what, token: token) }
    }
}

/// Fencing tokens from `<schema>.tusk_fencing` (`nextval`; the runtime role has USAGE on it).
///
/// ```swift
/// let fencing = PGStoreFencing(schema: names.schema)
/// let tokens = try await fencing.nextTokens(3, on: pool)
/// ```
public struct PGStoreFencing: Sendable {
    /// The schema holding the sequence.
    public let schema: PGStoreIdentifier

    /// The fencing sequence of `schema`.
    public init(schema: PGStoreIdentifier) { self.schema = schema }

    /// `"schema"."tusk_fencing"`.
    public var sequence: PGQualifiedName { PGQualifiedName(schema: schema, name: PGMigrator.fixed(PGStoreNames.fencingSequence)) }

    /// SQL for a new token inside a store statement: `nextval('"schema"."tusk_fencing"'::regclass)`
    /// (the name travels as a literal of the quoted name, so it is quoted twice over).
    public var sqlNextToken: String {
        "nextval(" + PGMigrator.literal(sequence.quoted) + "::regclass)"
    }

    /// One new token.
    public func nextToken(on db: some PGQueryable) async throws(PGStoreError) -> PGFencingToken {
        guard let token = try await nextTokens(1, on: db).first else {
            throw PGStoreError(code: .database, message: "nextval returned no row")
        }
        return token
    }

    /// `count` new tokens in one round trip, increasing.
    public func nextTokens(_ count: Int, on db: some PGQueryable) async throws(PGStoreError) -> [PGFencingToken] {
        try await storeCall(nil) {
            let q: PGQuery = "SELECT nextval(\(sequence.quoted)::regclass) FROM generate_series(1, \(Int64(max(count, 1))))"
            var out: [PGFencingToken] = []
            for try await row in try await db.query(q, timeout: nil) {
                out.append(PGFencingToken(rawValue: try row.decode(Int64.self, column: 0)))
            }
            return out.sorted()
        }
    }
}
