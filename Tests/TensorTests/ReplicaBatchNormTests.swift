import Foundation
import Tensor
import XCTest

/// Synchronised batch norm: two replicas, each holding half of a batch and summing with the other
/// through a rendezvous (as the ranks of `mode: data` do through an allreduce), compute what one
/// process computes on the whole batch: outputs, input gradients, running statistics, and (summed
/// over the replicas) the γ and β gradients.
final class ReplicaBatchNormTests: XCTestCase {
    /// Two threads' lists summed element-wise: each call waits for the other replica's.
    final class Rendezvous: @unchecked Sendable {
        private let condition = NSCondition()
        private var waiting: [Double]?
        private var result: [Double]?
        private var generation = 0

        func sum(_ values: inout [Double]) {
            condition.lock()
            defer { condition.unlock() }
            if let other = waiting {
                result = zip(other, values).map { $0 + $1 }
                waiting = nil
                values = result!
                generation += 1
                condition.broadcast()
            } else {
                waiting = values
                let mine = generation
                while generation == mine { condition.wait() }
                values = result!
            }
        }
    }

    final class Results: @unchecked Sendable {
        let lock = NSLock()
        var byReplica = [(y: Tensor, dx: Tensor, mean: Tensor, variance: Tensor, dGamma: Tensor, dBeta: Tensor)?](repeating: nil, count: 2)
    }

    /// Images `range` of a [C, N, H, W] tensor.
    static func images(_ x: Tensor, _ range: Range<Int>) -> Tensor {
        let (c, n, plane) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        var values: [Float] = []
        for channel in 0..<c { values += x.scalars[(channel * n + range.lowerBound) * plane..<(channel * n + range.upperBound) * plane] }
        return Tensor(shape: [c, range.count, x.shape[2], x.shape[3]], scalars: values)
    }

    func random(_ shape: [Int], _ rng: inout SeededRandom, scale: Float = 1, shift: Float = 0) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.nextNormal() * scale + shift })
    }

    func assertClose(_ a: [Float], _ b: [Float], _ tolerance: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        // Relative to the largest value: the gradients here are small numbers.
        let scale = a.map(abs).max() ?? 0
        let worst = (zip(a, b).map { abs($0 - $1) }.max() ?? 0) / max(scale, .leastNormalMagnitude)
        XCTAssertLessThan(worst, tolerance, what, file: file, line: line)
    }

    func testTwoReplicasOfHalfABatchComputeWhatOneProcessDoesOnTheWholeBatch() {
        for relu in [false, true] {
            var rng = SeededRandom(seed: 11)
            let (channels, n, h, w) = (5, 6, 3, 4)
            let x = random([channels, n, h, w], &rng, scale: 2, shift: 0.5)
            let dy = random([channels, n, h, w], &rng)
            let gamma = random([channels], &rng, shift: 1), beta = random([channels], &rng)

            var mean = Tensor(shape: [channels]), variance = Tensor(shape: [channels], repeating: 1)
            let (y, statistics) = BatchNormalization.forwardTraining(x, gamma: gamma, beta: beta, runningMean: &mean, runningVariance: &variance,
                                                                     momentum: 0.1, epsilon: 1e-5, relu: relu)
            var dGamma = Tensor(shape: [channels]), dBeta = Tensor(shape: [channels])
            let dx = BatchNormalization.backward(dy, input: x, gamma: gamma, statistics: statistics, gammaGradient: &dGamma, betaGradient: &dBeta,
                                                 reluBeta: relu ? beta : nil)

            let rendezvous = Rendezvous()
            let parts = [0..<4, 4..<6]  // unequal parts, as a batch shared by ranks can be
            let results = Results()
            DispatchQueue.concurrentPerform(iterations: 2) { replica in
                let images = Self.images
                let part = parts[replica]
                var mean = Tensor(shape: [channels]), variance = Tensor(shape: [channels], repeating: 1)
                let (y, statistics) = BatchNormalization.forwardTraining(images(x, part), gamma: gamma, beta: beta, runningMean: &mean,
                                                                         runningVariance: &variance, momentum: 0.1, epsilon: 1e-5, relu: relu,
                                                                         replicaSum: .init { rendezvous.sum(&$0) })
                var dGamma = Tensor(shape: [channels]), dBeta = Tensor(shape: [channels])
                let dx = BatchNormalization.backward(images(dy, part), input: images(x, part), gamma: gamma, statistics: statistics,
                                                     gammaGradient: &dGamma, betaGradient: &dBeta, reluBeta: relu ? beta : nil,
                                                     replicaSum: .init { rendezvous.sum(&$0) })
                results.lock.lock()
                results.byReplica[replica] = (y, dx, mean, variance, dGamma, dBeta)
                results.lock.unlock()
            }
            let images = Self.images
            let outputs = results.byReplica.map { $0!.y }, gradients = results.byReplica.map { $0!.dx }
            let running = results.byReplica.map { ($0!.mean, $0!.variance) }, parameterGradients = results.byReplica.map { ($0!.dGamma, $0!.dBeta) }
            for replica in 0..<2 {
                assertClose(outputs[replica].scalars, images(y, parts[replica]).scalars, 1e-5, "output of replica \(replica), relu \(relu)")
                assertClose(gradients[replica].scalars, images(dx, parts[replica]).scalars, 1e-5, "dx of replica \(replica), relu \(relu)")
                assertClose(running[replica].0.scalars, mean.scalars, 1e-6, "running mean")
                assertClose(running[replica].1.scalars, variance.scalars, 1e-6, "running variance (unbiased over the whole batch)")
            }
            assertClose(zip(parameterGradients[0].0.scalars, parameterGradients[1].0.scalars).map(+), dGamma.scalars, 1e-5, "dγ summed")
            assertClose(zip(parameterGradients[0].1.scalars, parameterGradients[1].1.scalars).map(+), dBeta.scalars, 1e-5, "dβ summed")
        }
    }
}
