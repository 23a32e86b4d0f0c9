import Foundation
import Synchronization
import NN
import Tensor
import XCTest

/// Engine settings are scoped to the code that runs under them: two networks trained at the same time
/// in one process, each under its own convolution settings, give exactly what each gives alone.
final class EngineSettingsTests: XCTestCase {
    /// Winograd F(4x4) on every 3x3 layer (thresholds lowered for small shapes), its GEMMs and the
    /// unfolded groups split across two workers.
    private static let winograd = EngineSettings().with {
        ($0.winograd.minimumChannels, $0.winograd.minimumOutputPixels, $0.winograd.minimumWeightGradientPixels) = (8, 1, 1)
        $0.winograd.variant = .f4x4
        $0.workers = 2
        $0.convolution.minimumWorkerColumns = 1
        $0.minimumWorkPerChunk = 64
    }
    /// The unfold + GEMM path one image at a time on one worker, input gradients by fold.
    private static let direct = EngineSettings().with {
        $0.winograd.enabled = false
        $0.workers = 1
        $0.convolution.transposedInputGradient = false
        $0.convolution.workspaceLimit = 8 * 9 * 12 * 12  // one image of the widest unfold
    }

    /// Losses of ten SGD steps and the weights after them.
    private struct Run: Equatable {
        var losses: [Float]
        var weights: [[Float]]
    }

    /// Ten steps of a small 3x3 network on fixed data, under whatever settings are current.
    private static func train() -> Run {
        var random = SeededRandom(seed: 40)
        let images = 4
        let input = Tensor(shape: [8, images, 12, 12], scalars: (0..<(8 * images * 144)).map { _ in random.nextNormal() })
        let targets = Tensor(shape: [17, images], scalars: (0..<(17 * images)).map { _ in random.nextUniform() < 0.3 ? 1 : 0 })
        let model = Sequential([
            Convolution2D(8, 16, kernel: 3, padding: 1, bias: false, random: &random), BatchNorm(channels: 16), ReLU(),
            Convolution2D(16, 16, kernel: 3, padding: 1, random: &random), ReLU(),
            AdaptiveAvgPool2D(1, 1), Flatten(), Linear(16, 17, random: &random),
        ])
        let optimizer = SGD(learningRate: 0.05, momentum: 0.9)
        var losses: [Float] = []
        for _ in 0..<10 {
            let logits = model.forward(input, mode: .training)
            // Squared error: the test is about the convolutions, not the loss.
            var loss: Float = 0
            let gradient = Tensor(shape: logits.shape, scalars: zip(logits.scalars, targets.scalars).map { logit, target in
                loss += (logit - target) * (logit - target) / Float(logits.count)
                return 2 * (logit - target) / Float(logits.count)
            })
            model.zeroGradients()
            _ = model.backward(gradient)
            optimizer.step(model.namedParameters)
            losses.append(loss)
        }
        return Run(losses: losses, weights: model.parameters.map(\.value.scalars))
    }

    func testTwoNetworksTrainingAtOnceUnderDifferentSettingsEachGiveWhatTheyGiveAlone() {
        let aloneWinograd = EngineSettings.with(Self.winograd) { Self.train() }
        let aloneDirect = EngineSettings.with(Self.direct) { Self.train() }
        // The settings choose different paths: the same curve within rounding, not bit for bit.
        XCTAssertNotEqual(aloneWinograd, aloneDirect)
        for (a, b) in zip(aloneWinograd.losses, aloneDirect.losses) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b))) }

        for _ in 0..<2 {
            let results = Mutex<[String: Run]>([:])
            let finished = DispatchGroup()
            for (name, settings) in [("winograd", Self.winograd), ("direct", Self.direct)] {
                finished.enter()
                Thread {
                    let run = EngineSettings.with(settings) { Self.train() }
                    results.withLock { $0[name] = run }
                    finished.leave()
                }.start()
            }
            finished.wait()
            let together = results.withLock { $0 }
            XCTAssertEqual(together["winograd"], aloneWinograd, "Winograd network trained beside the other")
            XCTAssertEqual(together["direct"], aloneDirect, "direct network trained beside the other")
        }
        // Outside any scope: the defaults.
        XCTAssertEqual(EngineSettings.current, EngineSettings())
    }

    /// Work split over Dispatch's threads runs under the caller's settings, not the defaults.
    func testParallelChunksRunUnderTheCallersSettings() {
        let seen = Mutex<[Int]>([])
        EngineSettings.adjusting({ ($0.workers, $0.minimumWorkPerChunk, $0.convolution.workspaceLimit) = (3, 1, 12_345) }) {
            Parallel.forEachChunk(3) { _ in
                let limit = EngineSettings.current.convolution.workspaceLimit
                seen.withLock { $0.append(limit) }
            }
        }
        XCTAssertEqual(seen.withLock { $0 }, [12_345, 12_345, 12_345])
    }
}
