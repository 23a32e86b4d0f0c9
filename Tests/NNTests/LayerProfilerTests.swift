import NN
import Tensor
import XCTest

/// `canopy bench train --profile`'s rows: one per kind of leaf layer and shape, containers never a row,
/// forward and backward both timed, and nothing recorded outside `record`.
final class LayerProfilerTests: XCTestCase {
    func testLeavesOfTheSameKindAndShapeShareARowAndContainersAreNotRows() {
        var random = SeededRandom(seed: 5)
        func block() -> Residual {
            Residual(body: Sequential(named: [("conv1", Convolution2D(4, 4, kernel: 3, padding: 1, bias: false, random: &random)),
                                              ("bn1", BatchNorm(channels: 4))]),
                     activation: ReLU())
        }
        let network = Sequential(named: [("stem", Convolution2D(3, 4, kernel: 3, stride: 2, padding: 1, random: &random)),
                                         ("block1", block()), ("block2", block())])
        let input = Tensor(shape: [3, 2, 8, 8], scalars: (0..<(3 * 2 * 64)).map { _ in random.nextNormal() })

        _ = network.backward(network.forward(input, mode: .training))  // not recorded: no profiler active
        let profiler = LayerProfiler()
        profiler.record {
            for _ in 0..<3 { _ = network.backward(network.forward(input, mode: .training)) }
        }
        let rows = Dictionary(uniqueKeysWithValues: profiler.table.map { ($0.name, $0) })
        XCTAssertEqual(Set(rows.keys), ["conv 3x3/2 3→4, 8x8 → 4x4", "conv 3x3/1 4→4, 4x4 → 4x4",
                                        "BatchNorm 4, 4x4 → 4x4", "ReLU 4, 4x4 → 4x4"])
        XCTAssertEqual(rows["conv 3x3/1 4→4, 4x4 → 4x4"]?.calls, 2 * 3, "both blocks' convolutions, three steps")
        XCTAssertEqual(rows["conv 3x3/2 3→4, 8x8 → 4x4"]?.calls, 3)
        for row in rows.values {
            XCTAssertGreaterThan(row.forwardSeconds, 0, row.name)
            XCTAssertGreaterThan(row.backwardSeconds, 0, row.name)
        }
        XCTAssertEqual(profiler.table.map(\.totalSeconds), profiler.table.map(\.totalSeconds).sorted(by: >), "slowest first")
    }
}
