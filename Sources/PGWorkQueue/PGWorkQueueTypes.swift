import Foundation
import PGStoreSupport

/// A queue's settings, as Querator names them.
///
/// ```swift
/// let orders = PGQueueSettings(name: "orders", leaseTimeout: .seconds(60), maxAttempts: 5, deadQueue: "orders-dead")
/// ```
public struct PGQueueSettings: Sendable, Hashable {
    /// The queue's name (1 to 200 bytes).
    public var name: String
    /// How long a lease lasts unless extended (default 1 minute).
    public var leaseTimeout: Duration
    /// How long an item may wait in the queue before it expires (default 24 hours).
    public var expireTimeout: Duration
    /// Leases an item may get before it is dead-lettered; 0 means unlimited (default 0, as the seed).
    public var maxAttempts: Int
    /// The queue that receives dead items (out of attempts or expired); nil drops them.
    public var deadQueue: String?
    /// How many partition tables the queue has (default 1).
    public var partitions: Int
    /// Free text kept with the queue.
    public var reference: String

    /// Settings with the defaults.
    ///
    /// ```swift
    /// var s = PGQueueSettings(name: "emails")
    /// s.partitions = 4
    /// ```
    public init(name: String, leaseTimeout: Duration = .seconds(60), expireTimeout: Duration = .seconds(86_400),
                maxAttempts: Int = 0, deadQueue: String? = nil, partitions: Int = 1, reference: String = "") {
        self.name = name
        self.leaseTimeout = leaseTimeout
        self.expireTimeout = expireTimeout
        self.maxAttempts = maxAttempts
        self.deadQueue = deadQueue
        self.partitions = partitions
        self.reference = reference
    }

    func validate() throws(PGStoreError) {
        guard !name.isEmpty, name.utf8.count <= 200, !name.contains("\0") else {
            throw PGStoreError.queue(.invalidConfiguration, "a queue name must be 1 to 200 bytes without NUL")
        }
        guard leaseTimeout >= .milliseconds(1), expireTimeout >= .milliseconds(1), maxAttempts >= 0,
              (1...999_999).contains(partitions) else {
            throw PGStoreError.queue(.invalidConfiguration,
                                     "queue \(name): timeouts must be at least 1 ms, max attempts ≥ 0, partitions 1…999999")
        }
        if deadQueue == name { throw PGStoreError.queue(.invalidConfiguration, "queue \(name) cannot be its own dead-letter queue") }
    }
}

/// An item to produce.
///
/// ```swift
/// let item = PGQueueItem(payload: Data("hello".utf8), sourceID: "order-17", kind: "email")
/// ```
public struct PGQueueItem: Sendable, Hashable {
    /// The bytes.
    public var payload: Data
    /// A producer's id: a second item with the same `sourceID` in the queue is dropped (dedup).
    public var sourceID: String?
    /// Deliver no earlier than this long after the database's now (scheduled delivery); nil or zero is now.
    public var delay: Duration?
    /// Free text for the consumer (the seed's `reference`).
    public var reference: String
    /// How the payload is encoded (the seed's `encoding`).
    public var encoding: String
    /// What the item is (the seed's `kind`).
    public var kind: String

    /// An item.
    ///
    /// ```swift
    /// let later = PGQueueItem(payload: Data(), delay: .seconds(30))
    /// ```
    public init(payload: Data, sourceID: String? = nil, delay: Duration? = nil, reference: String = "",
                encoding: String = "", kind: String = "") {
        self.payload = payload
        self.sourceID = sourceID
        self.delay = delay
        self.reference = reference
        self.encoding = encoding
        self.kind = kind
    }
}

/// An item this process holds a lease on. Pass it back to complete, retry or extend: its fencing token
/// proves the lease is still this holder's.
///
/// ```swift
/// for item in try await queue.lease(max: 100) { handle(item.payload) }
/// ```
public struct PGLeasedItem: Sendable, Hashable {
    /// The item's id.
    public let id: String
    /// The partition it lives in.
    public let partition: Int
    /// The lease's fencing token; a re-lease to anyone gets a larger one.
    public let token: PGFencingToken
    /// When the lease ends on the database's clock.
    public var leaseDeadline: Date
    /// Leases so far, this one included.
    public let attempts: Int
    /// Leases allowed (0 = unlimited).
    public let maxAttempts: Int
    /// The producer's dedup id.
    public let sourceID: String?
    /// When it was produced.
    public let createdAt: Date
    /// The seed's `reference`, `encoding` and `kind`.
    public let reference: String, encoding: String, kind: String
    /// The bytes.
    public let payload: Data
}

/// What became of one item of a complete, retry or extend batch.
///
/// ```swift
/// for (item, outcome) in zip(items, try await queue.complete(items)) where outcome == .fenced { log(item.id) }
/// ```
public enum PGQueueOutcome: Sendable, Hashable {
    /// Done: completed (removed), put back (retry) or extended.
    case done
    /// Out of attempts (or retried as dead): moved to the dead-letter queue, or dropped without one.
    case deadLettered
    /// The lease is no longer this holder's (it expired and returned or went to another holder, or the
    /// item is gone): nothing was changed.
    case fenced
}

/// A queue's depth right now (the sum over its partitions).
public struct PGQueueStats: Sendable, Hashable {
    /// Ready to lease.
    public var ready: Int
    /// Leased.
    public var inFlight: Int
    /// Scheduled for later, or waiting for the sweep to make them ready.
    public var scheduled: Int
    /// Age of the oldest item on the database's clock.
    public var oldestAge: Duration
    /// Dead tuples in the partition tables (`pg_stat_user_tables.n_dead_tup`): vacuum's backlog.
    public var deadTuples: Int = 0
    /// Age of the oldest open transaction holding back vacuum (`pg_stat_activity.xact_start` of the
    /// oldest backend with an xmin), or zero.
    public var oldestTransactionAge: Duration = .zero
}

extension PGStoreError {
    static func queue(_ code: Code, _ message: String) -> PGStoreError {
        PGStoreError(code: code, message: message, store: "queue")
    }
}
