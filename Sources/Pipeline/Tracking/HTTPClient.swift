#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// `http://HOST[:PORT][/PATH]`: where a tracking server listens.
struct HTTPEndpoint: Equatable, Sendable {
    var host: String
    var port: Int
    /// The path prefix every request's path goes under ("" or "/prefix", no trailing slash).
    var basePath: String

    init?(_ uri: String) {
        guard let components = URLComponents(string: uri), components.scheme?.lowercased() == "http",
              let host = components.host, !host.isEmpty, components.query == nil, components.fragment == nil else { return nil }
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        port = components.port ?? 80
        guard (1...65535).contains(port) else { return nil }
        var path = components.percentEncodedPath
        while path.hasSuffix("/") { path.removeLast() }
        basePath = path
    }

    var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == 80 ? name : "\(name):\(port)"
    }
}

struct HTTPResponse: Sendable {
    var status: Int
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// Why a request did not get an answer.
struct HTTPError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A minimal HTTP/1.1 client over POSIX sockets: one request per connection (`Connection: close`),
/// and one deadline for all of it. Connecting, sending and every wait for the answer are bounded by
/// `timeout` seconds in total (non-blocking socket, `poll` with what is left), so a server that
/// refuses costs nothing and one that accepts but never answers costs `timeout`. (Resolving a host
/// name goes through `getaddrinfo`, which has no timeout of its own: name the server by address, or
/// `localhost`, when that matters.)
enum HTTPClient {
    static func request(_ endpoint: HTTPEndpoint, method: String, path: String, contentType: String? = nil,
                        body: [UInt8] = [], timeout: Double) throws(HTTPError) -> HTTPResponse {
        let deadline = monotonicSeconds() + timeout
        let fd = try connect(endpoint, deadline: deadline, timeout: timeout)
        defer { close(fd) }
        var head = "\(method) \(endpoint.basePath)\(path) HTTP/1.1\r\nHost: \(endpoint.hostHeader)\r\nUser-Agent: canopy\r\n"
        head += "Accept: application/json\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
        if let contentType { head += "Content-Type: \(contentType)\r\n" }
        head += "\r\n"
        try sendAll(fd, Array(head.utf8) + body, deadline: deadline, timeout: timeout)
        return try readResponse(fd, deadline: deadline, timeout: timeout)
    }

    static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    private static func remainingMilliseconds(_ deadline: Double) -> Int32 {
        Int32(max(0, min(Double(Int32.max), ((deadline - monotonicSeconds()) * 1000).rounded(.up))))
    }

    private static func timedOut(_ what: String, _ timeout: Double) -> HTTPError {
        HTTPError("no answer within \(String(format: "%g", timeout)) s (\(what))")
    }

    /// Waits until `fd` is ready for `events` or the deadline passes.
    private static func wait(_ fd: Int32, _ events: Int32, deadline: Double, timeout: Double, _ what: String) throws(HTTPError) {
        while true {
            let left = remainingMilliseconds(deadline)
            if left <= 0 { throw timedOut(what, timeout) }
            var entry = pollfd(fd: fd, events: Int16(events), revents: 0)
            let ready = poll(&entry, 1, left)
            if ready > 0 { return }
            if ready == 0 { throw timedOut(what, timeout) }
            if errno != EINTR { throw HTTPError("poll: \(String(cString: strerror(errno)))") }
        }
    }

    private static func connect(_ endpoint: HTTPEndpoint, deadline: Double, timeout: Double) throws(HTTPError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &list)
        guard status == 0, let first = list else {
            throw HTTPError("cannot resolve \(endpoint.host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let address = entry {
            entry = address.pointee.ai_next
            let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
            if fd < 0 { lastError = String(cString: strerror(errno)); continue }
            #if canImport(Darwin)
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
            #endif
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            if systemConnect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return fd }
            if errno == EINPROGRESS {
                do {
                    try wait(fd, Int32(POLLOUT), deadline: deadline, timeout: timeout, "connecting to \(endpoint.hostHeader)")
                } catch {
                    close(fd)
                    throw error
                }
                var problem: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &problem, &length)
                if problem == 0 { return fd }
                lastError = String(cString: strerror(problem))
            } else {
                lastError = String(cString: strerror(errno))
            }
            close(fd)
        }
        throw HTTPError("cannot connect to \(endpoint.hostHeader): \(lastError)")
    }

    private static func sendAll(_ fd: Int32, _ bytes: [UInt8], deadline: Double, timeout: Double) throws(HTTPError) {
        var sent = 0
        #if canImport(Glibc)
        let flags = Int32(MSG_NOSIGNAL)
        #else
        let flags: Int32 = 0
        #endif
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, bytes.count - sent, flags) }
            if count > 0 { sent += count; continue }
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                try wait(fd, Int32(POLLOUT), deadline: deadline, timeout: timeout, "sending the request")
                continue
            }
            throw HTTPError("sending the request: \(String(cString: strerror(errno)))")
        }
    }

    /// Reads the status line, the headers and the body (by Content-Length, chunked, or to the end).
    private static func readResponse(_ fd: Int32, deadline: Double, timeout: Double) throws(HTTPError) -> HTTPResponse {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var headerEnd: Int?
        var status = 0
        var contentLength: Int?
        var chunked = false
        while true {
            if let end = headerEnd {
                let body = Array(data[end...])
                if let contentLength, body.count >= contentLength { return HTTPResponse(status: status, body: Array(body.prefix(contentLength))) }
                if chunked, let decoded = decodeChunked(body) { return HTTPResponse(status: status, body: decoded) }
            }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if count > 0 {
                data += buffer[..<count]
                if headerEnd == nil, let end = find([13, 10, 13, 10], in: data) {
                    headerEnd = end + 4
                    let lines = String(decoding: data[..<end], as: UTF8.self).components(separatedBy: "\r\n")
                    let statusParts = lines[0].split(separator: " ")
                    guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/"), let code = Int(statusParts[1]) else {
                        throw HTTPError("not an HTTP answer: \(lines[0].prefix(80))")
                    }
                    status = code
                    for line in lines.dropFirst() {
                        guard let colon = line.firstIndex(of: ":") else { continue }
                        let name = line[..<colon].lowercased(), value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                        if name == "content-length" { contentLength = Int(value) }
                        if name == "transfer-encoding", value.lowercased().contains("chunked") { chunked = true }
                    }
                }
                continue
            }
            if count == 0 {
                guard let end = headerEnd else { throw HTTPError("the server closed the connection without an answer") }
                if contentLength != nil || chunked { throw HTTPError("the server closed the connection in the middle of its answer") }
                return HTTPResponse(status: status, body: Array(data[end...]))
            }
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                try wait(fd, Int32(POLLIN), deadline: deadline, timeout: timeout, "waiting for the answer")
                continue
            }
            throw HTTPError("reading the answer: \(String(cString: strerror(errno)))")
        }
    }

    /// The body of a complete chunked message, or nil while it is incomplete.
    static func decodeChunked(_ bytes: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        var index = 0
        while true {
            guard let lineEnd = find([13, 10], in: bytes, from: index) else { return nil }
            let sizeText = String(decoding: bytes[index..<lineEnd], as: UTF8.self).split(separator: ";").first.map(String.init) ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
            let start = lineEnd + 2
            if size == 0 { return out }
            guard bytes.count >= start + size + 2 else { return nil }
            out += bytes[start..<(start + size)]
            index = start + size + 2
        }
    }

    static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int = 0) -> Int? {
        guard bytes.count >= needle.count, start <= bytes.count - needle.count else { return nil }
        for index in start...(bytes.count - needle.count) where bytes[index] == needle[0] {
            if bytes[index..<(index + needle.count)].elementsEqual(needle) { return index }
        }
        return nil
    }
}

/// The C library's `connect`, which `HTTPClient.connect` shadows.
private func systemConnect(_ fd: Int32, _ address: UnsafePointer<sockaddr>!, _ length: socklen_t) -> Int32 {
    #if canImport(Glibc)
    return Glibc.connect(fd, address, length)
    #else
    return Darwin.connect(fd, address, length)
    #endif
}
