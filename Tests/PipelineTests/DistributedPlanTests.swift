import Foundation
import PlanetData
@testable import Pipeline
import XCTest

/// How a pipeline is shared over the ranks of an mpirun job: the training jobs longest first, a
/// folder's chips in whole inference batches, and the `distributed:` section's checks.
final class DistributedPlanTests: XCTestCase {
    func testJobsGoLongestFirstToTheLeastLoadedRank() {
        // 10 to rank 0, 8 to rank 1, 7 to rank 1 (8 < 10), 5 to rank 0 (15 = 15: the lower rank).
        XCTAssertEqual(PipelineRunner.longestFirst([5, 10, 7, 8], ranks: 2), [0, 0, 1, 1])
        // Equal jobs in order, round robin.
        XCTAssertEqual(PipelineRunner.longestFirst([1, 1, 1, 1, 1], ranks: 3), [0, 1, 2, 0, 1])
        // Jobs with nothing left weigh nothing, but still have an owner.
        XCTAssertEqual(PipelineRunner.longestFirst([0, 4, 0], ranks: 2), [1, 0, 1])
        XCTAssertEqual(PipelineRunner.longestFirst([3, 2], ranks: 1), [0, 0])
    }

    func testAFoldersChipsAreSharedInWholeBatchesRoundRobin() {
        // 7 batches of 10 (the last of 5) over 3 ranks: rank 0 batches 0, 3, 6; rank 1 1, 4; rank 2 2, 5.
        let shards = (0..<3).map { ImageShard(chips: 65, batchSize: 10, rank: $0, ranks: 3) }
        XCTAssertEqual(shards.map(\.rounds), [3, 3, 3])
        XCTAssertEqual(shards[0].chipIndices, Array(0..<10) + Array(30..<40) + Array(60..<65))
        XCTAssertEqual(shards[1].chipIndices, Array(10..<20) + Array(40..<50))
        XCTAssertEqual(shards[2].chipIndices, Array(20..<30) + Array(50..<60))
        XCTAssertEqual(Set(shards.flatMap(\.chipIndices)).count, 65)
        XCTAssertEqual(ImageShard(chips: 65, batchSize: 10, rank: 0, ranks: 1).chipIndices, Array(0..<65))
        XCTAssertEqual(ImageShard(chips: 0, batchSize: 10, rank: 1, ranks: 2), ImageShard(chips: 0, batchSize: 10, rank: 0, ranks: 2))
    }

    func config(_ distributed: String) throws -> PipelineConfig {
        try PipelineConfig.parse("""
            data: {root: datasets/planet-sample}
            models: [{backbone: lenet5}]
            \(distributed)
            """, file: "x.yaml", defaultName: "x")
    }

    func testTheDistributedSectionIsCheckedWithItsKeyNamed() throws {
        XCTAssertNil(try config("").distributed)
        let data = try XCTUnwrap(try config("distributed: {mode: data, sync_batch_norm: true, timeout_seconds: 30}").distributed)
        XCTAssertEqual(data.mode, .data)
        XCTAssertTrue(data.syncBatchNorm)
        XCTAssertEqual(data.timeoutSeconds, 30)
        XCTAssertEqual(try config("distributed: {}").distributed, DistributedConfig())
        for (text, problem) in [("distributed: {mode: ring}", "distributed.mode"),
                                ("distributed: {sync_batch_norm: true}", "goes with mode: data"),
                                ("distributed: {timeout_seconds: 0}", "distributed.timeout_seconds"),
                                ("distributed: {modes: data}", "modes")] {
            XCTAssertThrowsError(try config(text), text) { error in
                XCTAssertTrue("\(error)".contains(problem), "\(text): \(error)")
            }
        }
    }
}
