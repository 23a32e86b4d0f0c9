import Foundation
import NN
import Tensor
import XCTest

/// Canopy's kernels against PyTorch 2.15 on the cases Fixtures/make_parity_fixtures.py wrote:
/// forward outputs and every gradient within 1e-4 relative, where relative means
/// max|canopy − torch| / max|torch| over the tensor.
final class ParityTests: XCTestCase {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/parity")
    static let tolerance: Float = 1e-4

    private struct Case: Decodable {
        var name: String
        var kind: String
    }

    private func cases(_ kind: String) throws -> [(name: String, file: SafeTensorsFile)] {
        let index = try JSONDecoder().decode([Case].self, from: Data(contentsOf: Self.folder.appendingPathComponent("index.json")))
        return try index.filter { $0.kind == kind }.map {
            ($0.name, try SafeTensorsFile.read(Self.folder.appendingPathComponent($0.name + ".safetensors").path))
        }
    }

    private func tensor(_ file: SafeTensorsFile, _ name: String) -> Tensor { file.tensors[name]!.tensor }
    /// PyTorch's NCHW (or [N, F]) as Canopy's feature-major [C, N, H, W] (or [F, N]).
    private func featureMajor(_ file: SafeTensorsFile, _ name: String) -> Tensor { tensor(file, name).swappingLeadingAxes() }

    private func config(_ file: SafeTensorsFile) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(file.metadata["config"]!.utf8))) as? [String: Any] ?? [:]
    }

    private func assertMatches(_ actual: Tensor, _ expected: Tensor, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, label, file: file, line: line)
        guard actual.shape == expected.shape else { return }
        let scale = expected.scalars.map(abs).max() ?? 0
        let error = actual.maxDifference(from: expected).absolute / max(scale, 1e-12)
        print("parity \(label): relative error \(error)")
        XCTAssertLessThanOrEqual(error, Self.tolerance, label, file: file, line: line)
    }

    func testConvolution() throws {
        let all = try cases("conv2d")
        XCTAssertEqual(all.count, 7)
        for (name, file) in all {
            let c = config(file)
            let weight = tensor(file, "weight")
            let g = ConvolutionGeometry(inChannels: c["in"] as! Int, outChannels: c["out"] as! Int, kernel: c["kernel"] as! Int,
                                        stride: c["stride"] as! Int, padding: c["padding"] as! Int)
            let x = featureMajor(file, "input")
            var workspace: [Float] = []
            let bias = file.tensors["bias"]?.tensor
            let y = Convolution.forward(x, weight: weight, bias: bias, geometry: g, workspace: &workspace)
            assertMatches(y, featureMajor(file, "output"), "\(name) forward")
            var dw = Tensor(shape: weight.shape)
            var db: Tensor? = bias.map { Tensor(shape: $0.shape) }
            let dx = Convolution.backward(featureMajor(file, "upstream"), input: x, weight: weight, geometry: g,
                                          weightGradient: &dw, biasGradient: &db, workspace: &workspace)
            assertMatches(dx, featureMajor(file, "input_grad"), "\(name) input gradient")
            assertMatches(dw, tensor(file, "weight_grad"), "\(name) weight gradient")
            if let db { assertMatches(db, tensor(file, "bias_grad"), "\(name) bias gradient") }
        }
    }

    func testPooling() throws {
        for (name, file) in try cases("maxpool") {
            let c = config(file)
            let g = PoolingGeometry(kernel: c["kernel"] as! Int, stride: c["stride"] as? Int, padding: c["padding"] as! Int,
                                    ceilMode: c["ceil"] as! Bool)
            let x = featureMajor(file, "input")
            let (y, argmax) = MaxPooling.forward(x, geometry: g)
            assertMatches(y, featureMajor(file, "output"), "\(name) forward")
            let dx = MaxPooling.backward(featureMajor(file, "upstream"), argmax: argmax, inputShape: x.shape)
            assertMatches(dx, featureMajor(file, "input_grad"), "\(name) input gradient")
        }
        for (name, file) in try cases("avgpool") {
            let c = config(file)
            let g = PoolingGeometry(kernel: c["kernel"] as! Int, stride: c["stride"] as? Int, padding: c["padding"] as! Int,
                                    ceilMode: c["ceil"] as! Bool)
            let include = c["count_include_pad"] as! Bool
            let x = featureMajor(file, "input")
            assertMatches(AveragePooling.forward(x, geometry: g, countIncludePad: include), featureMajor(file, "output"), "\(name) forward")
            let dx = AveragePooling.backward(featureMajor(file, "upstream"), inputShape: x.shape, geometry: g, countIncludePad: include)
            assertMatches(dx, featureMajor(file, "input_grad"), "\(name) input gradient")
        }
        for (name, file) in try cases("adaptive_avgpool") {
            let c = config(file)
            let x = featureMajor(file, "input")
            let y = AdaptiveAveragePooling.forward(x, outputHeight: c["height"] as! Int, outputWidth: c["width"] as! Int)
            assertMatches(y, featureMajor(file, "output"), "\(name) forward")
            let dx = AdaptiveAveragePooling.backward(featureMajor(file, "upstream"), inputShape: x.shape)
            assertMatches(dx, featureMajor(file, "input_grad"), "\(name) input gradient")
        }
    }

    func testBatchNormTrainingAndInference() throws {
        for (name, file) in try cases("batchnorm") {
            let layer = BatchNorm(channels: tensor(file, "weight").count)
            layer.weight.value = tensor(file, "weight")
            layer.bias.value = tensor(file, "bias")
            layer.runningMean.value = tensor(file, "running_mean_before")
            layer.runningVariance.value = tensor(file, "running_var_before")
            let x = featureMajor(file, "input")
            assertMatches(layer.forward(x, mode: .training), featureMajor(file, "output"), "\(name) training forward")
            assertMatches(layer.runningMean.value, tensor(file, "running_mean_after"), "\(name) running mean")
            assertMatches(layer.runningVariance.value, tensor(file, "running_var_after"), "\(name) running variance")
            layer.zeroGradients()
            let dx = layer.backward(featureMajor(file, "upstream"))
            assertMatches(dx, featureMajor(file, "input_grad"), "\(name) input gradient")
            assertMatches(layer.weight.gradient, tensor(file, "weight_grad"), "\(name) weight gradient")
            assertMatches(layer.bias.gradient, tensor(file, "bias_grad"), "\(name) bias gradient")
            assertMatches(layer.forward(x, mode: .inference), featureMajor(file, "eval_output"), "\(name) inference forward")
        }
    }

    func testLocalResponseNormalization() throws {
        for (name, file) in try cases("lrn") {
            let c = config(file)
            let p = LocalResponseNormalization.Parameters(size: c["size"] as! Int, alpha: Float(c["alpha"] as! Double),
                                                          beta: Float(c["beta"] as! Double), k: Float(c["k"] as! Double))
            let x = featureMajor(file, "input")
            let (y, scale) = LocalResponseNormalization.forward(x, p)
            assertMatches(y, featureMajor(file, "output"), "\(name) forward")
            let dx = LocalResponseNormalization.backward(featureMajor(file, "upstream"), input: x, scale: scale, p)
            assertMatches(dx, featureMajor(file, "input_grad"), "\(name) input gradient")
        }
    }

    func testLinear() throws {
        let file = try XCTUnwrap(cases("linear").first).file
        let x = tensor(file, "input").transposed()
        let weight = tensor(file, "weight"), bias = tensor(file, "bias")
        assertMatches(Dense.forward(x, weight: weight, bias: bias), tensor(file, "output").transposed(), "linear forward")
        var dw = Tensor(shape: weight.shape)
        var db: Tensor? = Tensor(shape: bias.shape)
        let dx = Dense.backward(tensor(file, "upstream").transposed(), input: x, weight: weight, weightGradient: &dw, biasGradient: &db)
        assertMatches(dx, tensor(file, "input_grad").transposed(), "linear input gradient")
        assertMatches(dw, tensor(file, "weight_grad"), "linear weight gradient")
        assertMatches(db!, tensor(file, "bias_grad"), "linear bias gradient")
    }

    func testBinaryCrossEntropy() throws {
        for (name, file) in try cases("bce") {
            let logits = tensor(file, "logits").transposed(), targets = tensor(file, "targets").transposed()
            let weights = file.tensors["pos_weight"]?.tensor.scalars
            let (loss, gradient) = BinaryCrossEntropy(positiveWeights: weights).lossAndGradient(logits: logits, targets: targets)
            XCTAssertTrue(loss.isFinite)
            assertMatches(Tensor(shape: [1], scalars: [loss]), tensor(file, "loss"), "\(name) loss")
            assertMatches(gradient, tensor(file, "logits_grad").transposed(), "\(name) gradient")
        }
    }
}
