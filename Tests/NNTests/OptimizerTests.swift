import Foundation
import NN
import Tensor
import XCTest

/// Optimisers and schedules against torch.optim's own trajectories (Fixtures/optimizer_reference.json,
/// written by make_optimizer_reference.py with torch 2.15).
final class OptimizerTests: XCTestCase {
    private struct Reference: Decodable {
        struct Run: Decodable { var trajectory: [[Float]] }
        struct Plateau: Decodable { var metrics: [Float]; var rates: [Float] }
        var start: [Float]
        var gradients: [[Float]]
        var optimizers: [String: Run]
        var schedules: [String: [Float]]
        var plateau: Plateau
    }

    private let reference: Reference = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/optimizer_reference.json")
        return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }()

    private func run(_ optimizer: Optimizer) -> [[Float]] {
        let parameter = Parameter(Tensor(shape: [4], scalars: reference.start))
        return reference.gradients.map { gradient in
            parameter.gradient = Tensor(shape: [4], scalars: gradient)
            optimizer.step([("w", parameter)])
            return parameter.value.scalars
        }
    }

    private func assertTrajectory(_ name: String, _ optimizer: Optimizer, file: StaticString = #filePath, line: UInt = #line) {
        let expected = reference.optimizers[name]!.trajectory
        for (step, (actual, wanted)) in zip(run(optimizer), expected).enumerated() {
            for (a, b) in zip(actual, wanted) {
                XCTAssertEqual(a, b, accuracy: 1e-6, "\(name) step \(step + 1)", file: file, line: line)
            }
        }
    }

    func testTrajectoriesMatchTorch() {
        assertTrajectory("sgd", SGD(learningRate: 0.1))
        assertTrajectory("sgd_momentum_wd", SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01))
        assertTrajectory("sgd_nesterov", SGD(learningRate: 0.05, momentum: 0.8, nesterov: true))
        assertTrajectory("adam", Adam(learningRate: 0.01))
        assertTrajectory("adam_l2", Adam(learningRate: 0.01, weightDecay: 0.1))
        assertTrajectory("adamw", Adam.adamW(learningRate: 0.01, weightDecay: 0.1))
    }

    /// Adam's step runs eight lanes at a time, split over workers, with a scalar tail: every element
    /// gets the bits of the plain one-element-at-a-time formula (Adam, Adam with L2, AdamW), so a
    /// faster optimiser changes no training run.
    func testAdamLanesGiveTheScalarFormulasBits() {
        let count = 1003  // 125 groups of eight and a tail of three, in two chunks
        var random = SeededRandom(seed: 5)
        let start = (0..<count).map { _ in random.nextNormal() }
        let gradients = (0..<4).map { _ in (0..<count).map { _ in random.nextNormal() * 0.1 } }
        let settings = EngineSettings().with { ($0.workers, $0.minimumWorkPerChunk) = (2, 64) }
        for (lr, wd, decoupled) in [(Float(0.01), Float(0), false), (0.01, 0.1, false), (0.003, 0.05, true)] {
            let parameter = Parameter(Tensor(shape: [count], scalars: start))
            let adam = Adam(learningRate: lr, weightDecay: wd, decoupledWeightDecay: decoupled)
            var theta = start, m = [Float](repeating: 0, count: count), v = m
            for (t, gradient) in gradients.enumerated() {
                parameter.gradient = Tensor(shape: [count], scalars: gradient)
                EngineSettings.with(settings) { adam.step([("w", parameter)]) }
                let correction1 = Float(1 - pow(Double(Float(0.9)), Double(t + 1)))
                let correction2Root = Float((1 - pow(Double(Float(0.999)), Double(t + 1))).squareRoot())
                for i in 0..<count {
                    var g = gradient[i]
                    if decoupled { theta[i] *= 1 - lr * wd } else { g += wd * theta[i] }
                    m[i] = 0.9 * m[i] + (1 - 0.9) * g
                    v[i] = 0.999 * v[i] + (1 - 0.999) * g * g
                    theta[i] -= lr / correction1 * m[i] / (v[i].squareRoot() / correction2Root + 1e-8)
                }
                XCTAssertEqual(parameter.value.scalars, theta, "lr \(lr) wd \(wd) decoupled \(decoupled) step \(t + 1)")
            }
        }
    }

    func testStateRoundTripContinuesIdentically() throws {
        for make in [{ SGD(learningRate: 0.1, momentum: 0.9) as Optimizer }, { Adam.adamW() as Optimizer }] {
            let a = make(), b = make()
            let pa = Parameter(Tensor(shape: [4], scalars: reference.start))
            pa.gradient = Tensor(shape: [4], scalars: reference.gradients[0])
            a.step([("w", pa)])
            let state = a.exportState()
            try b.importState(tensors: state.tensors, step: state.step)
            let pb = Parameter(pa.value)
            for p in [pa, pb] { p.gradient = Tensor(shape: [4], scalars: reference.gradients[1]) }
            a.step([("w", pa)])
            b.step([("w", pb)])
            XCTAssertEqual(pa.value.scalars, pb.value.scalars)
        }
        XCTAssertThrowsError(try SGD(learningRate: 1).importState(tensors: ["w.exp_avg": Tensor(shape: [1])], step: 1))
    }

    func testGradientClippingByGlobalNorm() {
        let a = Parameter(Tensor(shape: [2])), b = Parameter(Tensor(shape: [1]))
        a.gradient = Tensor(shape: [2], scalars: [3, 0])
        b.gradient = Tensor(shape: [1], scalars: [4])
        XCTAssertEqual(clipGradients([a, b], maxNorm: 10), 5, accuracy: 1e-6)
        XCTAssertEqual(a.gradient.scalars, [3, 0])  // under the bound: untouched
        XCTAssertEqual(clipGradients([a, b], maxNorm: 1), 5, accuracy: 1e-6)
        XCTAssertEqual(a.gradient.scalars[0], 0.6, accuracy: 1e-5)
        XCTAssertEqual(b.gradient.scalars[0], 0.8, accuracy: 1e-5)
    }

    func testSchedulesMatchTorch() {
        for (step, rate) in reference.schedules["one_cycle_20"]!.enumerated() {
            XCTAssertEqual(LearningRateSchedule.oneCycle(totalSteps: 20).learningRate(base: 0.1, at: step), rate, accuracy: 1e-6,
                           "one-cycle step \(step)")
        }
        for (epoch, rate) in reference.schedules["step_3_0.5"]!.enumerated() {
            XCTAssertEqual(LearningRateSchedule.step(stepSize: 3, gamma: 0.5).learningRate(base: 0.1, at: epoch), rate, accuracy: 1e-7)
        }
        var plateau = ReduceOnPlateau(learningRate: 0.1, factor: 0.5, patience: 2, cooldown: 1)
        XCTAssertEqual(reference.plateau.metrics.map { plateau.record(metric: $0) }, reference.plateau.rates)
    }

    func testCosineWithWarmup() {
        let schedule = LearningRateSchedule.cosine(warmupSteps: 10, totalSteps: 110, minimum: 0.001, warmupStartFactor: 0.1)
        XCTAssertEqual(schedule.learningRate(base: 0.1, at: 0), 0.01, accuracy: 1e-7)
        XCTAssertEqual(schedule.learningRate(base: 0.1, at: 5), 0.055, accuracy: 1e-7)
        XCTAssertEqual(schedule.learningRate(base: 0.1, at: 10), 0.1, accuracy: 1e-7)
        XCTAssertEqual(schedule.learningRate(base: 0.1, at: 60), 0.0505, accuracy: 1e-6)
        XCTAssertEqual(schedule.learningRate(base: 0.1, at: 110), 0.001, accuracy: 1e-7)
        XCTAssertEqual(schedule.learningRate(base: 0.1, at: 500), 0.001, accuracy: 1e-7)
    }

    func testInitializerStatistics() {
        func statistics(_ initializer: Initializer, shape: [Int]) -> (mean: Double, std: Double, maxAbs: Float) {
            var random = SeededRandom(seed: 5)
            var tensor = Tensor(shape: shape)
            initializer.fill(&tensor, random: &random)
            let values = tensor.scalars.map(Double.init)
            let mean = values.reduce(0, +) / Double(values.count)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
            return (mean, variance.squareRoot(), tensor.scalars.map(abs).max()!)
        }
        let shape = [64, 32, 3, 3]  // fan_in 288, fan_out 576
        let he = statistics(.heNormal(.fanIn), shape: shape)
        XCTAssertEqual(he.mean, 0, accuracy: 0.003)
        XCTAssertEqual(he.std, (2.0 / 288).squareRoot(), accuracy: 0.02 * (2.0 / 288).squareRoot())
        let heOut = statistics(.heNormal(.fanOut), shape: shape)
        XCTAssertEqual(heOut.std, (2.0 / 576).squareRoot(), accuracy: 0.02 * (2.0 / 576).squareRoot())
        let heUniform = statistics(.heUniform(.fanIn), shape: shape)
        XCTAssertLessThanOrEqual(heUniform.maxAbs, Float((6.0 / 288).squareRoot()))
        XCTAssertEqual(heUniform.std, (2.0 / 288).squareRoot(), accuracy: 0.02 * (2.0 / 288).squareRoot())
        let glorot = statistics(.glorotNormal, shape: shape)
        XCTAssertEqual(glorot.std, (2.0 / (288 + 576)).squareRoot(), accuracy: 0.02 * (2.0 / 864).squareRoot())
        let glorotUniform = statistics(.glorotUniform, shape: shape)
        XCTAssertLessThanOrEqual(glorotUniform.maxAbs, Float((6.0 / 864).squareRoot()))
        let torch = statistics(.torchDefault, shape: shape)
        XCTAssertLessThanOrEqual(torch.maxAbs, 1 / Float(288).squareRoot())
        XCTAssertEqual(torch.std, 1 / (3.0 * 288).squareRoot(), accuracy: 0.02 / (3.0 * 288).squareRoot())
        // The same seed gives the same weights.
        var r1 = SeededRandom(seed: 9), r2 = SeededRandom(seed: 9)
        var t1 = Tensor(shape: [8, 4]), t2 = Tensor(shape: [8, 4])
        Initializer.heNormal(.fanIn).fill(&t1, random: &r1)
        Initializer.heNormal(.fanIn).fill(&t2, random: &r2)
        XCTAssertEqual(t1, t2)
    }
}
