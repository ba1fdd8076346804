import Foundation
import PGClient
import PGTestSupport

/// The one server every client talks to: `DATABASE_URL`, or a throwaway TemporaryPostgres cluster
/// (with TLS switched on when `openssl` can make a self-signed certificate, for W7-TLS).
struct BenchServer: Sendable {
    let url: String
    let scramURL: String
    let tlsURL: String?
    let binDirectory: String?
    let mode: String
    let temporary: TemporaryPostgres?

    init(external url: String) {
        // Every client gets the same transport: plain TCP unless the URL says otherwise (libpq and
        // asyncpg would otherwise try TLS first, sslmode=prefer, while Tusk has no TLS yet).
        let plain = url.contains("sslmode=") ? url : Self.adding("sslmode=disable", to: url)
        self.url = plain
        self.scramURL = plain
        self.tlsURL = url.contains("sslmode=") ? nil : Self.adding("sslmode=require", to: url)
        self.binDirectory = nil
        self.mode = "external, DATABASE_URL; W7 uses its user and auth method"
        self.temporary = nil
    }

    private init(temporary pg: TemporaryPostgres, tls: Bool) {
        self.temporary = pg
        // sslmode=disable: libpq and asyncpg default to sslmode=prefer and would use TLS on this
        // server; every client runs W1–W7 over the same plain TCP.
        self.url = Self.adding("sslmode=disable", to: pg.url())
        let scram = pg.url(user: TemporaryPostgres.Role.scram.name, password: TemporaryPostgres.Role.scram.password)
        self.scramURL = Self.adding("sslmode=disable", to: scram)
        self.tlsURL = tls ? Self.adding("sslmode=require", to: scram) : nil
        self.binDirectory = pg.binDirectory
        self.mode = "throwaway cluster started by TemporaryPostgres, default settings" + (tls ? " + ssl=on" : "")
    }

    static func adding(_ parameter: String, to url: String) -> String {
        url + (url.contains("?") ? "&" : "?") + parameter
    }

    static func embedded(work: String) async throws -> BenchServer {
        if let tls = makeCertificate(in: work) {
            let options = TemporaryPostgres.Options(settings: [
                "ssl": "on", "ssl_cert_file": "'\(tls.cert)'", "ssl_key_file": "'\(tls.key)'",
            ])
            do {
                return BenchServer(temporary: try await TemporaryPostgres.start(options: options), tls: true)
            } catch {
                say("server: could not start with TLS (\(error)); starting without it (W7-TLS will show —)")
            }
        } else {
            say("server: openssl could not make a certificate; no TLS (W7-TLS will show —)")
        }
        return BenchServer(temporary: try await TemporaryPostgres.shared(), tls: false)
    }

    /// A self-signed certificate and key readable by the server's OS user.
    static func makeCertificate(in work: String) -> (cert: String, key: String)? {
        guard let openssl = AsyncpgClient.findExecutable("openssl") else { return nil }
        let dir = work + "/tls"
        let cert = dir + "/server.crt", key = dir + "/server.key"
        guard (try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                         attributes: [.posixPermissions: 0o755])) != nil,
              let r = try? Subprocess.run(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                                                     "-subj", "/CN=localhost", "-keyout", key, "-out", cert], workDirectory: work),
              r.status == 0
        else { return nil }
        chmod(key, 0o600)
        chmod(work, 0o755)
        if getuid() == 0, let pw = getpwnam("postgres") {
            // The server runs as `postgres` when we are root; it must own its key.
            chown(key, pw.pointee.pw_uid, pw.pointee.pw_gid)
            chown(cert, pw.pointee.pw_uid, pw.pointee.pw_gid)
        }
        return (cert, key)
    }

    func stop() async {
        // A shared cluster would also stop itself at exit.
        if let temporary, !temporary.isExternal { await temporary.stop() }
    }

    /// The postmaster's process tree, from TemporaryPostgres or from a backend's parent pid.
    func serverCPU() async -> ServerCPU? {
        if let pid = temporary?.postmasterPID, let s = ServerCPU(postmasterPID: Int32(pid)) { return s }
        guard let c = try? await PGConnection.connect(try PGConnectionConfiguration(url: url)) else { return nil }
        let pid = await c.backendProcessID
        await c.close()
        return ServerCPU(backendPID: pid)
    }

    func version() async -> String {
        if let v = temporary?.serverVersion, !v.isEmpty { return v }
        guard let c = try? await PGConnection.connect(try PGConnectionConfiguration(url: url)) else { return "unknown" }
        let v = await c.serverParameters["server_version"] ?? "unknown"
        await c.close()
        return v
    }
}
