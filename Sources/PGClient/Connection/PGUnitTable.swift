/// Per-request state of the requests in flight on a connection, keyed by unit id.
///
/// Requests are answered in the order they were sent and ids grow with every request, so the table is a FIFO
/// array: the entry looked up is nearly always the oldest, found without hashing; others by binary search.
/// Presence is kept apart from the values so that checking it never copies a value.
struct PGUnitTable<Value> {
    private var ids: [UInt64] = []
    private var present: [Bool] = []
    private var values: [Value?] = []
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    /// The oldest unit still in the table.
    var oldestID: UInt64? {
        var i = head
        while i < ids.count {
            if present[i] { return ids[i] }
            i += 1
        }
        return nil
    }

    /// The first slot at or after `head` whose id is not below `id` (ids are sorted).
    private func lowerBound(_ id: UInt64) -> Int {
        var lo = head
        var hi = ids.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ids[mid] < id { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    private func index(of id: UInt64) -> Int? {
        if head < ids.count, ids[head] == id { return head }
        let i = lowerBound(id)
        return i < ids.count && ids[i] == id ? i : nil
    }

    /// Get and set, deliberately without a `_modify` accessor: its coroutine frame did not fit the caller's
    /// buffer and cost a malloc per access.
    subscript(id: UInt64) -> Value? {
        get {
            guard let i = index(of: id), present[i] else { return nil }
            return values[i]
        }
        set {
            if let i = index(of: id), present[i] {
                if let newValue {
                    values[i] = newValue
                } else {
                    values[i] = nil
                    present[i] = false
                    count -= 1
                    trimHead()
                }
            } else if let newValue {
                insert(id, newValue)
            }
        }
    }

    private mutating func insert(_ id: UInt64, _ value: Value) {
        if let i = index(of: id) {
            // A slot left by a removed entry with this id (ids are never reused in practice).
            values[i] = value
            present[i] = true
            count += 1
            return
        }
        count += 1
        if ids.last.map({ $0 < id }) ?? true {
            ids.append(id)
            present.append(true)
            values.append(value)
        } else {
            let i = lowerBound(id)
            ids.insert(id, at: i)
            present.insert(true, at: i)
            values.insert(value, at: i)
        }
    }

    @discardableResult
    mutating func removeValue(forKey id: UInt64) -> Value? {
        guard let i = index(of: id), present[i] else { return nil }
        let value = values[i].take()
        present[i] = false
        count -= 1
        trimHead()
        return value
    }

    private mutating func trimHead() {
        while head < ids.count, !present[head] { head += 1 }
        // Compact only once the dead prefix is long (its slots hold nil: removed values are released at once).
        // Emptying the three arrays after every request cost more than the request's own table work.
        guard head >= 32, head * 2 >= ids.count else { return }
        if head == ids.count {
            ids.removeAll(keepingCapacity: true)
            present.removeAll(keepingCapacity: true)
            values.removeAll(keepingCapacity: true)
        } else {
            ids.removeFirst(head)
            present.removeFirst(head)
            values.removeFirst(head)
        }
        head = 0
    }

    /// The values, oldest first.
    var allValues: [Value] {
        var result: [Value] = []
        for i in head..<ids.count where present[i] {
            if let v = values[i] { result.append(v) }
        }
        return result
    }

    mutating func removeAll() {
        ids.removeAll()
        present.removeAll()
        values.removeAll()
        head = 0
        count = 0
    }
}
