import Backbones
import NN
import ONNX
import Tensor
import XCTest

/// An exported network read back by a minimal protobuf reader (below, independent of the writer):
/// node order, operator types, attributes, initializers and the model's header fields.
final class ONNXLoweringTests: XCTestCase {
    /// Every layer kind in one small network on 3 x 8 x 8 inputs.
    private func tinyNetwork() -> Sequential {
        var random = SeededRandom(seed: 5)
        return Sequential(named: [
            ("conv", Convolution2D(3, 4, kernel: 3, padding: 1, random: &random)),
            ("bn", BatchNorm(channels: 4)), ("relu", ReLU()), ("lrn", LocalResponseNorm()),
            // 8 → ceil((8 − 3) / 2) + 1 = 4 in ceil mode (3 without): one cell of end padding.
            ("pool", MaxPool2D(kernel: 3, stride: 2, ceilMode: true)),
            ("mix", ConcatenatedBranches(named: [
                ("a", Convolution2D(4, 2, kernel: 1, bias: false, random: &random)),
                ("b", AvgPool2D(kernel: 3, stride: 1, padding: 1)),
            ])),
            ("res", Residual(body: Sequential(named: [("conv1", Convolution2D(6, 6, kernel: 3, padding: 1, random: &random))]),
                             activation: ReLU())),
            ("avgpool", AdaptiveAvgPool2D(3, 3)),  // 4 → 3: overlapping bins
            ("flatten", Flatten()), ("dropout", Dropout(probability: 0.5, random: &random)),
            ("fc", Linear(54, 17, random: &random)),
        ])
    }

    func testATinyNetworkReadsBackWithItsNodesAttributesAndInitializers() throws {
        let network = tinyNetwork()
        let model = try ONNXLowering.model(of: network, bands: 3, inputSize: 8, outputs: 17, graphName: "tiny", producerVersion: "9.9")
        let file = Proto.parse(model.encoded())
        XCTAssertEqual(file.int(1), 8, "ir_version")
        XCTAssertEqual(file.string(2), "canopy")
        XCTAssertEqual(file.string(3), "9.9")
        let opset = try XCTUnwrap(file.message(8))
        XCTAssertEqual(opset.string(1), "")
        XCTAssertEqual(opset.int(2), 17)

        let graph = try XCTUnwrap(file.message(7))
        XCTAssertEqual(graph.string(2), "tiny")
        let nodes = graph.messages(1)
        XCTAssertEqual(nodes.map { $0.string(4) }, ["Conv", "BatchNormalization", "Relu", "LRN", "MaxPool", "Conv", "AveragePool", "Concat",
                                                    "Conv", "Add", "Relu", "MatMul", "MatMul", "Flatten", "Gemm", "Sigmoid"])
        XCTAssertEqual(nodes.map { $0.string(3) }, ["conv", "bn", "relu", "lrn", "pool", "mix.a", "mix.b", "mix.concat", "res.conv1",
                                                    "res.add", "res.out", "avgpool.columns_pooled", "avgpool", "flatten", "fc", "probabilities"])
        // Each node reads the one before (or the input, or its branch's input).
        XCTAssertEqual(nodes[0].strings(1), ["input", "conv.weight", "conv.bias"])
        XCTAssertEqual(nodes[1].strings(1), ["conv", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"])
        XCTAssertEqual(nodes[5].strings(1), ["pool", "mix.a.weight"])
        XCTAssertEqual(nodes[6].strings(1), ["pool"])
        XCTAssertEqual(nodes[7].strings(1), ["mix.a", "mix.b"])
        XCTAssertEqual(nodes[9].strings(1), ["res.conv1", "mix.concat"])
        XCTAssertEqual(nodes[11].strings(1), ["res.out", "avgpool.columns"])
        XCTAssertEqual(nodes[12].strings(1), ["avgpool.rows", "avgpool.columns_pooled"])
        XCTAssertEqual(nodes[14].strings(1), ["flatten", "fc.weight", "fc.bias"])
        XCTAssertEqual(nodes[15].strings(2), ["probabilities"])

        XCTAssertEqual(nodes[0].attributes["kernel_shape"], .ints([3, 3]))
        XCTAssertEqual(nodes[0].attributes["pads"], .ints([1, 1, 1, 1]))
        XCTAssertEqual(nodes[0].attributes["strides"], .ints([1, 1]))
        XCTAssertEqual(nodes[0].attributes["dilations"], .ints([1, 1]))
        XCTAssertEqual(nodes[0].attributes["group"], .int(1))
        XCTAssertEqual(nodes[1].attributes["epsilon"], .float(1e-5))
        XCTAssertEqual(nodes[3].attributes, ["alpha": .float(1e-4), "beta": .float(0.75), "bias": .float(2), "size": .int(5)])
        XCTAssertEqual(nodes[4].attributes, ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2]), "pads": .ints([0, 0, 1, 1]),
                                             "ceil_mode": .int(0)])
        XCTAssertEqual(nodes[6].attributes["count_include_pad"], .int(1))
        XCTAssertEqual(nodes[6].attributes["pads"], .ints([1, 1, 1, 1]))
        XCTAssertEqual(nodes[7].attributes, ["axis": .int(1)])
        XCTAssertEqual(nodes[13].attributes, ["axis": .int(1)])
        XCTAssertEqual(nodes[14].attributes, ["transB": .int(1)])

        let initializers = Dictionary(uniqueKeysWithValues: graph.messages(5).map { ($0.string(8)!, $0) })
        let expected: [String: [Int]] = [
            "conv.weight": [4, 3, 3, 3], "conv.bias": [4], "bn.weight": [4], "bn.bias": [4], "bn.running_mean": [4], "bn.running_var": [4],
            "mix.a.weight": [2, 4, 1, 1], "res.conv1.weight": [6, 6, 3, 3], "res.conv1.bias": [6],
            "avgpool.columns": [4, 3], "avgpool.rows": [3, 4], "fc.weight": [17, 54], "fc.bias": [17],
        ]
        XCTAssertEqual(Set(initializers.keys), Set(expected.keys))
        for (name, dims) in expected {
            XCTAssertEqual(initializers[name]?.ints(1), dims, name)
            XCTAssertEqual(initializers[name]?.int(2), 1, "\(name) is FLOAT")
        }
        // Weights go over as they are (PyTorch's layout is ONNX's).
        let convolution = network.namedChildren[0].layer as! Convolution2D
        XCTAssertEqual(initializers["conv.weight"]?.floats(9), convolution.weight.value.scalars)

        // Input [N, 3, 8, 8], output [N, 17], N symbolic.
        XCTAssertEqual(graph.messages(11).map { $0.string(1) }, ["input"])
        XCTAssertEqual(graph.messages(11)[0].dimensions, ["N", "3", "8", "8"])
        XCTAssertEqual(graph.messages(12).map { $0.string(1) }, ["probabilities"])
        XCTAssertEqual(graph.messages(12)[0].dimensions, ["N", "17"])
    }

    func testTheAdaptivePoolMatricesGiveCanopysBins() throws {
        // Ph · x · Pw from the exported matrices against Canopy's kernel, for shrinking and growing.
        for (size, bins) in [(4, 3), (13, 5), (2, 7), (1, 6)] {
            var random = SeededRandom(seed: 9)
            let network = Sequential(named: [("pool", AdaptiveAvgPool2D(bins, bins)), ("flatten", Flatten()),
                                             ("fc", Linear(bins * bins, 17, random: &random))])
            let graph = Proto.parse(try ONNXLowering.model(of: network, bands: 1, inputSize: size, outputs: 17, graphName: "g",
                                                           producerVersion: "0").encoded()).message(7)!
            let initializers = Dictionary(uniqueKeysWithValues: graph.messages(5).map { ($0.string(8)!, $0) })
            let columns = try XCTUnwrap(initializers["pool.columns"]?.floats(9)), rows = try XCTUnwrap(initializers["pool.rows"]?.floats(9))
            let x = Tensor(shape: [1, 1, size, size], scalars: (0..<(size * size)).map { _ in random.nextUniform() })
            let canopy = AdaptiveAveragePooling.forward(x, outputHeight: bins, outputWidth: bins)
            for i in 0..<bins {
                for j in 0..<bins {
                    var sum: Float = 0
                    for r in 0..<size { for c in 0..<size { sum += rows[i * size + r] * x.scalars[r * size + c] * columns[c * bins + j] } }
                    XCTAssertEqual(sum, canopy.scalars[i * bins + j], accuracy: 1e-6, "\(size) → \(bins) at \(i), \(j)")
                }
            }
        }
    }

    func testBackbonesLowerWithEveryWeightExported() throws {
        for (name, size, adds, concats) in [("resnet18", 32, 8, 0), ("googlenet", 32, 0, 9), ("lenet5", 32, 0, 0)] {
            var random = SeededRandom(seed: 1)
            let network = try XCTUnwrap(BackboneRegistry.make(name, bands: 4, classes: 17, random: &random))
            let model = try ONNXLowering.model(of: network, bands: 4, inputSize: size, outputs: 17, graphName: name, producerVersion: "0")
            XCTAssertEqual(model.graph.nodes.filter { $0.opType == "Add" }.count, adds, name)
            XCTAssertEqual(model.graph.nodes.filter { $0.opType == "Concat" }.count, concats, name)
            XCTAssertEqual(model.graph.nodes.last?.opType, "Sigmoid")
            let stateNames = Set(network.state(prefix: "").map(\.name).filter { !$0.hasSuffix("num_batches_tracked") })
            let exported = Set(model.graph.initializers.map(\.name))
            XCTAssertTrue(stateNames.isSubset(of: exported), "\(name): not exported \(stateNames.subtracting(exported).sorted())")
            // Every node input is the graph input, an initializer or an earlier node's output.
            var known = exported.union(["input"])
            for node in model.graph.nodes {
                for input in node.inputs { XCTAssertTrue(known.contains(input), "\(name): \(node.name) reads \(input) before it exists") }
                known.formUnion(node.outputs)
            }
        }
    }

    func testWhatCannotBeLoweredIsNamed() {
        var random = SeededRandom(seed: 1)
        func failure(_ network: Layer, size: Int = 8) -> String {
            do {
                _ = try ONNXLowering.model(of: network, bands: 3, inputSize: size, outputs: 17, graphName: "g", producerVersion: "0")
                return "no error"
            } catch { return error.description }
        }
        XCTAssertEqual(failure(Sequential(named: [("features", Sequential([ReLU(), Mystery()]))])),
                       "features.1: Mystery has no ONNX lowering")
        XCTAssertEqual(failure(Sequential(named: [("lrn", LocalResponseNorm(.init(size: 4)))])),
                       "lrn (LRN): size 4 is even; ONNX's LRN centres an even window differently")
        XCTAssertTrue(failure(Sequential(named: [("pool", AvgPool2D(kernel: 3, stride: 2, ceilMode: true))]))
            .hasPrefix("pool (AveragePool): a ceil-mode window reaches past the padding on a 8x8 input"))
        XCTAssertEqual(failure(Sequential(named: [("fc", Linear(192, 17, random: &random))])),
                       "fc (Gemm): 192 input features, gets shape [3, 8, 8]")
        XCTAssertEqual(failure(Sequential(named: [("conv", Convolution2D(4, 8, kernel: 3, random: &random))])),
                       "conv (Conv): 4 input channels, gets 3")
        XCTAssertEqual(failure(Sequential([ReLU()])), "the network ends in shape [3, 8, 8] per image, not [17] logits")
    }
}

/// A layer kind the lowering does not know.
private final class Mystery: Layer {
    func forward(_ input: Tensor, mode: Mode) -> Tensor { input }
    func backward(_ outputGradient: Tensor) -> Tensor { outputGradient }
}

/// A minimal protobuf reader for the tests: a message as its fields, in order.
struct Proto {
    enum Value { case varint(UInt64), fixed32(UInt32), fixed64(UInt64), bytes([UInt8]) }
    var fields: [(number: Int, value: Value)] = []

    static func parse(_ bytes: [UInt8]) -> Proto {
        var message = Proto(), i = 0
        func varint() -> UInt64 {
            var result: UInt64 = 0, shift: UInt64 = 0
            while true {
                let byte = bytes[i]
                i += 1
                result |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return result }
                shift += 7
            }
        }
        while i < bytes.count {
            let key = varint()
            let number = Int(key >> 3)
            switch key & 7 {
            case 0: message.fields.append((number, .varint(varint())))
            case 1:
                message.fields.append((number, .fixed64((0..<8).reduce(0) { $0 | UInt64(bytes[i + $1]) << (8 * UInt64($1)) })))
                i += 8
            case 2:
                let length = Int(varint())
                message.fields.append((number, .bytes(Array(bytes[i..<(i + length)]))))
                i += length
            case 5:
                message.fields.append((number, .fixed32((0..<4).reduce(0) { $0 | UInt32(bytes[i + $1]) << (8 * UInt32($1)) })))
                i += 4
            default: fatalError("wire type \(key & 7)")
            }
        }
        return message
    }

    private func values(_ number: Int) -> [Value] { fields.filter { $0.number == number }.map(\.value) }

    func int(_ number: Int) -> Int? { ints(number).last }
    func ints(_ number: Int) -> [Int] {
        values(number).compactMap { if case .varint(let v) = $0 { Int(Int64(bitPattern: v)) } else { nil } }
    }
    func float(_ number: Int) -> Float? {
        values(number).compactMap { if case .fixed32(let v) = $0 { Float(bitPattern: v) } else { nil } }.last
    }
    func floatList(_ number: Int) -> [Float] {
        values(number).compactMap { if case .fixed32(let v) = $0 { Float(bitPattern: v) } else { nil } }
    }
    func data(_ number: Int) -> [[UInt8]] { values(number).compactMap { if case .bytes(let b) = $0 { b } else { nil } } }
    func string(_ number: Int) -> String? { data(number).last.map { String(decoding: $0, as: UTF8.self) } }
    func strings(_ number: Int) -> [String] { data(number).map { String(decoding: $0, as: UTF8.self) } }
    func message(_ number: Int) -> Proto? { data(number).last.map(Proto.parse) }
    func messages(_ number: Int) -> [Proto] { data(number).map(Proto.parse) }

    /// A float tensor's little-endian raw data.
    func floats(_ number: Int) -> [Float]? {
        data(number).last.map { raw in
            stride(from: 0, to: raw.count, by: 4).map { k in
                Float(bitPattern: (0..<4).reduce(UInt32(0)) { $0 | UInt32(raw[k + $1]) << (8 * UInt32($1)) })
            }
        }
    }

    enum Attribute: Equatable { case int(Int), float(Float), ints([Int]), floats([Float]), string(String) }

    /// A NodeProto's attributes (field 5) by name, read by their type (field 20).
    var attributes: [String: Attribute] {
        Dictionary(uniqueKeysWithValues: messages(5).map { a -> (String, Attribute) in
            let value: Attribute = switch a.int(20) {
            case 1: .float(a.float(2)!)
            case 2: .int(a.int(3)!)
            case 3: .string(a.string(4)!)
            case 6: .floats(a.floatList(7))
            case 7: .ints(a.ints(8))
            default: fatalError("attribute type \(String(describing: a.int(20)))")
            }
            return (a.string(1)!, value)
        })
    }

    /// A ValueInfoProto's dimensions: dim_value as a number, dim_param as its name.
    var dimensions: [String] {
        message(2)!.message(1)!.message(2)!.messages(1).map { dim in dim.int(1).map(String.init) ?? dim.string(2)! }
    }
}
