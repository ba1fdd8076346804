import Foundation
import PGClient
import PGStoreSupport
import PGTestSupport
import Testing

/// This suite's own throwaway server (Fixtures/ beside this file): `tusk_trust` owns database `tusk`
/// (trust), every other role logs in with a password, so tests can create real runtime roles.
enum StoreTestServer {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    private static let started = Task<TemporaryPostgres, any Error> {
        try await TemporaryPostgres.start(options: TemporaryPostgres.Options(fixturesDirectory: fixtures, tlsCertificate: nil))
    }

    static func server() async throws -> TemporaryPostgres { try await started.value }

    /// URL of the owner role (`tusk_trust`, owner of database `tusk`).
    static func ownerURL() async throws -> String { try await server().url(user: "tusk_trust") + "?sslmode=disable" }

    static func connect(url: String? = nil) async throws -> PGConnection {
        let resolved: String
        if let url { resolved = url } else { resolved = try await ownerURL() }
        var config = try PGConnectionConfiguration(resolved)
        config.connectTimeout = .seconds(10)
        return try await PGConnection.connect(config)
    }

    /// Runs `body` with a connection and closes it afterwards.
    @discardableResult
    static func withConnection<T>(url: String? = nil, _ body: (PGConnection) async throws -> T) async throws -> T {
        let c = try await connect(url: url)
        do {
            let r = try await body(c)
            await c.close()
            return r
        } catch {
            await c.close()
            throw error
        }
    }

    /// A schema name no other test uses.
    static func uniqueSchema(_ prefix: String = "t") -> String {
        "\(prefix)_\(UInt32.random(in: 0...UInt32.max))_\(UInt16.random(in: 0...UInt16.max))"
    }

    /// Creates a login role with a password and no other rights (no CREATE anywhere), as the superuser.
    static func createRuntimeRole() async throws -> (name: String, password: String, url: String) {
        let name = "rt_\(UInt32.random(in: 0...UInt32.max))"
        let password = "pw_\(UInt32.random(in: 0...UInt32.max))"
        let pg = try await server()
        try await withConnection(url: pg.url(user: "postgres") + "?sslmode=disable") { c in
            _ = try await c.simpleQuery("CREATE ROLE \(PGIdentifier.quote(name)) LOGIN PASSWORD '\(password)'")
        }
        return (name, password, pg.url(user: name, password: password) + "?sslmode=disable")
    }
}

/// The built `tusk` executable (a dependency of this test target, so `swift build --build-tests` and
/// `swift test` build it first): next to the test bundle, or `.build/debug/tusk`.
enum TuskBinary {
    static var path: String {
        get throws {
            var candidates: [String] = []
            if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
                var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
                if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
                candidates.append(dir.appendingPathComponent("tusk").path)
            }
            if let bundle = Bundle.main.executableURL?.deletingLastPathComponent() {
                candidates.append(bundle.appendingPathComponent("tusk").path)
            }
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            candidates.append(root.appendingPathComponent(".build/debug/tusk").path)
            guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
                throw PGStoreError(code: .invalidConfiguration, message: "tusk executable not found in \(candidates); run swift build first")
            }
            return found
        }
    }

    /// Reads a pipe to its end on a plain thread (never blocking one of the few cooperative threads).
    static func readToEnd(_ handle: FileHandle) async -> Data {
        await withCheckedContinuation { (continuation: CheckedContinuation<Data, Never>) in
            let thread = Thread { continuation.resume(returning: handle.readDataToEndOfFile()) }
            thread.start()
        }
    }

    struct Result: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `tusk arguments…` with a clean libpq environment plus `environment`, feeding `input` on stdin.
    static func run(_ arguments: [String], environment: [String: String] = [:], input: String = "",
                    timeout: Duration = .seconds(60)) async throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try path)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PG") && $0.key != "DATABASE_URL" }
        env["PGCONNECT_TIMEOUT"] = "10"
        env.merge(environment) { $1 }
        process.environment = env
        let out = Pipe(), err = Pipe(), inp = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inp
        let finished = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { p in
            finished.continuation.yield(p.terminationStatus)
            finished.continuation.finish()
        }
        try process.run()
        inp.fileHandleForWriting.write(Data(input.utf8))
        try? inp.fileHandleForWriting.close()
        // Drain the pipes while the process runs (outputs are small, but never rely on that).
        async let stdoutData = readToEnd(out.fileHandleForReading)
        async let stderrData = readToEnd(err.fileHandleForReading)
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            if process.isRunning { process.terminate() }
        }
        var status: Int32 = -1
        for await s in finished.stream { status = s }
        watchdog.cancel()
        let o = await stdoutData, e = await stderrData
        return Result(status: status, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}
