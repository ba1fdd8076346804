import PGWire
import Testing

@Suite struct SQLStateTests {
    @Test func wellKnownConstants() {
        #expect(PGSQLState.successfulCompletion.rawValue == "00000")
        #expect(PGSQLState.uniqueViolation.rawValue == "23505")
        #expect(PGSQLState.serializationFailure.rawValue == "40001")
        #expect(PGSQLState.deadlockDetected.rawValue == "40P01")
        #expect(PGSQLState.queryCanceled.rawValue == "57014")
        #expect(PGSQLState.invalidPassword.rawValue == "28P01")
        #expect(PGSQLState.undefinedTable.rawValue == "42P01")
        #expect(PGSQLState.syntaxError.rawValue == "42601")
        #expect(PGSQLState.adminShutdown.rawValue == "57P01")
        #expect(PGSQLState.internalError.rawValue == "XX000")
        #expect(PGSQLState.protocolViolation.rawValue == "08P01")
        #expect(PGSQLState.foreignKeyViolation.rawValue == "23503")
    }

    @Test(arguments: [
        ("23505", "unique_violation"), ("40001", "serialization_failure"), ("57014", "query_canceled"),
        ("28P01", "invalid_password"), ("00000", "successful_completion"), ("XX002", "index_corrupted"),
        ("0100C", "dynamic_result_sets_returned"), ("P0001", "raise_exception"), ("22P02", "invalid_text_representation"),
    ])
    func names(code: String, name: String) {
        #expect(PGSQLState(rawValue: code).name == name)
    }

    @Test func unknownCodes() {
        let odd = PGSQLState(rawValue: "ZZ999")
        #expect(odd.name == nil)
        #expect(odd.description == "ZZ999")
        #expect(odd.errorClass.rawValue == "ZZ000")
        #expect(PGSQLState(rawValue: "ZZ999") == odd)
    }

    @Test func errorClass() {
        #expect(PGSQLState.uniqueViolation.errorClass == .integrityConstraintViolation)
        #expect(PGSQLState.serializationFailure.errorClass == .transactionRollback)
        #expect(PGSQLState.deadlockDetected.errorClass == .transactionRollback)
        #expect(PGSQLState.undefinedTable.errorClass == .syntaxErrorOrAccessRuleViolation)
        #expect(PGSQLState.invalidPassword.errorClass == .invalidAuthorizationSpecification)
        #expect(PGSQLState.connectionFailure.errorClass == .connectionException)
        #expect(PGSQLState.integrityConstraintViolation.errorClass == .integrityConstraintViolation)
        #expect(PGSQLState.warningStringDataRightTruncation.errorClass == .warning)
    }

    @Test func description() {
        #expect(PGSQLState.uniqueViolation.description == "23505 (unique_violation)")
        #expect("\(PGSQLState.queryCanceled)" == "57014 (query_canceled)")
    }

    @Test func clashingConditionNames() {
        // string_data_right_truncation is both a warning (01004) and an error (22001).
        #expect(PGSQLState.stringDataRightTruncation.rawValue == "22001")
        #expect(PGSQLState.warningStringDataRightTruncation.rawValue == "01004")
        #expect(PGSQLState.warningStringDataRightTruncation.name == "string_data_right_truncation")
        #expect(PGSQLState.nullValueNotAllowed.rawValue == "22004")
        #expect(PGSQLState.externalRoutineInvocationExceptionNullValueNotAllowed.rawValue == "39004")
        #expect(PGSQLState.sqlRoutineExceptionModifyingSqlDataNotPermitted.rawValue == "2F002")
        #expect(PGSQLState.externalRoutineExceptionModifyingSqlDataNotPermitted.rawValue == "38002")
        #expect(PGSQLState.externalRoutineExceptionModifyingSqlDataNotPermitted.name == "modifying_sql_data_not_permitted")
    }

    @Test func aliases() {
        // errcodes.txt lists some codes twice; the second spelling is an alias with the same name.
        #expect(PGSQLState.undefinedDatabase == .invalidCatalogName)
        #expect(PGSQLState.undefinedDatabase.name == "invalid_catalog_name")
        #expect(PGSQLState.undefinedSchema == .invalidSchemaName)
        #expect(PGSQLState.undefinedCursor == .invalidCursorName)
        #expect(PGSQLState.undefinedPreparedStatement == .invalidSqlStatementName)
        #expect(PGSQLState.arrayElementError == .arraySubscriptError)
        #expect(PGSQLState.datetimeValueOutOfRange == .datetimeFieldOverflow)
    }

    @Test func successAndWarnings() {
        #expect(PGSQLState.successfulCompletion.isSuccess)
        #expect(!PGSQLState.uniqueViolation.isSuccess)
        #expect(PGSQLState.warning.isWarning)
        #expect(PGSQLState.noData.isWarning)
        #expect(PGSQLState.deprecatedFeature.isWarning)
        #expect(!PGSQLState.uniqueViolation.isWarning)
    }

    @Test func hashable() {
        let set: Set<PGSQLState> = [.uniqueViolation, PGSQLState(rawValue: "23505"), .foreignKeyViolation]
        #expect(set.count == 2)
    }

    @Test func serverErrorInfoUsesTheTable() {
        let info = PGServerErrorInfo(fields: [UInt8(ascii: "C"): "40P01", UInt8(ascii: "M"): "deadlock detected"])
        let error = PGError(code: .server, message: "deadlock detected", serverInfo: info)
        #expect(error.sqlState == .deadlockDetected)
        #expect(error.description.contains("40P01 (deadlock_detected)"))
    }
}
