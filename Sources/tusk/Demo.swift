import PGClient

enum Demo {
    static func run(url: String) async throws {
        let config = try PGConnectionConfiguration(url: url)
        let connection = try await PGConnection.connect(config)
        print("Connected (\(await connection.authenticationMethod ?? "?")), server \(await connection.serverParameters["server_version"] ?? "?")")
        let rows = try await connection.query("SELECT $1::int4 + 1 AS answer, now() AS at, $2::text AS greeting", [Int32(41), "hello from Tusk"])
        for try await row in rows {
            let (answer, greeting) = (try row.decode(Int.self, column: "answer"), try row.decode(String.self, column: "greeting"))
            print("answer=\(answer) greeting=\(greeting)")
        }
        for result in try await connection.simpleQuery("SELECT count(*) FROM pg_class; SELECT version()") {
            print("\(result.commandTag): \(try result.rows.first?.decode(String.self, column: 0) ?? "")")
        }
        do {
            _ = try await connection.query("SELECT * FROM missing_table")
        } catch let error as PGError {
            print("typed error: \(error.sqlState?.name ?? "?") — \(error.serverInfo?.message ?? "")")
        }
        await connection.close()
    }
}
