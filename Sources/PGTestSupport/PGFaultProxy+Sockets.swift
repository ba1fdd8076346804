// Thin POSIX socket helpers for PGFaultProxy (IPv4 TCP on loopback or a resolved address).

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension PGFaultProxy {
    enum Sockets {
        static var streamType: Int32 {
            #if os(Linux)
            Int32(SOCK_STREAM.rawValue)
            #else
            SOCK_STREAM
            #endif
        }

        static func error(_ what: String) -> TemporaryPostgresError {
            TemporaryPostgresError("PGFaultProxy: \(what) failed: \(String(cString: strerror(errno)))")
        }

        static func makeAddress(_ address: in_addr_t, port: Int) -> sockaddr_in {
            var addr = sockaddr_in()
            #if !os(Linux)
            addr.sin_len = UInt8(MemoryLayout<sockaddr_in>.size)
            #endif
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
            addr.sin_addr.s_addr = address
            return addr
        }

        /// A non-blocking listening socket on 127.0.0.1 with a kernel-chosen port.
        static func listen() throws -> (fd: Int32, port: Int) {
            let fd = socket(AF_INET, streamType, 0)
            guard fd >= 0 else { throw error("socket()") }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var addr = makeAddress(inet_addr("127.0.0.1"), port: 0)
            let bound = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0, Glibc.listen(fd, 128) == 0 else {
                let e = error("bind/listen on 127.0.0.1")
                close(fd)
                throw e
            }
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let named = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
            }
            guard named == 0 else {
                let e = error("getsockname")
                close(fd)
                throw e
            }
            setNonBlocking(fd)
            setCloseOnExec(fd)
            return (fd, Int(UInt16(bigEndian: addr.sin_port)))
        }

        /// The IPv4 address of `host` ("localhost" and dotted quads directly, else getaddrinfo).
        static func resolve(_ host: String) throws -> in_addr_t {
            if host == "localhost" { return inet_addr("127.0.0.1") }
            var parsed = in_addr()
            if inet_pton(AF_INET, host, &parsed) == 1 { return parsed.s_addr }
            var hints = addrinfo()
            hints.ai_family = AF_INET
            hints.ai_socktype = streamType
            var result: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else {
                throw TemporaryPostgresError("PGFaultProxy: cannot resolve \(host) to an IPv4 address")
            }
            defer { freeaddrinfo(result) }
            return first.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
        }

        /// Connects to `address:port` within `timeoutMilliseconds`; returns a non-blocking socket or nil.
        static func connect(to address: in_addr_t, port: Int, timeoutMilliseconds: Int32) -> Int32? {
            let fd = socket(AF_INET, streamType, 0)
            guard fd >= 0 else { return nil }
            setNonBlocking(fd)
            setCloseOnExec(fd)
            var addr = makeAddress(address, port: port)
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if rc != 0 {
                guard errno == EINPROGRESS else {
                    close(fd)
                    return nil
                }
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                var ready: Int32
                repeat { ready = poll(&p, 1, timeoutMilliseconds) } while ready < 0 && errno == EINTR
                var soError: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len)
                guard ready == 1, soError == 0 else {
                    close(fd)
                    return nil
                }
            }
            setNoDelay(fd)
            return fd
        }

        static func setNonBlocking(_ fd: Int32) {
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        }

        static func setCloseOnExec(_ fd: Int32) {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }

        static func setNoDelay(_ fd: Int32) {
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }

        static func close(_ fd: Int32) {
            _ = Glibc.close(fd)
        }

        /// Closes with `SO_LINGER` 0, so the peer gets an RST instead of a FIN.
        static func reset(_ fd: Int32) {
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            _ = Glibc.close(fd)
        }

        /// Accepts one pending connection (non-blocking, close-on-exec); nil when none is pending.
        static func accept(_ listener: Int32) -> Int32? {
            while true {
                let fd = Glibc.accept(listener, nil, nil)
                if fd >= 0 {
                    setNonBlocking(fd)
                    setCloseOnExec(fd)
                    setNoDelay(fd)
                    return fd
                }
                if errno == EINTR { continue }
                if errno == ECONNABORTED { continue }
                return nil
            }
        }
    }
}
