// Codec microbenchmarks (package-benchmark): the wire codec alone, no socket, no server.
// Run with: swift package --package-path Benchmarks benchmark --target CodecBenchmarks
//
// Each benchmark iteration is one operation: one DataRow decoded into four native values, one
// Bind/Execute/Sync encoded, one SCRAM-SHA-256 client proof computed. Metrics: wall clock and
// mallocs per operation (CPU time per operation is below getrusage's resolution here, so the
// wall clock of an idle machine stands for it), and throughput.

import Benchmark
import Foundation
import PGWire

let benchmarks: @Sendable () -> Void = {
    let metrics: [BenchmarkMetric] = [.wallClock, .mallocCountTotal, .throughput]
    Benchmark.defaultConfiguration = .init(metrics: metrics, warmupIterations: 100, maxDuration: .seconds(2))

    // MARK: DataRow decode

    // The body of one DataRow of W3: (int4 123456, text "123456", float8 185184.0, timestamptz), binary.
    let row: [UInt8] = {
        var b = PGWriteBuffer(capacity: 64)
        b.writeInteger(Int16(4))
        b.writeInteger(Int32(4)); b.writeInteger(Int32(123_456))
        b.writeInteger(Int32(6)); b.writeString("123456")
        b.writeInteger(Int32(8)); b.writeInteger(Double(185_184).bitPattern)
        b.writeInteger(Int32(8)); b.writeInteger(Int64(786_000_000_000_000))
        return b.bytes
    }()
    let types: [PGDataType] = [.int4, .text, .float8, .timestamptz]

    Benchmark("DataRow decode (int4, text, float8, timestamptz)") { benchmark in
        var check = 0
        for _ in benchmark.scaledIterations {
            guard case .dataRow(let data) = try PGBackendMessageDecoder.decode(type: UInt8(ascii: "D"), body: row[...]) else {
                fatalError("not a DataRow")
            }
            var values: (Int, String, Double, Date) = (0, "", 0, .distantPast)
            try data.forEachField { column, bytes in
                guard let bytes else { return }
                switch column {
                case 0: values.0 = try Int(pgBytes: bytes, type: types[0], format: .binary)
                case 1: values.1 = try String(pgBytes: bytes, type: types[1], format: .binary)
                case 2: values.2 = try Double(pgBytes: bytes, type: types[2], format: .binary)
                default: values.3 = try Date(pgBytes: bytes, type: types[3], format: .binary)
                }
            }
            check &+= values.0 &+ values.1.utf8.count
            blackHole(values)
        }
        blackHole(check)
    }

    // The same, split: the message decode alone, and the four field decodes alone.
    Benchmark("DataRow message decode only") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try PGBackendMessageDecoder.decode(type: UInt8(ascii: "D"), body: row[...]))
        }
    }

    guard case .dataRow(let data) = try? PGBackendMessageDecoder.decode(type: UInt8(ascii: "D"), body: row[...]) else {
        fatalError("not a DataRow")
    }
    Benchmark("DataRow fields -> Int, String, Double, Date only") { benchmark in
        for _ in benchmark.scaledIterations {
            var index = data.fields.startIndex
            func next(_ length: Int) -> ArraySlice<UInt8> {
                defer { index += 4 + length }
                return data.fields[(index + 4)..<(index + 4 + length)]
            }
            let i = try Int(pgBytes: next(4), type: types[0], format: .binary)
            let s = try String(pgBytes: next(6), type: types[1], format: .binary)
            let d = try Double(pgBytes: next(8), type: types[2], format: .binary)
            let t = try Date(pgBytes: next(8), type: types[3], format: .binary)
            blackHole(i); blackHole(s); blackHole(d); blackHole(t)
        }
    }

    // MARK: Bind encode

    Benchmark("Bind+Execute+Sync encode (one int4)") { benchmark in
        var out = PGWriteBuffer(capacity: 256)
        for i in benchmark.scaledIterations {
            out.clear()
            try PGFrontendEncoder.bind(statement: "tusk_0123456789ab_1", parameters: [Int32(truncatingIfNeeded: i)],
                                       resultFormats: [.binary], into: &out)
            PGFrontendEncoder.execute(into: &out)
            PGFrontendEncoder.sync(into: &out)
            blackHole(out.count)
        }
    }

    Benchmark("Bind+Execute+Sync encode (int8, text, float8, timestamptz)") { benchmark in
        var out = PGWriteBuffer(capacity: 256)
        let date = Date(timeIntervalSince1970: 1_700_000_000)
        for i in benchmark.scaledIterations {
            out.clear()
            try PGFrontendEncoder.bind(statement: "tusk_0123456789ab_2",
                                       parameters: [i, "row-text-value", Double(i) * 0.5, date],
                                       resultFormats: [.binary], into: &out)
            PGFrontendEncoder.execute(into: &out)
            PGFrontendEncoder.sync(into: &out)
            blackHole(out.count)
        }
    }

    // MARK: SCRAM client proof

    // RFC 7677's example exchange (4096 PBKDF2 iterations, PostgreSQL's default).
    let serverFirst = Array("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096".utf8)
    let serverFinal = Array("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".utf8)
    Benchmark("SCRAM-SHA-256 client proof (4096 iterations)",
              configuration: .init(metrics: metrics, warmupIterations: 3, maxDuration: .seconds(2))) { benchmark in
        for _ in benchmark.scaledIterations {
            var client = try PGSCRAMClient(username: "user", password: "pencil", clientNonce: "rOprNGfwEbeRWgbNEkqO",
                                           includesUsernameInMessage: true)
            _ = client.clientFirstMessage()
            let final = try client.handleServerFirstMessage(serverFirst[...])
            try client.handleServerFinalMessage(serverFinal[...])
            blackHole(final)
        }
    }
}
