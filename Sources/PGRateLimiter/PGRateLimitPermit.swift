import Foundation
import CoreMetrics
import Logging
import PGStoreSupport
import Synchronization

/// An admission. When the limiter has `max_concurrent`, the permit holds a concurrency slot — a lease with a
/// fencing token, renewed in the background while held — until ``release()``. A permit dropped without
/// release gives its slot back in the background (and logs that it did); a holder that dies gives it back
/// when the lease runs out.
///
/// ```swift
/// let permit = try await limiter.acquire()
/// defer { Task { try? await permit.release() } }
/// ```
public final class PGRateLimitPermit: Sendable {
    /// The limiter's name.
    public var limiter: String { owner.name }
    /// The key it was admitted for (`""`: the limiter as a whole).
    public let key: String
    /// Its cost.
    public let cost: Int
    /// Tokens (GCRA) or requests (windows) left right after this admission; -1 when not known.
    public let remaining: Int
    /// When the database decided to admit it, by the database's clock (nil without a rate, failed open or shadow).
    public let admittedAt: Date?
    /// True when the database could not be reached and the limiter admitted without a limit (`fail_open`).
    public let failedOpen: Bool
    /// True when the limit would have denied it (shadow mode admitted it anyway).
    public let shadow: Bool
    /// The concurrency slot held (nil without `max_concurrent`).
    public var slot: Int? { grant?.slot }
    /// The slot's fencing token (nil without `max_concurrent`).
    public var fencingToken: PGFencingToken? { grant.map { PGFencingToken(rawValue: $0.token) } }

    let owner: PGRateLimiter
    let grant: PGRateLimiter.SlotGrant?
    private let state = Mutex(State())

    private struct State {
        var released = false
        var lost = false
        var renewal: Task<Void, Never>?
    }

    init(limiter: PGRateLimiter, key: String, cost: Int, grant: PGRateLimiter.SlotGrant?, remaining: Int, admittedAt: Date?,
         failedOpen: Bool, shadow: Bool) {
        self.admittedAt = admittedAt
        self.owner = limiter
        self.key = key
        self.cost = cost
        self.grant = grant
        self.remaining = remaining
        self.failedOpen = failedOpen
        self.shadow = shadow
        if grant != nil { startRenewal() }
    }

    /// False once the slot's lease was lost (not renewed in time and taken by another holder).
    public var isValid: Bool { !state.withLock { $0.lost } }

    /// Gives the slot back (and wakes waiters in every process). Idempotent; nothing to do without a slot.
    ///
    /// - Throws: `.fenced` when the lease had run out and another holder took the slot meanwhile (nothing is
    ///   changed then); `.unavailable`/`.timeout` when the database cannot be reached (the lease then frees
    ///   the slot by itself).
    public func release() async throws(PGStoreError) {
        guard let grant else { return }
        let renewal = state.withLock { s -> Task<Void, Never>?? in
            if s.released { return .none }
            s.released = true
            let r = s.renewal
            s.renewal = nil
            return .some(r)
        }
        guard case .some(let task) = renewal else { return }
        task?.cancel()
        if try await owner.releaseSlot(key: key, grant) == false {
            owner.metrics.fenced.increment()
            throw PGStoreError.fenced(store: "ratelimit", what: "slot \(grant.slot) of limiter \(owner.name)",
                                      token: PGFencingToken(rawValue: grant.token))
        }
    }

    /// Releases and logs what went wrong instead of throwing (for `withPermit`).
    func releaseLogging() async {
        do {
            try await release()
        } catch {
            owner.logger.warning("releasing a concurrency slot failed", metadata: ["limiter": "\(owner.name)", "error": "\(error)"])
        }
    }

    private func startRenewal() {
        let every = owner.options.lease / 3
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: every)
                guard !Task.isCancelled, let self, let grant = self.grant else { return }
                do {
                    if try await self.owner.renewSlot(key: self.key, grant) == false {
                        self.state.withLock { $0.lost = true }
                        self.owner.metrics.fenced.increment()
                        self.owner.logger.warning("a concurrency slot's lease was lost: another holder took it",
                                                  metadata: ["limiter": "\(self.owner.name)", "slot": "\(grant.slot)"])
                        return
                    }
                } catch {
                    self.owner.logger.debug("renewing a slot's lease failed; trying again", metadata: ["error": "\(error)"])
                }
            }
        }
        state.withLock { $0.renewal = task }
    }

    deinit {
        let (released, renewal) = state.withLock { ($0.released, $0.renewal) }
        renewal?.cancel()
        guard !released, let grant else { return }
        let (owner, key) = (self.owner, self.key)
        owner.logger.warning("a permit was dropped without release(); freeing its slot in the background",
                             metadata: ["limiter": "\(owner.name)", "slot": "\(grant.slot)"])
        Task { _ = try? await owner.releaseSlot(key: key, grant) }
    }
}
