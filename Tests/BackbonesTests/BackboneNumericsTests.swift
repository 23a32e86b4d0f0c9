import Backbones
import Foundation
import NN
import Tensor
import XCTest

/// Every backbone in the registry against torchvision's own model code, with no weight files: both
/// sides fill every parameter and buffer by the same formula of its state_dict name and element index
/// (Fixtures/make_backbone_numerics.py, which wrote backbone_numerics.json with PyTorch 2.15 and
/// torchvision 0.29), run the same 2 x 3 x 64 x 80 input in eval mode and must agree on the 17 logits
/// within 1e-4 of the largest. A stride, a padding, a branch order or a pooling that is wrong but keeps
/// the parameter count changes the logits; each top-level stage's output shape names where.
final class BackboneNumericsTests: XCTestCase {
    struct Fixture: Decodable {
        struct Model: Decodable {
            let input_shape: [Int]
            let parameters: Int
            let stage_shapes: [String: [Int]]
            let logits: [[Double]]
        }
        let models: [String: Model]
    }

    static let fixture: Fixture = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/backbone_numerics.json")
        // A missing or malformed fixture is a broken checkout: fail loudly.
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    func testTheFixtureCoversEveryRegistryName() {
        XCTAssertEqual(Set(Self.fixture.models.keys), Set(BackboneRegistry.names))
    }

    func testLeNetAndAlexNetGiveTorchvisionsLogits() throws {
        try check(["lenet5", "alexnet", "alexnet_lrn"])
    }

    /// On the direct convolution path: Winograd's transforms of VGG's wide layers take 10 s a model in
    /// a debug build (ConvolutionTests checks Winograd against the direct path; this checks structure).
    func testVGGGivesTorchvisionsLogits() throws {
        try EngineSettings.adjusting({ $0.winograd.enabled = false }) {
            try check(["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"])
        }
    }

    func testResNetGivesTorchvisionsLogits() throws {
        try check(["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"])
    }

    func testGoogLeNetGivesTorchvisionsLogits() throws {
        try check(["googlenet"])
    }

    private func check(_ names: [String]) throws {
        var fill = FormulaFill()  // one family's models share names and shapes (VGG's classifier): made once
        for name in names {
            let expected = try XCTUnwrap(Self.fixture.models[name], name)
            let shape = expected.input_shape  // [N, C, H, W], as PyTorch holds it
            let (n, c) = (shape[0], shape[1])
            // Canopy's input is feature-major [C, N, H, W]; the formula is of PyTorch's flat index.
            let input = fill.tensor(name: "input", shape: shape, kind: .input).swappingLeadingAxes()
            var random = SeededRandom.skippingWeightInitialization(seed: 1)
            let model = try XCTUnwrap(BackboneRegistry.make(name, bands: c, classes: 17, random: &random), name)
            XCTAssertEqual(model.parameterCount, expected.parameters, "\(name): parameters, torchvision's count")
            fill.fill(model)

            // Stage by stage, so a wrong shape names its stage; each layer's own pass (a fused stem's
            // convolution would return the max pool's output: FusedEpilogueTests compares the two).
            var x = input
            EngineSettings.adjusting({ $0.fusedInferenceEpilogues = false }) {
                for (stage, layer) in (model as? Sequential)?.namedChildren ?? [] {
                    x = layer.forward(x, mode: .inference)
                    if let torchShape = expected.stage_shapes[stage] {
                        let canopyShape = x.rank == 4 ? [x.shape[1], x.shape[0], x.shape[2], x.shape[3]] : x.shape.reversed()
                        XCTAssertEqual(canopyShape, torchShape, "\(name): output shape of \(stage)")
                    }
                }
            }
            XCTAssertEqual(x.shape, [17, n], name)
            let logits = x.transposed().scalars  // [N, 17]
            let reference = expected.logits.flatMap { $0 }
            XCTAssertEqual(logits.count, reference.count, name)
            let scale = reference.map(abs).max() ?? 1
            let error = zip(logits, reference).map { abs(Double($0) - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(error / scale, 1e-4, "\(name): logits differ from torchvision's by \(error / scale) of the largest")
        }
    }
}

/// The formula Fixtures/make_backbone_numerics.py fills torchvision's models with (see its docstring),
/// each tensor made once per (name, shape).
struct FormulaFill {
    enum Kind { case weight, small, unit, input }
    private var made: [String: Tensor] = [:]

    mutating func tensor(name: String, shape: [Int], kind: Kind) -> Tensor {
        let key = "\(name) \(shape)"
        if let tensor = made[key] { return tensor }
        let tensor = Tensor(shape: shape, scalars: Self.values(name: name, count: shape.reduce(1, *), kind: kind, shape: shape))
        made[key] = tensor
        return tensor
    }

    static func fnv1a(_ name: String) -> UInt32 {
        name.utf8.reduce(UInt32(0x811C_9DC5)) { ($0 ^ UInt32($1)) &* 0x0100_0193 }
    }

    static func values(name: String, count: Int, kind: Kind, shape: [Int]) -> [Float] {
        let scale: Double, offset: Double
        switch kind {
        case .weight: scale = (24.0 / Double(shape.dropFirst().reduce(1, *))).squareRoot(); offset = 0
        case .small: scale = 0.2; offset = 0
        case .unit: scale = 0.5; offset = 1
        case .input: scale = 2; offset = 0
        }
        let h = fnv1a(name)
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            var x0 = h
            for i in 0..<count {
                var x = x0
                x ^= x >> 16
                x = x &* 0x7FEB_352D
                x ^= x >> 15
                x = x &* 0x846C_A68B
                x ^= x >> 16
                buffer[i] = Float(offset + scale * (Double(x) / 4_294_967_296.0 - 0.5))
                x0 = x0 &+ 0x9E37_79B1
            }
            initialized = count
        }
    }

    /// Overwrites every parameter and buffer of `model` (num_batches_tracked excepted) by the formula.
    mutating func fill(_ model: Layer) {
        let entries = model.state(prefix: "")
        let batchNorms = Set(entries.compactMap { $0.name.hasSuffix(".running_var") ? String($0.name.dropLast(".running_var".count)) : nil })
        for (name, entry) in entries where !name.hasSuffix("num_batches_tracked") {
            let shape: [Int]
            switch entry {
            case .parameter(let p): shape = p.value.shape
            case .buffer(let b): shape = b.value.shape
            }
            let module = name.split(separator: ".").dropLast().joined(separator: ".")
            let kind: Kind = shape.count >= 2 ? .weight
                : batchNorms.contains(module) && (name.hasSuffix(".weight") || name.hasSuffix(".running_var")) ? .unit : .small
            let tensor = tensor(name: name, shape: shape, kind: kind)
            switch entry {
            case .parameter(let p): p.value = tensor
            case .buffer(let b): b.value = tensor
            }
        }
    }
}
