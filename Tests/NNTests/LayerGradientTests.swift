import NN
import Tensor
import XCTest

/// Finite-difference checks of every layer's backward pass, for its input and its parameters, of
/// containers and small networks, and of both losses.
///
/// Objective f = Σ r·layer(x) for a fixed random r (linear in the output, so its curvature is the
/// layer's), summed in Double. The engine computes in Float32, which leaves f about 1e-7 relative
/// noise, so the step is not small: ε = 2⁻⁷, a power of two (x ± kε is exact unless it crosses one).
/// Where f is linear along each coordinate (convolutions, linear layers, average pools, containers of
/// them; a ReLU or max pool fed `separatedTensor`) the derivative is the central difference
/// (f(x+ε) − f(x−ε)) / 2ε, exact but for rounding; elsewhere the five-point stencil
/// (8(f(x+ε) − f(x−ε)) − (f(x+2ε) − f(x−2ε))) / 12ε, truncation error O(ε⁴) (the central difference's
/// ε²f‴/6 reached 4e-3 of a weight gradient before a batch norm over 18 values).
///
/// The measure, per tensor (the input, each parameter): ‖numeric − analytic‖ / ‖analytic‖ over the
/// sampled coordinates, below 3e-3. A gradient 1% off gives 9.9e-3; correct code, over 100 seeds, a
/// median of 6e-6 and at most 7e-4, but for one input gradient at 2e-3 (kinks, below). (The per-element
/// |a − n| / max(|a|, |n|, 1e-2) < 1e-2, 2e-2 for networks, used before let a 1% error through: 0.0099.)
/// A tensor whose gradient vanishes (RMS below 1e-3 of the check's: a convolution's bias before batch
/// norm) must come out numerically below 1e-3 of the check's RMS.
///
/// Kinks: a ReLU or max-pool kink within ±2ε puts up to half its jump in slope in the stencil, and in
/// the small networks with batch norm, where one weight moves every value, most weights meet one at
/// ε = 2⁻⁷. So in layers with kinks the third and fourth differences T = f(x+2h) − 2f(x+h) + 2f(x−h) −
/// f(x−2h) and Q = f(x+2h) − 4f(x+h) + 6f(x) − 4f(x−h) + f(x−2h), O(h³) where f is smooth, bound the
/// error of one kink within ±2h by (|T| + |Q|) / 4h. The stencil at step h is taken when that bound and
/// its difference from the stencil at h/2 (which catches kinks whose T and Q cancel) are both within
/// 1.5e-3 of the tensor's gradient RMS; else h is halved (f(x ± h) and f(x ± h/2) reused), down to ε/8,
/// and then the coordinate is left out. At least a fifth of a tensor's coordinates must remain (with a
/// batch-norm output within ~1e-4 of zero, most of the input's have a kink next to them: up to 7 of 10
/// over 100 seeds).
final class LayerGradientTests: XCTestCase {
    private var random = SeededRandom(seed: 2026)

    static let tolerance = 3e-3
    static let kinkBound = 1.5e-3

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

    private static func rms(_ values: [Double]) -> Double {
        (values.reduce(0) { $0 + $1 * $1 } / Double(max(values.count, 1))).squareRoot()
    }

    /// The five-point derivative from f(x ± 2h) (`outer`) and f(x ± h) (`inner`).
    private static func stencil(outer: (Double, Double), inner: (Double, Double), _ h: Float) -> Double {
        (8 * (inner.0 - inner.1) - (outer.0 - outer.1)) / (12 * Double(h))
    }

    /// How f varies along one coordinate.
    private enum Shape { case linear, smooth, kinked }

    /// Kinked with a ReLU or a max pool inside, linear with only the layers linear in each of their
    /// inputs and parameters, else smooth.
    private static func shape(of layer: Layer) -> Shape {
        var shape = Shape.linear
        layer.forEachLayer {
            if $0.isContainer { return }
            switch $0 {
            case is ReLU, is MaxPool2D: shape = .kinked
            case is Convolution2D, is Linear, is AvgPool2D, is AdaptiveAvgPool2D, is Flatten: break
            default: if shape == .linear { shape = .smooth }
            }
        }
        return shape
    }

    /// One tensor's sampled coordinates, analytically and numerically.
    private struct Differences {
        var name: String
        /// The gradient's RMS over the sampled coordinates, or the check's where it vanishes.
        var scale: Double
        var vanishes: Bool
        var analytic: [Double] = [], numeric: [Double] = [], nearKink: [Bool] = []
    }

    /// The derivative of `objective` (`f0` at the unperturbed point) along `indices` of one tensor,
    /// `set` writing a coordinate, by the difference `shape` calls for (see the class comment).
    private func differences(_ name: String, analytic: Tensor, values: Tensor, indices: [Int], overall: Double,
                             epsilon: Float = 0x1p-7, shape: Shape, f0: Double, set: (Int, Float) -> Void,
                             objective: () -> Double) -> Differences {
        let sampled = indices.map { Double(analytic.scalars[$0]) }
        let rms = Self.rms(sampled), vanishes = rms < 1e-3 * overall
        var result = Differences(name: name, scale: vanishes ? overall : rms, vanishes: vanishes)
        for (index, gradient) in zip(indices, sampled) {
            let original = values.scalars[index]
            func f(_ step: Float) -> Double {
                set(index, original + step)
                return objective()
            }
            var numeric = 0.0, nearKink = false
            switch shape {
            case .linear:
                numeric = (f(epsilon) - f(-epsilon)) / (2 * Double(epsilon))
            case .smooth:
                numeric = Self.stencil(outer: (f(2 * epsilon), f(-2 * epsilon)), inner: (f(epsilon), f(-epsilon)), epsilon)
            case .kinked:
                // Accept the stencil at step h when (|T| + |Q|) / 4h and its change to the stencil at h/2 are
                // both within the bound; else go on with h/2, reusing f(x ± h) and f(x ± h/2).
                var h = epsilon, outer = (f(2 * h), f(-2 * h)), inner = (f(h), f(-h))
                nearKink = true
                for _ in 0..<4 {
                    let finer = (f(h / 2), f(-h / 2))
                    numeric = Self.stencil(outer: outer, inner: inner, h)
                    let third = outer.0 - 2 * inner.0 + 2 * inner.1 - outer.1
                    let fourth = outer.0 - 4 * inner.0 + 6 * f0 - 4 * inner.1 + outer.1
                    let bound = Self.kinkBound * result.scale
                    if (abs(third) + abs(fourth)) / (4 * Double(h)) <= bound,
                       abs(numeric - Self.stencil(outer: inner, inner: finer, h / 2)) <= bound {
                        nearKink = false
                        break
                    }
                    (outer, inner, h) = (inner, finer, h / 2)
                }
            }
            set(index, original)
            result.analytic.append(gradient)
            result.numeric.append(numeric)
            result.nearKink.append(nearKink)
        }
        return result
    }

    /// Asserts each tensor's error below `tolerance` (see the class comment).
    private func assess(_ tensors: [Differences], _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        for t in tensors {
            let kept = t.analytic.indices.filter { !t.nearKink[$0] }
            let left = t.analytic.count - kept.count
            XCTAssert(!kept.isEmpty && 5 * kept.count >= t.analytic.count,
                      "\(label) \(t.name): \(left) of \(t.analytic.count) near a kink", file: file, line: line)
            let error = t.vanishes ? Self.rms(kept.map { t.numeric[$0] }) / t.scale
                : Self.rms(kept.map { t.numeric[$0] - t.analytic[$0] }) / Self.rms(kept.map { t.analytic[$0] })
            print("gradient \(label) \(t.name): \(t.vanishes ? "vanishing, numeric RMS / check's RMS" : "relative error") \(error)"
                  + " over \(kept.count)\(left > 0 ? " (\(left) left out near a kink)" : "")")
            XCTAssertLessThan(error, t.vanishes ? 1e-3 : Self.tolerance, "\(label) \(t.name)", file: file, line: line)
        }
    }

    /// Checks `samples` coordinates (drawn with replacement) of the input and of each parameter; `shape`
    /// overrides the layer's (`.linear` for a ReLU or a max pool fed `separatedTensor`: no kink within ±ε).
    private func check(_ layer: Layer, input: Tensor, samples: Int = 10, shape: Shape? = nil, _ label: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        let shape = shape ?? Self.shape(of: layer)
        let output = layer.forward(input, mode: .training)
        let upstream = randomTensor(output.shape)
        layer.zeroGradients()
        let inputGradient = layer.backward(upstream)
        let parameters = layer.parameters
        let parameterGradients = parameters.map(\.gradient)
        let inputIndices = sampleIndices(input.count, samples)
        let parameterIndices = parameters.map { sampleIndices($0.value.count, samples) }
        let overall = Self.rms(inputIndices.map { Double(inputGradient.scalars[$0]) }
                               + zip(parameterGradients, parameterIndices).flatMap { g, i in i.map { Double(g.scalars[$0]) } })
        guard overall > 0 else { return XCTFail("\(label): no sampled coordinate has a gradient", file: file, line: line) }

        var x = input
        func objective() -> Double {
            let y = layer.forward(x, mode: .training)
            return zip(y.scalars, upstream.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        let f0 = objective()
        var tensors = [differences("input", analytic: inputGradient, values: input, indices: inputIndices, overall: overall,
                                   shape: shape, f0: f0, set: { x.scalars[$0] = $1 }, objective: objective)]
        for (p, parameter) in parameters.enumerated() {
            tensors.append(differences("parameter \(p)", analytic: parameterGradients[p], values: parameter.value,
                                       indices: parameterIndices[p], overall: overall, shape: shape, f0: f0,
                                       set: { parameter.value.scalars[$0] = $1 }, objective: objective))
        }
        assess(tensors, label, file: file, line: line)
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
        check(ReLU(), input: separatedTensor([3, 2, 3, 3]), shape: .linear, "relu")
        check(Sigmoid(), input: randomTensor([4, 3], scale: 2), "sigmoid")
        check(Flatten(), input: randomTensor([3, 2, 2, 3]), "flatten")
    }

    func testLocalResponseNorm() {
        check(LocalResponseNorm(.init(size: 5, alpha: 0.5, beta: 0.75, k: 2)), input: randomTensor([7, 2, 2, 2]), "LRN size 5")
        check(LocalResponseNorm(.init(size: 4, alpha: 0.5, beta: 0.75, k: 1)), input: randomTensor([6, 2, 2, 2]), "LRN size 4")
    }

    func testPooling() {
        check(MaxPool2D(kernel: 3, stride: 2), input: separatedTensor([2, 2, 7, 7]), samples: 48, shape: .linear, "max pool 3/2")
        check(MaxPool2D(kernel: 3, stride: 2, padding: 1), input: separatedTensor([2, 2, 6, 6]), samples: 48, shape: .linear,
              "max pool 3/2 pad 1")
        check(MaxPool2D(kernel: 3, stride: 2, ceilMode: true), input: separatedTensor([2, 2, 8, 8]), samples: 48, shape: .linear,
              "max pool 3/2 ceil")
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
        // Perturbing a conv weight moves every value after batch norm, so many weights have a ReLU or
        // max-pool kink within ±2ε: the check halves ε for them (see the class comment).
        check(network, input: randomTensor([2, 3, 4, 4]), "sequential conv-bn-relu-pool-linear")
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
              input: randomTensor([3, 2, 4, 4]), "residual with its ReLU")
        // Batch norm with the ReLU after it fused in.
        let fused = Sequential([
            Convolution2D(2, 3, kernel: 3, padding: 1, random: &random), BatchNorm(channels: 3), ReLU(), Flatten(),
            Linear(3 * 4 * 4, 4, random: &random),
        ])
        fuseBatchNormReLU(in: fused)
        XCTAssertTrue((fused.children[1] as! BatchNorm).appliesReLU)
        check(fused, input: randomTensor([2, 3, 4, 4]), "sequential conv-bn+relu (fused)-linear")
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
        XCTAssertEqual(fused.children.compactMap { ($0 as? ReLU)?.isFused }, [true, true])
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
        // Mixup's targets: anywhere in [0, 1].
        let soft = Tensor(shape: [5, 4], scalars: (0..<20).map { _ in random.nextUniform() })
        let losses: [(String, Tensor, (Tensor) -> (loss: Float, gradient: Tensor))] = [
            ("bce", logits, { BinaryCrossEntropy().lossAndGradient(logits: $0, targets: targets) }),
            ("bce positive weights", logits, { BinaryCrossEntropy(positiveWeights: weights).lossAndGradient(logits: $0, targets: targets) }),
            ("bce extreme logits", extreme, { BinaryCrossEntropy().lossAndGradient(logits: $0, targets: targets) }),
            ("soft F2", logits, { SoftF2().lossAndGradient(logits: $0, targets: targets) }),
            ("weighted sum", logits, { WeightedLossSum([(weight: 0.3, loss: BinaryCrossEntropy(positiveWeights: weights)), (weight: 0.7, loss: SoftF2())])
                .lossAndGradient(logits: $0, targets: targets) }),
            ("mean", logits, { WeightedLossSum.mean([BinaryCrossEntropy(), SoftF2()]).lossAndGradient(logits: $0, targets: targets) }),
            ("bce label smoothing", logits, { LabelSmoothing(epsilon: 0.1, BinaryCrossEntropy(positiveWeights: weights))
                .lossAndGradient(logits: $0, targets: targets) }),
            ("bce label smoothing extreme logits", extreme, { LabelSmoothing(epsilon: 0.3, BinaryCrossEntropy()).lossAndGradient(logits: $0, targets: targets) }),
            ("bce soft targets", logits, { BinaryCrossEntropy(positiveWeights: weights).lossAndGradient(logits: $0, targets: soft) }),
            ("soft F2 soft targets", logits, { SoftF2().lossAndGradient(logits: $0, targets: soft) }),
            ("mean smoothed bce, soft targets", logits, { WeightedLossSum.mean([LabelSmoothing(epsilon: 0.1, BinaryCrossEntropy(positiveWeights: weights)),
                                                                                SoftF2()]).lossAndGradient(logits: $0, targets: soft) }),
        ]
        for (label, input, loss) in losses {
            let (value, gradient) = loss(input)
            XCTAssertTrue(value.isFinite, label)
            var x = input
            let objective = { Double(loss(x).loss) }
            assess([differences("logits", analytic: gradient, values: input, indices: Array(0..<input.count),
                                overall: Self.rms(gradient.scalars.map(Double.init)), shape: .smooth, f0: objective(),
                                set: { x.scalars[$0] = $1 }, objective: objective)], "loss \(label)")
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
