import PGClient
import PGStoreSupport
import PGWire
import Testing

@Suite struct ErrorMappingTests {
    func server(_ state: String, _ message: String, detail: String? = nil) -> PGError {
        var fields: [UInt8: String] = [UInt8(ascii: "S"): "ERROR", UInt8(ascii: "C"): state, UInt8(ascii: "M"): message]
        if let detail { fields[UInt8(ascii: "D")] = detail }
        return PGError(code: .server, message: message, serverInfo: PGServerErrorInfo(fields: fields), query: "SELECT secret_query")
    }

    @Test func serverStatesMapToStoreCodes() {
        let cases: [(String, String, PGStoreError.Code)] = [
            ("42P01", "relation \"tusk.items\" does not exist", .schemaMissing),
            ("3F000", "schema \"tusk\" does not exist", .schemaMissing),
            ("42501", "permission denied for table items", .permissionDenied),
            ("28P01", "password authentication failed for user \"app\"", .authenticationFailed),
            ("23505", "duplicate key value violates unique constraint \"items_pkey\"", .conflict),
            ("40001", "could not serialize access", .conflict),
            ("57014", "canceling statement due to statement timeout", .timeout),
            ("22P02", "invalid input syntax for type integer: \"s3cr3t-value\"", .database),
        ]
        for (state, message, code) in cases {
            let mapped = PGStoreError.from(server(state, message, detail: "Key (id)=(s3cr3t-value) already exists."), store: "queue")
            #expect(mapped.code == code, "\(state)")
            #expect(mapped.store == "queue")
            #expect(mapped.underlying?.sqlState?.rawValue == state)
            // Bound values (here in the detail, or echoed by the server in a message we do not trust) never
            // reach the description; the query text neither.
            #expect(!mapped.description.contains("s3cr3t-value"), "\(state)")
            #expect(!mapped.description.contains("secret_query"))
        }
        let permission = PGStoreError.from(server("42501", "permission denied for table items"), store: "queue")
        #expect(permission.message == "permission denied for table items; grant the runtime role what `tusk grants queue --role <role>` prints (run it as the owner)")
        let missing = PGStoreError.from(server("42P01", "relation \"tusk.items\" does not exist"), store: "queue")
        #expect(missing.message.contains("run `tusk setup queue`"))
    }

    @Test func driverCodesMapAndKeepRetrySafety() {
        let refused = PGStoreError.from(PGError(code: .connectionFailed, message: "could not connect to 127.0.0.1:1", isSafeToRetry: true))
        #expect(refused.code == .unavailable)
        #expect(refused.isSafeToRetry)
        #expect(PGStoreError.from(PGError(code: .poolExhausted, message: "acquire timed out after 1 s", isSafeToRetry: true)).code == .timeout)
        #expect(PGStoreError.from(PGError(code: .timeout, message: "query timed out")).code == .timeout)
        #expect(PGStoreError.from(PGError(code: .poolShutDown, message: "shut down")).code == .unavailable)
        #expect(PGStoreError.from(CancellationError()).code == .cancelled)
        let same = PGStoreError(code: .fenced, message: "x")
        #expect(PGStoreError.from(same, store: "queue").store == "queue")
    }
}
