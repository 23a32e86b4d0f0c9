import CMPI
import Foundation

/// The collectives Canopy uses. Every one is started non-blocking and polled until done, so none waits
/// past its time (`timeoutSeconds`, or `waitingAtMost:`; `.infinity` for a wait as long as the others'
/// work, such as ranks training folds); a waiting rank sleeps between polls instead of spinning a
/// core. On `single` each is the identity and touches no MPI.
extension Cluster {
    // MARK: barrier

    /// Returns when every rank has called it.
    public func barrier(_ what: String, waitingAtMost seconds: Double? = nil) throws(ClusterError) {
        guard usesMPI else { return }
        var request: MPI_Request? = canopy_mpi_request_null()
        try check(MPI_Ibarrier(canopy_mpi_comm_world(), &request), "MPI_Ibarrier (\(what))")
        try wait(&request, what, seconds ?? timeoutSeconds)
    }

    // MARK: allreduce

    /// Every rank's `buffer` replaced by the element-wise sum over ranks.
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, _ what: String) throws(ClusterError) {
        try startAllreduceSum(buffer, what).wait()
    }

    /// The element-wise sum of every rank's `values`.
    public func allreduceSum(_ values: [Double], _ what: String) throws(ClusterError) -> [Double] {
        guard usesMPI, !values.isEmpty else { return values }
        var result = values
        try result.withUnsafeMutableBufferPointer { (buffer) throws(ClusterError) in
            var request: MPI_Request? = canopy_mpi_request_null()
            try check(MPI_Iallreduce(canopy_mpi_in_place(), buffer.baseAddress, try count(buffer.count, what), canopy_mpi_double(),
                                     canopy_mpi_sum(), canopy_mpi_comm_world(), &request), "MPI_Iallreduce (\(what))")
            try wait(&request, what, timeoutSeconds)
        }
        return result
    }

    /// Starts summing `buffer` over the ranks in place and returns at once; the buffer must stay
    /// alive and untouched until the reduction's `wait()` returns. Polling it (`isDone`) lets MPI move
    /// it on while this rank computes (the gradient buckets of `mode: data`).
    public func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, _ what: String) throws(ClusterError) -> PendingReduction {
        let pending = PendingReduction(cluster: self, what: what)
        guard usesMPI, buffer.count > 0 else { return pending }
        try check(MPI_Iallreduce(canopy_mpi_in_place(), buffer.baseAddress, try count(buffer.count, what), canopy_mpi_float(),
                                 canopy_mpi_sum(), canopy_mpi_comm_world(), &pending.request), "MPI_Iallreduce (\(what))")
        pending.started = true
        return pending
    }

    // MARK: broadcast

    /// `root`'s `buffer` in every rank's.
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, from root: Int = 0, _ what: String) throws(ClusterError) {
        guard usesMPI, buffer.count > 0 else { return }
        var request: MPI_Request? = canopy_mpi_request_null()
        try check(MPI_Ibcast(buffer.baseAddress, try count(buffer.count, what), canopy_mpi_float(), Int32(root), canopy_mpi_comm_world(), &request),
                  "MPI_Ibcast (\(what))")
        try wait(&request, what, timeoutSeconds)
    }

    /// `root`'s bytes on every rank (the others' `bytes` are ignored).
    public func broadcast(_ bytes: [UInt8], from root: Int = 0, _ what: String, waitingAtMost seconds: Double? = nil) throws(ClusterError) -> [UInt8] {
        guard usesMPI else { return bytes }
        var length = [Int64(bytes.count)]
        try length.withUnsafeMutableBufferPointer { (buffer) throws(ClusterError) in
            var request: MPI_Request? = canopy_mpi_request_null()
            try check(MPI_Ibcast(buffer.baseAddress, 1, canopy_mpi_int64(), Int32(root), canopy_mpi_comm_world(), &request), "MPI_Ibcast (\(what) length)")
            try wait(&request, what, seconds ?? timeoutSeconds)
        }
        var result = rank == root ? bytes : [UInt8](repeating: 0, count: Int(length[0]))
        guard !result.isEmpty else { return result }
        try result.withUnsafeMutableBufferPointer { (buffer) throws(ClusterError) in
            var request: MPI_Request? = canopy_mpi_request_null()
            try check(MPI_Ibcast(buffer.baseAddress, try count(buffer.count, what), canopy_mpi_byte(), Int32(root), canopy_mpi_comm_world(), &request),
                      "MPI_Ibcast (\(what))")
            try wait(&request, what, timeoutSeconds)
        }
        return result
    }

    /// `root`'s value on every rank, sent as JSON (plans and decisions, not bulk data).
    public func broadcast<T: Codable>(_ value: T, from root: Int = 0, _ what: String, waitingAtMost seconds: Double? = nil) throws(ClusterError) -> T {
        guard usesMPI else { return value }
        let bytes: [UInt8]
        do { bytes = rank == root ? Array(try JSONEncoder().encode(value)) : [] } catch {
            throw .inconsistent(operation: what, rank: rank, detail: "cannot encode the value: \(error)")
        }
        let received = try broadcast(bytes, from: root, what, waitingAtMost: seconds)
        do { return try JSONDecoder().decode(T.self, from: Data(received)) } catch {
            throw .inconsistent(operation: what, rank: rank, detail: "cannot decode rank \(root)'s value: \(error)")
        }
    }

    // MARK: gather

    /// Every rank's bytes, in rank order, on `root` (the others get an empty list).
    public func gather(_ bytes: [UInt8], to root: Int = 0, _ what: String, waitingAtMost seconds: Double? = nil) throws(ClusterError) -> [[UInt8]] {
        guard usesMPI else { return [bytes] }
        let limit = seconds ?? timeoutSeconds
        var lengths = [Int32](repeating: 0, count: rank == root ? size : 1)
        var mine = [try count(bytes.count, what)]
        try mine.withUnsafeMutableBufferPointer { (send) throws(ClusterError) in
            try lengths.withUnsafeMutableBufferPointer { (receive) throws(ClusterError) in
                var request: MPI_Request? = canopy_mpi_request_null()
                try check(MPI_Igather(send.baseAddress, 1, canopy_mpi_int(), receive.baseAddress, 1, canopy_mpi_int(), Int32(root),
                                      canopy_mpi_comm_world(), &request), "MPI_Igather (\(what) lengths)")
                try wait(&request, what, limit)
            }
        }
        var offsets = [Int32](repeating: 0, count: lengths.count)
        var total = 0
        if rank == root {
            for index in lengths.indices {
                offsets[index] = try count(total, what)
                total += Int(lengths[index])
            }
            _ = try count(total, what)
        }
        var all = [UInt8](repeating: 0, count: max(total, 1))
        var send = bytes.isEmpty ? [0] : bytes
        try send.withUnsafeMutableBufferPointer { (sendBuffer) throws(ClusterError) in
            try all.withUnsafeMutableBufferPointer { (receive) throws(ClusterError) in
                try lengths.withUnsafeMutableBufferPointer { (counts) throws(ClusterError) in
                    try offsets.withUnsafeMutableBufferPointer { (displacements) throws(ClusterError) in
                        var request: MPI_Request? = canopy_mpi_request_null()
                        try check(MPI_Igatherv(sendBuffer.baseAddress, Int32(bytes.count), canopy_mpi_byte(), receive.baseAddress, counts.baseAddress,
                                               displacements.baseAddress, canopy_mpi_byte(), Int32(root), canopy_mpi_comm_world(), &request),
                                  "MPI_Igatherv (\(what))")
                        try wait(&request, what, limit)
                    }
                }
            }
        }
        guard rank == root else { return [] }
        return lengths.indices.map { Array(all[Int(offsets[$0])..<Int(offsets[$0]) + Int(lengths[$0])]) }
    }

    /// Every rank's value, in rank order, on `root` (the others get an empty list), sent as JSON.
    public func gather<T: Codable>(_ value: T, to root: Int = 0, _ what: String, waitingAtMost seconds: Double? = nil) throws(ClusterError) -> [T] {
        guard usesMPI else { return [value] }
        let bytes: [UInt8]
        do { bytes = Array(try JSONEncoder().encode(value)) } catch {
            throw .inconsistent(operation: what, rank: rank, detail: "cannot encode the value: \(error)")
        }
        var values: [T] = []
        for (index, part) in try gather(bytes, to: root, what, waitingAtMost: seconds).enumerated() {
            do { values.append(try JSONDecoder().decode(T.self, from: Data(part))) } catch {
                throw .inconsistent(operation: what, rank: rank, detail: "cannot decode rank \(index)'s value: \(error)")
            }
        }
        return values
    }

    // MARK: waiting

    /// Polls `request` until it completes or `seconds` pass: a busy poll for the first 200 µs (a
    /// step's allreduce), then sleeps growing to 5 ms (a rank waiting for another's fold).
    func wait(_ request: inout MPI_Request?, _ what: String, _ seconds: Double) throws(ClusterError) {
        let started = DispatchTime.now().uptimeNanoseconds
        var pause: UInt32 = 0
        while true {
            var done: Int32 = 0
            try check(MPI_Test(&request, &done, canopy_mpi_status_ignore()), "MPI_Test (\(what))")
            if done != 0 { return }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            if elapsed > seconds { throw .timeout(operation: what, rank: rank, seconds: seconds) }
            if elapsed > 0.0002 {
                pause = min(max(pause * 2, 20), 5000)
                usleep(pause)
            }
        }
    }

    func count(_ value: Int, _ what: String) throws(ClusterError) -> Int32 {
        guard let count = Int32(exactly: value) else {
            throw .inconsistent(operation: what, rank: rank, detail: "\(value) elements is more than one MPI message carries")
        }
        return count
    }
}

/// A sum over the ranks started by `startAllreduceSum`, not yet known to be complete.
public final class PendingReduction {
    let cluster: Cluster
    let what: String
    var request: MPI_Request? = canopy_mpi_request_null()
    var started = false

    init(cluster: Cluster, what: String) {
        self.cluster = cluster
        self.what = what
    }

    /// Moves the reduction on and says whether it is complete (never blocks).
    public func isDone() throws(ClusterError) -> Bool {
        guard started else { return true }
        var done: Int32 = 0
        try cluster.check(MPI_Test(&request, &done, canopy_mpi_status_ignore()), "MPI_Test (\(what))")
        if done != 0 { started = false }
        return done != 0
    }

    /// Returns when the sum is in the buffer (or throws after the cluster's timeout).
    public func wait() throws(ClusterError) {
        guard started else { return }
        try cluster.wait(&request, what, cluster.timeoutSeconds)
        started = false
    }
}
