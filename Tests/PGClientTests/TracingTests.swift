import Foundation
import InMemoryTracing
import PGClient
import PGWire
import Testing
import Tracing

/// One client span per statement, with OpenTelemetry's database attributes and never a bound value.
@Suite struct TracingTests {
    @Test func eachStatementIsAClientSpanWithDatabaseAttributes() async throws {
        let tracer = InMemoryTracer()
        let secret = "hunter2-\(UInt32.random(in: 0...UInt32.max))"
        try await withTracer(tracer) {
            let c = try await TestDB.connect()
            let rows = try await c.query("SELECT \(secret)::text, generate_series(1, 3)").collect()
            #expect(rows.count == 3)
            await #expect(throws: PGError.self) { try await c.execute("SELEKT 1") }
            try await c.execute("CREATE TEMP TABLE tracing_t (a int)")
            await c.close()
        }
        let spans = tracer.finishedSpans
        let select = try #require(spans.first { $0.operationName == "SELECT" })
        #expect(select.kind == .client)
        #expect(select.attributes["db.system"]?.toSpanAttribute() == "postgresql")
        #expect(select.attributes["db.operation"]?.toSpanAttribute() == "SELECT")
        #expect(select.attributes["db.statement"]?.toSpanAttribute() == "SELECT $1::text, generate_series(1, 3)")
        #expect(select.attributes["db.response.returned_rows"]?.toSpanAttribute() == 3)
        #expect(select.errors.isEmpty)
        let failed = try #require(spans.first { $0.operationName == "SELEKT" })
        #expect(failed.errors.count == 1)
        #expect(failed.status?.code == .error)
        #expect(spans.contains { $0.operationName == "CREATE" })
        // Bound values never reach a span.
        for span in spans {
            var text = ""
            span.attributes.forEach { key, value in text += "\(key)=\(value) " }
            #expect(!text.contains(secret), "\(span.operationName): \(text)")
        }
    }

    @Test func withoutATracerNothingIsRecorded() async throws {
        let tracer = InMemoryTracer()
        let c = try await TestDB.connect()   // opened outside withTracer: no tracer
        try await withTracer(tracer) {
            _ = try await c.query("SELECT 1").collect()
        }
        await c.close()
        #expect(tracer.finishedSpans.isEmpty)
    }
}
