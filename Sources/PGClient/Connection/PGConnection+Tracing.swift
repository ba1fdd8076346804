import PGWire
import Tracing

/// A client span per statement, with OpenTelemetry's database attributes. Only the SQL text is recorded,
/// never the bound values (they travel separately and may hold secrets).
extension PGConnection {
    nonisolated(nonsending) func runInSpan(_ tracer: any Tracer, _ sql: String, _ bindings: [any PGEncodable], timeout: Duration?,
                                           retryStale: Bool, afterSend: (@Sendable () -> Void)?) async throws -> PGRowStream {
        let operation = Self.operationName(sql)
        let span = tracer.startAnySpan(operation, context: ServiceContext.current ?? .topLevel, ofKind: .client)
        span.attributes["db.system"] = "postgresql"
        span.attributes["db.operation"] = operation
        span.attributes["db.statement"] = sql
        span.attributes["db.name"] = configuration.database
        span.attributes["db.user"] = configuration.user
        span.attributes["server.address"] = host ?? "\(address)"
        let stream: PGRowStream
        do {
            stream = try await runUntraced(sql, bindings, timeout: timeout, retryStale: retryStale, afterSend: afterSend)
        } catch {
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error))
            span.end()
            throw error
        }
        // The statement is done when its result has been read to the end (or dropped).
        stream.whenFinished { completion in
            if case .failure(let error) = completion {
                span.recordError(error)
                span.setStatus(SpanStatus(code: .error))
            } else if case .success(let tag) = completion, let rows = PGQueryResult.affectedRows(from: tag) {
                span.attributes["db.response.returned_rows"] = rows
            }
            span.end()
        }
        return stream
    }

    /// The statement's first keyword, upper-cased (`SELECT`, `INSERT`, `WITH`, …): the span's name.
    static func operationName(_ sql: String) -> String {
        var word = ""
        for c in sql.unicodeScalars {
            if c.properties.isAlphabetic {
                word.unicodeScalars.append(c)
                if word.unicodeScalars.count >= 16 { break }
            } else if !word.isEmpty {
                break
            } else if !(c == " " || c == "\n" || c == "\t" || c == "\r" || c == "(") {
                break
            }
        }
        return word.isEmpty ? "postgresql" : word.uppercased()
    }
}
