import Backbones
import Foundation
import NN
import Tensor
import XCTest

/// Every backbone at 64, 128 and 256 px with 3 and 4 bands gives [17, N] logits. About 100 forward
/// passes, too slow for a debug build: runs when CANOPY_SLOW_TESTS is set, meant for
/// `CANOPY_SLOW_TESTS=1 swift test -c release --disable-swift-testing --filter BackboneShapeMatrixTests`.
final class BackboneShapeMatrixTests: XCTestCase {
    func testEveryBackboneAtEverySizeAndBandCount() throws {
        guard ProcessInfo.processInfo.environment["CANOPY_SLOW_TESTS"] != nil else {
            throw XCTSkip("set CANOPY_SLOW_TESTS=1 (and build with -c release) to run")
        }
        for entry in BackboneRegistry.entries {
            for bands in [3, 4] {
                var random = SeededRandom(seed: 3)
                let model = entry.make(bands, 17, &random)
                for size in [64, 128, 256] {
                    let logits = model.forward(Tensor(shape: [bands, 2, size, size], repeating: 0.1), mode: .inference)
                    XCTAssertEqual(logits.shape, [17, 2], "\(entry.name), \(bands) bands, \(size) px")
                    XCTAssertTrue(logits.scalars.allSatisfy(\.isFinite), entry.name)
                }
            }
        }
    }
}
