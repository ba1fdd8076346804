/// A message sent by the server, decoded from the wire.
///
/// ```swift
/// var decoder = PGBackendMessageDecoder()
/// decoder.append(bytes)
/// while let message = try decoder.nextMessage() { print(message) }
/// ```
public enum PGBackendMessage: Sendable {
    /// The server's authentication request or result ('R').
    public enum Authentication: Sendable, Equatable {
        case ok
        case kerberosV5
        case cleartextPassword
        case md5Password(salt: [UInt8])
        case scmCredential
        case gss
        case gssContinue(data: [UInt8])
        case sspi
        case sasl(mechanisms: [String])
        case saslContinue(data: [UInt8])
        case saslFinal(data: [UInt8])
    }

    /// Transaction status reported in ReadyForQuery.
    public enum TransactionStatus: UInt8, Sendable {
        case idle = 73 // 'I'
        case inTransaction = 84 // 'T'
        case failedTransaction = 69 // 'E'
    }

    case authentication(Authentication)
    case backendKeyData(processID: Int32, secretKey: [UInt8])
    case bindComplete
    case closeComplete
    case commandComplete(tag: String)
    case copyData(ArraySlice<UInt8>)
    case copyDone
    case copyInResponse(format: PGFormat, columnFormats: [PGFormat])
    case copyOutResponse(format: PGFormat, columnFormats: [PGFormat])
    case copyBothResponse(format: PGFormat, columnFormats: [PGFormat])
    case dataRow(PGDataRow)
    case emptyQueryResponse
    indirect case errorResponse(PGServerErrorInfo)
    case negotiateProtocolVersion(newestMinor: Int32, unrecognizedOptions: [String])
    case noData
    indirect case noticeResponse(PGServerErrorInfo)
    case notificationResponse(processID: Int32, channel: String, payload: String)
    case parameterDescription([PGDataType])
    case parameterStatus(name: String, value: String)
    case parseComplete
    case portalSuspended
    case readyForQuery(TransactionStatus)
    case rowDescription(PGRowDescription)

    /// A short name for logs and errors (never includes values).
    public var name: String {
        switch self {
        case .authentication: "Authentication"
        case .backendKeyData: "BackendKeyData"
        case .bindComplete: "BindComplete"
        case .closeComplete: "CloseComplete"
        case .commandComplete: "CommandComplete"
        case .copyData: "CopyData"
        case .copyDone: "CopyDone"
        case .copyInResponse: "CopyInResponse"
        case .copyOutResponse: "CopyOutResponse"
        case .copyBothResponse: "CopyBothResponse"
        case .dataRow: "DataRow"
        case .emptyQueryResponse: "EmptyQueryResponse"
        case .errorResponse: "ErrorResponse"
        case .negotiateProtocolVersion: "NegotiateProtocolVersion"
        case .noData: "NoData"
        case .noticeResponse: "NoticeResponse"
        case .notificationResponse: "NotificationResponse"
        case .parameterDescription: "ParameterDescription"
        case .parameterStatus: "ParameterStatus"
        case .parseComplete: "ParseComplete"
        case .portalSuspended: "PortalSuspended"
        case .readyForQuery: "ReadyForQuery"
        case .rowDescription: "RowDescription"
        }
    }
}

/// One row of a result, as the server sent it: the field bytes are kept in the read buffer and decoded lazily.
public struct PGDataRow: Sendable {
    /// The bytes after the column count: for each column an Int32 length (-1 for NULL) then that many bytes.
    public let fields: ArraySlice<UInt8>
    /// The number of columns.
    public let columnCount: Int

    @inlinable
    public init(fields: ArraySlice<UInt8>, columnCount: Int) {
        self.fields = fields
        self.columnCount = columnCount
    }

    /// Iterates over the fields; `nil` marks SQL NULL.
    @inlinable
    public func forEachField(_ body: (Int, ArraySlice<UInt8>?) throws -> Void) rethrows {
        var index = fields.startIndex
        for column in 0..<columnCount {
            let length = fields.pgInt32(at: index)
            index += 4
            if length < 0 {
                try body(column, nil)
            } else {
                let end = index + Int(length)
                try body(column, fields[index..<end])
                index = end
            }
        }
    }

    /// The bytes of one column (`nil` for NULL). Precondition: `column < columnCount` (checked: returns nil otherwise).
    @inlinable
    public func field(at column: Int) -> ArraySlice<UInt8>? {
        guard column >= 0, column < columnCount else { return nil }
        var index = fields.startIndex
        var c = 0
        while true {
            let length = Int(fields.pgInt32(at: index))
            index += 4
            if c == column {
                return length < 0 ? nil : fields[index..<(index + length)]
            }
            if length > 0 { index += length }
            c += 1
        }
    }
}

/// The columns of a result.
public final class PGRowDescription: Sendable {
    /// One column.
    public struct Column: Sendable, Hashable {
        public var name: String
        public var tableOID: UInt32
        public var columnAttributeNumber: Int16
        public var dataType: PGDataType
        public var dataTypeSize: Int16
        public var dataTypeModifier: Int32
        public var format: PGFormat
        public init(name: String, tableOID: UInt32, columnAttributeNumber: Int16, dataType: PGDataType,
                    dataTypeSize: Int16, dataTypeModifier: Int32, format: PGFormat) {
            self.name = name
            self.tableOID = tableOID
            self.columnAttributeNumber = columnAttributeNumber
            self.dataType = dataType
            self.dataTypeSize = dataTypeSize
            self.dataTypeModifier = dataTypeModifier
            self.format = format
        }
    }

    /// The columns, in order.
    public let columns: [Column]
    private let indexByName: [String: Int]

    /// Creates a description.
    public init(columns: [Column]) {
        self.columns = columns
        var map: [String: Int] = [:]
        for (i, c) in columns.enumerated() where map[c.name] == nil { map[c.name] = i }
        self.indexByName = map
    }

    /// The index of the first column with this name.
    public func index(of name: String) -> Int? { indexByName[name] }

    /// The same columns with result formats replaced (used after Describe(statement), where formats are not yet known).
    public func withFormats(_ formats: [PGFormat]) -> PGRowDescription {
        var cols = columns
        for i in cols.indices { cols[i].format = formats.count == 1 ? formats[0] : formats[i] }
        return PGRowDescription(columns: cols)
    }
}

extension ArraySlice where Element == UInt8 {
    /// Reads a big-endian Int32 at an absolute index. The caller guarantees 4 bytes are there.
    @inlinable
    func pgInt32(at index: Int) -> Int32 {
        Int32(bitPattern: UInt32(self[index]) << 24 | UInt32(self[index + 1]) << 16
            | UInt32(self[index + 2]) << 8 | UInt32(self[index + 3]))
    }
}
