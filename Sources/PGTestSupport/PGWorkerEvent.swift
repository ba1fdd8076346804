// The line format worker processes print and tests parse.

/// One line a worker process prints: an event name and `key=value` fields, separated by single spaces.
///
/// Format: `<name>( <key>=<value>)*` then a newline. Names and keys are `[A-Za-z0-9_.-]+`. Values are
/// percent-encoded: every byte outside `A-Z a-z 0-9 - _ . : / @ + , ~` is written `%XX`, so a value
/// never contains a space, `=`, or a line break. Field order is kept; a key may repeat (the subscript
/// returns the first). A line that does not follow the format parses as the event `unparsed` with the
/// whole line in `text`.
///
/// ```swift
/// let line = PGWorkerEvent("locked", ["worker": "1", "key": "a b"]).line   // "locked worker=1 key=a%20b"
/// let event = PGWorkerEvent(parsing: line)
/// #expect(event.name == "locked" && event["key"] == "a b")
/// ```
public struct PGWorkerEvent: Sendable, Hashable, CustomStringConvertible {
    /// The event's name, e.g. `ready`, `locked`, `processed`, `error`, `done`.
    public let name: String
    /// The fields in the order they were written.
    public let fields: [(key: String, value: String)]

    /// An event with fields in the given order.
    ///
    /// ```swift
    /// let e = PGWorkerEvent("processed", [("worker", "2"), ("item", "17")])
    /// ```
    public init(_ name: String, _ fields: [(key: String, value: String)] = []) {
        self.name = name
        self.fields = fields
    }

    /// An event from a dictionary (fields sorted by key, for a stable line).
    ///
    /// ```swift
    /// let e = PGWorkerEvent("ready", ["worker": "1", "pid": "4242"])
    /// ```
    public init(_ name: String, _ fields: [String: String]) {
        self.init(name, fields.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) })
    }

    /// Parses one line (without its newline).
    ///
    /// ```swift
    /// let e = PGWorkerEvent(parsing: "done worker=3 count=10")
    /// #expect(e.int("count") == 10)
    /// ```
    public init(parsing line: String) {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        guard let first = parts.first, Self.isToken(first) else {
            self.init("unparsed", [(key: "text", value: line)])
            return
        }
        var fields: [(key: String, value: String)] = []
        for part in parts.dropFirst() {
            guard let eq = part.firstIndex(of: "="), Self.isToken(part[..<eq]),
                  let value = Self.percentDecode(part[part.index(after: eq)...]) else {
                self.init("unparsed", [(key: "text", value: line)])
                return
            }
            fields.append((key: String(part[..<eq]), value: value))
        }
        self.init(String(first), fields)
    }

    /// The first value for `key`.
    public subscript(key: String) -> String? {
        fields.first { $0.key == key }?.value
    }

    /// The first value for `key` as an integer.
    ///
    /// ```swift
    /// let pid = event.int("pid")
    /// ```
    public func int(_ key: String) -> Int? {
        self[key].flatMap { Int($0) }
    }

    /// The line to print (without a newline).
    public var line: String {
        ([name] + fields.map { "\($0.key)=\(Self.percentEncode($0.value))" }).joined(separator: " ")
    }

    public var description: String { line }

    public static func == (a: PGWorkerEvent, b: PGWorkerEvent) -> Bool {
        a.name == b.name && a.fields.count == b.fields.count
            && zip(a.fields, b.fields).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        for f in fields {
            hasher.combine(f.key)
            hasher.combine(f.value)
        }
    }

    // MARK: Encoding

    static func isToken(_ s: Substring) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    private static func isAlphanumeric(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
    }

    private static let unreserved: Set<UInt8> = Set("-_.:/@+,~".utf8)

    static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            if isAlphanumeric(b) || unreserved.contains(b) {
                out.unicodeScalars.append(Unicode.Scalar(b))
            } else {
                let hex = String(b, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }

    static func percentDecode(_ s: Substring) -> String? {
        var bytes: [UInt8] = []
        var it = s.utf8.makeIterator()
        while let b = it.next() {
            if b == UInt8(ascii: "%") {
                guard let h = it.next(), let l = it.next(), let v = UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16) else {
                    return nil
                }
                bytes.append(v)
            } else {
                bytes.append(b)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
