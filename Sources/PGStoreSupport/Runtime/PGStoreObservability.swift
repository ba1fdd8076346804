import Logging
import Tracing

/// The one place that names a store's logs, metrics and spans:
/// logger label `tusk.<store>`, metric names `tusk_<store>_<what>`, span names `tusk.<store>.<operation>`
/// with the attributes `tusk.store`, `db.system` (`postgresql`) and, when known, `tusk.schema`.
///
/// Spans go to the tracer given here or else the one bootstrapped with `InstrumentationSystem`; when
/// neither is installed a span costs one type check.
///
/// ```swift
/// let o = PGStoreObservability(store: "queue")
/// o.loggerLabel                 // "tusk.queue"
/// o.metricName("leased_total")  // "tusk_queue_leased_total"
/// let n = try await o.span("lease") { () async throws(PGStoreError) in 3 }
/// ```
public struct PGStoreObservability: Sendable {
    /// The store's name.
    public let store: String
    /// A tracer to use instead of the bootstrapped one (tests pass an in-memory tracer).
    public let tracer: (any Tracer)?
    /// `tusk.<store>`.
    public let logger: Logger

    /// Creates the names for `store`.
    ///
    /// ```swift
    /// let o = PGStoreObservability(store: "breaker", tracer: InMemoryTracer())
    /// ```
    public init(store: String, tracer: (any Tracer)? = nil) {
        self.store = store
        self.tracer = tracer
        self.logger = Logger(label: Self.loggerLabel(store: store))
    }

    /// `tusk.<store>`.
    public var loggerLabel: String { Self.loggerLabel(store: store) }
    /// `tusk.<store>`.
    public static func loggerLabel(store: String) -> String { "tusk.\(store)" }
    /// `tusk_<store>_<what>` (`what` in snake case, e.g. `acquire_seconds`).
    public func metricName(_ what: String) -> String { "tusk_\(store)_\(what)" }
    /// `tusk.<store>.<operation>`.
    public func spanName(_ operation: String) -> String { "tusk.\(store).\(operation)" }

    /// Runs `body` inside a span for one store operation; a thrown error is recorded on the span.
    ///
    /// ```swift
    /// try await observability.span("acquire", schema: names.schema) { () async throws(PGStoreError) in try await acquire() }
    /// ```
    public func span<T>(
        _ operation: String, schema: PGStoreIdentifier? = nil,
        _ body: () async throws(PGStoreError) -> T
    ) async throws(PGStoreError) -> T {
        let tracer: any Tracer
        if let own = self.tracer {
            tracer = own
        } else {
            tracer = InstrumentationSystem.tracer
            if tracer is NoOpTracer { return try await body() }
        }
        let result = await run(tracer, operation, schema: schema, body)
        return try result.get()
    }

    private func run<Tr: Tracer, T>(
        _ tracer: Tr, _ operation: String, schema: PGStoreIdentifier?, _ body: () async throws(PGStoreError) -> T
    ) async -> Result<T, PGStoreError> {
        await tracer.withSpan(spanName(operation), ofKind: .client) { span in
            span.attributes["tusk.store"] = store
            span.attributes["db.system"] = "postgresql"
            if let schema { span.attributes["tusk.schema"] = schema.name }
            do throws(PGStoreError) {
                return .success(try await body())
            } catch {
                span.recordError(error)
                span.attributes["tusk.error.code"] = error.code.name
                span.setStatus(SpanStatus(code: .error))
                return .failure(error)
            }
        }
    }
}
