/// Per-request state of the requests in flight on a connection, keyed by unit id.
///
/// Requests are answered in the order they were sent and ids grow with every request, so the table is a FIFO
/// array: the entry looked up is nearly always the oldest, found without hashing; others by binary search.
struct PGUnitTable<Value> {
    private var ids: [UInt64] = []
    private var values: [Value?] = []
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    /// The oldest unit still in the table.
    var oldestID: UInt64? {
        var i = head
        while i < ids.count {
            if values[i] != nil { return ids[i] }
            i += 1
        }
        return nil
    }

    private func index(of id: UInt64) -> Int? {
        if head < ids.count, ids[head] == id { return head }
        var lo = head
        var hi = ids.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ids[mid] < id { lo = mid + 1 } else { hi = mid }
        }
        return lo < ids.count && ids[lo] == id ? lo : nil
    }

    subscript(id: UInt64) -> Value? {
        get {
            guard let i = index(of: id) else { return nil }
            return values[i]
        }
        _modify {
            // In place: `table[id]?.field = x` must not copy the entry out and back.
            if let i = index(of: id) {
                let wasPresent = values[i] != nil
                yield &values[i]
                let isPresent = values[i] != nil
                if wasPresent != isPresent {
                    count += isPresent ? 1 : -1
                    if !isPresent { trimHead() }
                }
            } else {
                var value: Value? = nil
                yield &value
                if let value { insert(id, value) }
            }
        }
    }

    private mutating func insert(_ id: UInt64, _ value: Value) {
        count += 1
        if ids.last.map({ $0 < id }) ?? true {
            ids.append(id)
            values.append(value)
        } else {
            var lo = head
            var hi = ids.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if ids[mid] < id { lo = mid + 1 } else { hi = mid }
            }
            ids.insert(id, at: lo)
            values.insert(value, at: lo)
        }
    }

    @discardableResult
    mutating func removeValue(forKey id: UInt64) -> Value? {
        guard let i = index(of: id), let value = values[i] else { return nil }
        values[i] = nil
        count -= 1
        trimHead()
        return value
    }

    private mutating func trimHead() {
        while head < ids.count, values[head] == nil { head += 1 }
        if head == ids.count {
            ids.removeAll(keepingCapacity: true)
            values.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 32 && head * 2 > ids.count {
            ids.removeFirst(head)
            values.removeFirst(head)
            head = 0
        }
    }

    /// The values, oldest first.
    var allValues: [Value] { values[head...].compactMap { $0 } }

    mutating func removeAll() {
        ids.removeAll()
        values.removeAll()
        head = 0
        count = 0
    }
}
