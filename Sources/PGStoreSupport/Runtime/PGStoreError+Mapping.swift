import PGClient
import PGWire

extension PGStoreError {
    /// Translates any error a store operation threw into a ``PGStoreError`` whose message says what to do.
    ///
    /// Connection failures become `.unavailable`, a rejected login `.authenticationFailed`, an undefined
    /// table (42P01) or schema (3F000) `.schemaMissing`, insufficient privilege (42501)
    /// `.permissionDenied`, timeouts and an exhausted pool `.timeout`, unique violations and
    /// serialization failures `.conflict`. A ``PGStoreError`` is returned unchanged.
    ///
    /// ```swift
    /// do { try await work() } catch { throw PGStoreError.from(error, store: "queue") }
    /// ```
    public static func from(_ error: any Error, store: String? = nil) -> PGStoreError {
        if var storeError = error as? PGStoreError {
            if storeError.store == nil { storeError.store = store }
            return storeError
        }
        if error is CancellationError {
            return PGStoreError(code: .cancelled, message: "the operation was cancelled", store: store, isSafeToRetry: false)
        }
        guard let pg = error as? PGError else {
            return PGStoreError(code: .database, message: "unexpected error: \(String(describing: type(of: error)))", store: store)
        }
        return from(pg, store: store)
    }

    static let connectionHelp = "check the host and port (--url, DATABASE_URL or PGHOST/PGPORT) and that the server is running"

    static func from(_ pg: PGError, store: String?) -> PGStoreError {
        func make(_ code: Code, _ message: String) -> PGStoreError {
            PGStoreError(code: code, message: message, store: store, underlying: pg, isSafeToRetry: pg.isSafeToRetry)
        }
        switch pg.code {
        case .connectionFailed:
            // The underlying cause is an errno or resolver message ("connect failed: Connection refused").
            let cause = pg.underlying.map { " (\($0))" } ?? ""
            return make(.unavailable, "cannot reach the database: \(pg.message)\(cause); \(connectionHelp)")
        case .connectionClosed:
            return make(.unavailable, "the connection to the database was lost: \(pg.message)")
        case .authenticationFailed:
            let server = pg.serverInfo.map { ": \($0.message)" } ?? ""
            return make(.authenticationFailed,
                        "the server rejected the login\(server); check the user and password (--url, DATABASE_URL, PGPASSWORD or ~/.pgpass)")
        case .unsupportedAuthentication:
            return make(.authenticationFailed, "the server asked for an authentication method Tusk does not support: \(pg.message)")
        case .tls:
            return make(.unavailable, "TLS failed: \(pg.message); check sslmode and the certificates")
        case .timeout:
            return make(.timeout, "timed out: \(pg.message)")
        case .poolExhausted:
            return make(.timeout, "no database connection became free in time (\(pg.message)); raise the pool size or the acquire timeout")
        case .poolShutDown:
            return make(.unavailable, "the connection pool is shut down")
        case .cancelled:
            return make(.cancelled, "the operation was cancelled")
        case .invalidConfiguration:
            return make(.invalidConfiguration, pg.message)
        case .server:
            return fromServer(pg, store: store)
        default:
            return make(.database, pg.message)
        }
    }

    static func fromServer(_ pg: PGError, store: String?) -> PGStoreError {
        let state = pg.sqlState ?? PGSQLState(rawValue: "XX000")
        let serverMessage = pg.serverInfo?.message ?? ""
        func make(_ code: Code, _ message: String, retry: Bool = false) -> PGStoreError {
            PGStoreError(code: code, message: message, store: store, underlying: pg, isSafeToRetry: retry || pg.isSafeToRetry)
        }
        let setup = store.map { "run `tusk setup \($0)`" } ?? "run `tusk setup`"
        switch state.rawValue {
        case PGSQLState.undefinedTable.rawValue, PGSQLState.invalidSchemaName.rawValue:
            return make(.schemaMissing, "\(serverMessage); the store's tables are missing: \(setup) (or turn autoCreate on)")
        case PGSQLState.undefinedFunction.rawValue where serverMessage.contains("tusk_now"):
            return make(.schemaMissing, "\(serverMessage); the store's schema is missing: \(setup) (or turn autoCreate on)")
        case PGSQLState.insufficientPrivilege.rawValue:
            let grants = store.map { "`tusk grants \($0) --role <role>`" } ?? "`tusk grants <store> --role <role>`"
            return make(.permissionDenied, "\(serverMessage); grant the runtime role what \(grants) prints (run it as the owner)")
        case PGSQLState.invalidPassword.rawValue, PGSQLState.invalidAuthorizationSpecification.rawValue:
            return make(.authenticationFailed,
                        "the server rejected the login: \(serverMessage); check the user and password (--url, DATABASE_URL, PGPASSWORD or ~/.pgpass)")
        case "3D000":  // invalid_catalog_name: the database does not exist
            return make(.invalidConfiguration, "\(serverMessage); check the database name in --url or PGDATABASE")
        case "23505", "40001", "40P01":  // unique_violation, serialization_failure, deadlock_detected
            return make(.conflict, "another transaction changed the same row first (SQLSTATE \(state.rawValue))")
        case "57014":  // query_canceled (statement_timeout or a cancel request)
            return make(.timeout, "the statement was cancelled (statement timeout or cancel request)")
        case "55P03":  // lock_not_available (lock_timeout)
            return make(.timeout, "a lock was not granted in time (lock_timeout)")
        case "57P01", "57P02", "57P03", "53300":  // shutdowns, cannot connect now, too many connections
            return make(.unavailable, "\(serverMessage); the server is not accepting work right now", retry: state.rawValue == "53300")
        default:
            let name = state.name.map { " (\($0))" } ?? ""
            return make(.database, "the database reported SQLSTATE \(state.rawValue)\(name)")
        }
    }
}
