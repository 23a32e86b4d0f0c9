import Cluster
import XCTest

/// The world of one a process is when no MPI launcher started it: every collective hands back what
/// it was given, and MPI is never initialised. (The collectives between real ranks are exercised under
/// `mpirun` by Tests/CanopyCLITests/DistributedCommandTests.swift.)
final class ClusterTests: XCTestCase {
    func testALauncherIsRecognisedByItsEnvironment() {
        XCTAssertFalse(Cluster.launchedByMPI(environment: ["PATH": "/usr/bin"]))
        XCTAssertTrue(Cluster.launchedByMPI(environment: ["OMPI_COMM_WORLD_SIZE": "2"]))
        XCTAssertTrue(Cluster.launchedByMPI(environment: ["PMIX_RANK": "0"]))
        XCTAssertTrue(Cluster.launchedByMPI(environment: ["PMI_RANK": "3"]))
    }

    func testWithoutALauncherTheWorldIsOneProcessWithoutMPI() throws {
        guard !Cluster.launchedByMPI() else { throw XCTSkip("the tests themselves run under an MPI launcher") }
        let world = try Cluster.join()
        XCTAssertTrue(world === Cluster.single)
        XCTAssertEqual(world.rank, 0)
        XCTAssertEqual(world.size, 1)
        XCTAssertTrue(world.isRoot)
        XCTAssertFalse(world.isDistributed)
        XCTAssertFalse(world.usesMPI)
        XCTAssertNil(Cluster.joinedWorld)
    }

    func testEveryCollectiveOfOneProcessIsTheIdentity() throws {
        let world = Cluster.single
        try world.barrier("test")
        XCTAssertEqual(try world.allreduceSum([1.5, -2, 3], "test"), [1.5, -2, 3])
        var floats: [Float] = [1, 2, 3]
        try floats.withUnsafeMutableBufferPointer { try world.allreduceSum($0, "test") }
        XCTAssertEqual(floats, [1, 2, 3])
        let pending = try floats.withUnsafeMutableBufferPointer { try world.startAllreduceSum($0, "test") }
        XCTAssertTrue(try pending.isDone())
        try pending.wait()
        try floats.withUnsafeMutableBufferPointer { try world.broadcast($0, "test") }
        XCTAssertEqual(floats, [1, 2, 3])
        XCTAssertEqual(try world.broadcast([7, 8], "test"), [7, 8] as [UInt8])
        XCTAssertEqual(try world.broadcast(["a": 1], "test"), ["a": 1])
        XCTAssertEqual(try world.gather([1, 2] as [UInt8], "test"), [[1, 2]])
        XCTAssertEqual(try world.gather("value", "test"), ["value"])
    }

    func testErrorsNameTheRankAndWhatToDo() {
        XCTAssertEqual(ClusterError.timeout(operation: "the folds' training", rank: 1, seconds: 60).description,
                       "rank 1: the folds' training did not complete within 60 s (another rank is stuck or gone; distributed.timeout_seconds sets the wait)")
        XCTAssertEqual(ClusterError.mpi(call: "MPI_Ibarrier (x)", rank: 0, message: "MPI_ERR_COMM: invalid communicator").description,
                       "rank 0: MPI_Ibarrier (x) failed: MPI_ERR_COMM: invalid communicator")
        XCTAssertEqual(ClusterError.inconsistent(operation: "the run's plan", rank: 2, detail: "2 models, 3 here").description,
                       "rank 2: the run's plan: the ranks disagree: 2 models, 3 here")
    }
}
