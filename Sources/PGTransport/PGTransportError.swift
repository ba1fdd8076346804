#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors from the transport layer (mapped to `PGError` by the client).
public enum PGTransportError: Error, Sendable, CustomStringConvertible {
    case system(String, errno: Int32)
    case resolve(host: String, message: String)
    case timeout
    case closed

    public var description: String {
        switch self {
        case .system(let call, let e): "\(call) failed: \(String(cString: strerror(e))) (errno \(e))"
        case .resolve(let host, let message): "could not resolve host \"\(host)\": \(message)"
        case .timeout: "timed out"
        case .closed: "closed"
        }
    }
}
