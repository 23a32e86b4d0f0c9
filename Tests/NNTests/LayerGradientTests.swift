import NN
import Tensor
import XCTest

/// Finite-difference checks of every layer's backward pass, for its input and its parameters, and of
/// both losses. Objective f = Σ r·layer(x) for a fixed random r; numeric derivative by central
/// differences with ε = 1e-2 in Float32, f accumulated in Double. Tolerance 1e-2 relative
/// (|analytic − numeric| / max(|analytic|, |numeric|, 1e-2)): Float32 rounding over a difference of
/// 2ε leaves about 1e-4 absolute noise per coordinate, the curvature of smooth layers ~ε² more.
final class LayerGradientTests: XCTestCase {
    private var random = SeededRandom(seed: 2026)

    private func randomTensor(_ shape: [Int], scale: Float = 1) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in random.nextNormal() * scale })
    }

    /// Values a shuffled arithmetic sequence apart by `spacing`, none near zero: central differences
    /// never cross a ReLU or max-pool kink.
    private func separatedTensor(_ shape: [Int], spacing: Float = 0.05) -> Tensor {
        let count = shape.reduce(1, *)
        var values = (0..<count).map { Float($0 - count / 2) * spacing + spacing / 2 }
        values.shuffle(using: &random)
        return Tensor(shape: shape, scalars: values)
    }

    private func check(_ layer: Layer, input: Tensor, epsilon: Float = 1e-2, tolerance: Float = 1e-2, samples: Int = 30,
                       _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        let output = layer.forward(input, mode: .training)
        let upstream = randomTensor(output.shape)
        layer.zeroGradients()
        let inputGradient = layer.backward(upstream)
        let parameterGradients = layer.parameters.map(\.gradient)

        func objective(_ x: Tensor) -> Double {
            let y = layer.forward(x, mode: .training)
            return zip(y.scalars, upstream.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        var worst: (error: Float, what: String) = (0, "")
        func compare(_ analytic: Float, _ numeric: Float, _ what: String) {
            let error = abs(analytic - numeric) / max(abs(analytic), abs(numeric), 1e-2)
            if error > worst.error { worst = (error, "\(what): analytic \(analytic), numeric \(numeric)") }
        }
        for index in sampleIndices(input.count, samples) {
            var plus = input, minus = input
            plus.scalars[index] += epsilon
            minus.scalars[index] -= epsilon
            compare(inputGradient.scalars[index], Float((objective(plus) - objective(minus)) / Double(2 * epsilon)), "input[\(index)]")
        }
        for (p, parameter) in layer.parameters.enumerated() {
            for index in sampleIndices(parameter.value.count, samples) {
                let original = parameter.value.scalars[index]
                parameter.value.scalars[index] = original + epsilon
                let up = objective(input)
                parameter.value.scalars[index] = original - epsilon
                let down = objective(input)
                parameter.value.scalars[index] = original
                compare(parameterGradients[p].scalars[index], Float((up - down) / Double(2 * epsilon)), "parameter \(p)[\(index)]")
            }
        }
        print("gradient \(label): max relative error \(worst.error) (\(worst.what))")
        XCTAssertLessThan(worst.error, tolerance, "\(label): \(worst.what)", file: file, line: line)
    }

    private func sampleIndices(_ count: Int, _ samples: Int) -> [Int] {
        count <= samples ? Array(0..<count) : (0..<samples).map { _ in Int(random.next() % UInt64(count)) }
    }

    func testConvolutions() {
        for (label, g, h, w, bias) in [
            ("3x3/1 pad 1", ConvolutionGeometry(inChannels: 3, outChannels: 4, kernel: 3, stride: 1, padding: 1), 6, 5, true),
            ("3x3/2 pad 1", ConvolutionGeometry(inChannels: 2, outChannels: 3, kernel: 3, stride: 2, padding: 1), 7, 7, false),
            ("1x1", ConvolutionGeometry(inChannels: 4, outChannels: 3, kernel: 1), 4, 4, true),
            ("1x1/2", ConvolutionGeometry(inChannels: 3, outChannels: 2, kernel: 1, stride: 2), 5, 5, false),
            ("5x5/2 pad 2", ConvolutionGeometry(inChannels: 2, outChannels: 2, kernel: 5, stride: 2, padding: 2), 7, 9, true),
            ("11x11/4 pad 2", ConvolutionGeometry(inChannels: 2, outChannels: 2, kernel: 11, stride: 4, padding: 2), 15, 15, true),
        ] {
            check(Convolution2D(g, bias: bias, random: &random), input: randomTensor([g.inChannels, 2, h, w]), "conv \(label)")
        }
    }

    func testBatchNormOnMapsAndVectors() {
        let maps = BatchNorm(channels: 3)
        maps.weight.value = randomTensor([3])
        maps.bias.value = randomTensor([3])
        check(maps, input: randomTensor([3, 2, 3, 3]), "batch norm [C, N, H, W]")
        check(BatchNorm(channels: 4), input: randomTensor([4, 5]), "batch norm [F, N]")
    }

    func testLinearAndActivations() {
        check(Linear(5, 3, random: &random), input: randomTensor([5, 4]), "linear")
        check(ReLU(), input: separatedTensor([3, 2, 3, 3]), "relu")
        check(Sigmoid(), input: randomTensor([4, 3], scale: 2), "sigmoid")
        check(Flatten(), input: randomTensor([3, 2, 2, 3]), "flatten")
    }

    func testLocalResponseNorm() {
        check(LocalResponseNorm(.init(size: 5, alpha: 0.5, beta: 0.75, k: 2)), input: randomTensor([7, 2, 2, 2]), "LRN size 5")
        check(LocalResponseNorm(.init(size: 4, alpha: 0.5, beta: 0.75, k: 1)), input: randomTensor([6, 2, 2, 2]), "LRN size 4")
    }

    func testPooling() {
        check(MaxPool2D(kernel: 3, stride: 2), input: separatedTensor([2, 2, 7, 7]), "max pool 3/2")
        check(MaxPool2D(kernel: 3, stride: 2, padding: 1), input: separatedTensor([2, 2, 6, 6]), "max pool 3/2 pad 1")
        check(MaxPool2D(kernel: 3, stride: 2, ceilMode: true), input: separatedTensor([2, 2, 8, 8]), "max pool 3/2 ceil")
        check(AvgPool2D(kernel: 3, stride: 1, padding: 1), input: randomTensor([2, 2, 5, 4]), "avg pool include pad")
        check(AvgPool2D(kernel: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false), input: randomTensor([2, 2, 6, 7]),
              "avg pool ceil exclude pad")
        check(AdaptiveAvgPool2D(1, 1), input: randomTensor([3, 2, 4, 3]), "global average pool")
        check(AdaptiveAvgPool2D(3, 3), input: randomTensor([2, 2, 7, 5]), "adaptive average pool 7x5 → 3x3")
    }

    func testContainers() {
        let network = Sequential([
            Convolution2D(2, 3, kernel: 3, padding: 1, random: &random), BatchNorm(channels: 3), ReLU(),
            MaxPool2D(kernel: 2), Flatten(), Linear(3 * 2 * 2, 4, random: &random),
        ])
        // Perturbing a conv weight moves every value after batch norm, so with ε = 1e-2 some cross a
        // ReLU or max-pool kink (relative error 0.26 seen); ε = 1e-3 stays clear of them.
        check(network, input: randomTensor([2, 3, 4, 4]), epsilon: 1e-3, tolerance: 2e-2, "sequential conv-bn-relu-pool-linear")
        let inception = ConcatenatedBranches(named: [
            ("branch1", Convolution2D(3, 2, kernel: 1, random: &random)),
            ("branch2", Sequential([Convolution2D(3, 4, kernel: 3, padding: 1, random: &random), Sigmoid()])),
        ])
        check(inception, input: randomTensor([3, 2, 4, 4]), "concatenated branches")
        check(Residual(body: Sequential([Convolution2D(3, 3, kernel: 3, padding: 1, random: &random), Sigmoid()])),
              input: randomTensor([3, 2, 4, 4]), "residual, identity shortcut")
        check(Residual(body: Convolution2D(3, 4, kernel: 3, stride: 2, padding: 1, random: &random),
                       shortcut: Sequential([Convolution2D(3, 4, kernel: 1, stride: 2, random: &random), BatchNorm(channels: 4)])),
              input: randomTensor([3, 2, 5, 5]), "residual, projection shortcut")
        // A residual block's sum and ReLU, computed in one pass.
        check(Residual(body: Sequential([Convolution2D(3, 3, kernel: 3, padding: 1, random: &random), BatchNorm(channels: 3)]),
                       activation: ReLU()),
              input: randomTensor([3, 2, 4, 4]), epsilon: 1e-3, tolerance: 2e-2, "residual with its ReLU")
        // Batch norm with the ReLU after it fused in.
        let fused = Sequential([
            Convolution2D(2, 3, kernel: 3, padding: 1, random: &random), BatchNorm(channels: 3), ReLU(), Flatten(),
            Linear(3 * 4 * 4, 4, random: &random),
        ])
        fuseBatchNormReLU(in: fused)
        XCTAssertTrue((fused.children[1].layer as! BatchNorm).appliesReLU)
        check(fused, input: randomTensor([2, 3, 4, 4]), epsilon: 1e-3, tolerance: 2e-2, "sequential conv-bn+relu (fused)-linear")
    }

    /// Fusing changes no number: the same network with batch norm and ReLU fused and apart gives the
    /// same outputs (training and inference) and the same gradients, to the last bit.
    func testFusedBatchNormReLUMatchesTheSeparateLayers() {
        func network() -> Sequential {
            var random = SeededRandom(seed: 7)
            return Sequential([
                Convolution2D(3, 8, kernel: 3, padding: 1, random: &random), BatchNorm(channels: 8), ReLU(),
                Convolution2D(8, 8, kernel: 3, padding: 1, random: &random), BatchNorm(channels: 8), ReLU(),
            ])
        }
        let apart = network(), fused = network()
        fuseBatchNormReLU(in: fused)
        XCTAssertEqual(fused.children.compactMap { ($0.layer as? ReLU)?.isFused }, [true, true])
        let x = randomTensor([3, 4, 6, 6]), upstream = randomTensor([8, 4, 6, 6])
        XCTAssertEqual(fused.forward(x, mode: .training), apart.forward(x, mode: .training))
        XCTAssertEqual(fused.backward(upstream), apart.backward(upstream))
        for (a, b) in zip(fused.parameters, apart.parameters) { XCTAssertEqual(a.gradient, b.gradient) }
        XCTAssertEqual(fused.forward(x, mode: .inference), apart.forward(x, mode: .inference))
    }

    func testDropoutRoutesGradientThroughItsMask() {
        let dropout = Dropout(probability: 0.4, random: &random)
        let x = separatedTensor([4, 50])
        let y = dropout.forward(x, mode: .training)
        let dx = dropout.backward(Tensor(shape: x.shape, repeating: 1))
        for i in 0..<x.count { XCTAssertEqual(dx.scalars[i], y.scalars[i] / x.scalars[i], accuracy: 1e-5) }
        let kept = dx.scalars.filter { $0 != 0 }
        XCTAssertTrue(kept.allSatisfy { abs($0 - 1 / 0.6) < 1e-5 })
        XCTAssertEqual(Float(kept.count) / Float(x.count), 0.6, accuracy: 0.1)
        XCTAssertEqual(dropout.forward(x, mode: .inference), x)
    }

    func testLosses() {
        let logits = randomTensor([5, 4], scale: 3)
        var targets = Tensor(shape: [5, 4])
        for i in 0..<targets.count { targets.scalars[i] = random.nextUniform() < 0.4 ? 1 : 0 }
        targets.scalars[0] = 1
        var extreme = logits
        extreme.scalars[0] = 40
        extreme.scalars[1] = -40
        let weights: [Float] = [1, 2, 0.5, 3, 1]
        let losses: [(String, Tensor, (Tensor) -> (loss: Float, gradient: Tensor))] = [
            ("bce", logits, { Loss.binaryCrossEntropy(logits: $0, targets: targets) }),
            ("bce positive weights", logits, { Loss.binaryCrossEntropy(logits: $0, targets: targets, positiveWeights: weights) }),
            ("bce extreme logits", extreme, { Loss.binaryCrossEntropy(logits: $0, targets: targets) }),
            ("soft F2", logits, { Loss.softF2(logits: $0, targets: targets) }),
        ]
        for (label, input, loss) in losses {
            let (value, gradient) = loss(input)
            XCTAssertTrue(value.isFinite, label)
            var worst: Float = 0
            for index in 0..<input.count {
                var plus = input, minus = input
                plus.scalars[index] += 1e-2
                minus.scalars[index] -= 1e-2
                let numeric = (Double(loss(plus).loss) - Double(loss(minus).loss)) / 2e-2
                let error = abs(gradient.scalars[index] - Float(numeric)) / max(abs(gradient.scalars[index]), abs(Float(numeric)), 1e-2)
                worst = max(worst, error)
            }
            print("gradient loss \(label): max relative error \(worst)")
            XCTAssertLessThan(worst, 2e-2, label)
        }
    }
}

final class InputGradientSkipTests: XCTestCase {
    /// A first layer that skips its input gradient still accumulates exactly the same weight gradients.
    func testSkippingTheInputGradientKeepsWeightGradients() {
        for (stride, kernel, padding) in [(1, 3, 1), (2, 3, 1), (2, 7, 3), (1, 1, 0)] {
            var random = SeededRandom(seed: 12)
            let full = Convolution2D(3, 4, kernel: kernel, stride: stride, padding: padding, random: &random)
            random = SeededRandom(seed: 12)
            let skipping = Convolution2D(3, 4, kernel: kernel, stride: stride, padding: padding, random: &random)
            skipping.computesInputGradient = false
            let x = Tensor(shape: [3, 2, 9, 9], scalars: (0..<(3 * 2 * 81)).map { _ in random.nextNormal() })
            let dy = Activation.map(full.forward(x, mode: .training)) { $0 * 0.5 }
            _ = skipping.forward(x, mode: .training)
            let dx = full.backward(dy)
            XCTAssertEqual(dx.shape, x.shape)
            XCTAssertEqual(skipping.backward(dy).count, 0)
            XCTAssertEqual(skipping.weight.gradient, full.weight.gradient, "stride \(stride), kernel \(kernel)")
            XCTAssertEqual(skipping.bias!.gradient, full.bias!.gradient)
        }
    }
}
