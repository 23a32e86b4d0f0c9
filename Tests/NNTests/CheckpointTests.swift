import Foundation
import NN
import Tensor
import XCTest

/// Checkpoints: the safetensors format, its untrusted header, and training that resumes exactly.
final class CheckpointTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("canopy-checkpoint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// conv → BN → ReLU → pool → flatten → linear, with torchvision-like names.
    private func makeModel(seed: UInt64) -> Sequential {
        var random = SeededRandom(seed: seed)
        return Sequential(named: [
            ("conv1", Convolution2D(3, 4, kernel: 3, padding: 1, bias: false, random: &random)),
            ("bn1", BatchNorm(channels: 4)), ("relu", ReLU()), ("pool", MaxPool2D(kernel: 2)),
            ("flatten", Flatten()), ("fc", Linear(4 * 4 * 4, 5, random: &random)),
        ])
    }

    private func batch(seed: UInt64) -> (input: Tensor, targets: Tensor) {
        var random = SeededRandom(seed: seed)
        return (Tensor(shape: [3, 6, 8, 8], scalars: (0..<(3 * 6 * 64)).map { _ in random.nextNormal() }),
                Tensor(shape: [5, 6], scalars: (0..<30).map { _ in random.nextUniform() < 0.4 ? 1 : 0 }))
    }

    private func train(_ model: Layer, _ optimizer: Optimizer, steps: Range<Int>) {
        for step in steps {
            let (input, targets) = batch(seed: UInt64(100 + step))
            let (_, gradient) = BinaryCrossEntropy().lossAndGradient(logits: model.forward(input, mode: .training), targets: targets)
            model.zeroGradients()
            _ = model.backward(gradient)
            optimizer.step(model.namedParameters)
        }
    }

    func testNamesFollowTorchvision() {
        let names = makeModel(seed: 1).state(prefix: "").map(\.name)
        XCTAssertEqual(names, ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                               "bn1.num_batches_tracked", "fc.weight", "fc.bias"])
    }

    func testRoundTripGivesIdenticalOutputs() throws {
        let model = makeModel(seed: 1)
        train(model, SGD(learningRate: 0.1, momentum: 0.9), steps: 0..<3)
        try Checkpoint.save(model, to: path("model.safetensors"), metadata: ["epoch": "3"])
        let fresh = makeModel(seed: 2)
        let report = try Checkpoint.load(into: fresh, from: path("model.safetensors"))
        XCTAssertEqual(report.loaded.count, 8)
        let (input, _) = batch(seed: 7)
        XCTAssertEqual(fresh.forward(input, mode: .inference), model.forward(input, mode: .inference))
        let file = try SafeTensorsFile.read(path("model.safetensors"))
        XCTAssertEqual(file.metadata["epoch"], "3")
        XCTAssertEqual(file.tensors["bn1.num_batches_tracked"]?.dtype, .i64)
        XCTAssertEqual(file.tensors["bn1.num_batches_tracked"]?.tensor.scalars, [3])
    }

    /// N steps, save, N more  ==  N steps, save, load into fresh objects, N more: bit for bit (one thread).
    func testResumeIsBitExact() throws {
        let savedThreads = BLAS.threads
        BLAS.threads = 1
        defer { BLAS.threads = savedThreads }
        try EngineSettings.adjusting({ $0.workers = 1 }) {
            for makeOptimizer in [{ SGD(learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-4) as Optimizer },
                                  { Adam.adamW(learningRate: 0.01) as Optimizer }] {
                let uninterrupted = makeModel(seed: 5), optimizer = makeOptimizer()
                train(uninterrupted, optimizer, steps: 0..<3)
                try Checkpoint.saveTrainingState(model: uninterrupted, optimizer: optimizer, metadata: ["epoch": "1"],
                                                 to: path("resume.safetensors"))
                train(uninterrupted, optimizer, steps: 3..<6)

                let resumed = makeModel(seed: 99), resumedOptimizer = makeOptimizer()
                let loaded = try Checkpoint.loadTrainingState(from: path("resume.safetensors"))
                XCTAssertEqual(loaded.metadata["epoch"], "1")
                XCTAssertEqual(loaded.optimizerStep, 3)
                try loaded.restore(model: resumed, optimizer: resumedOptimizer)
                train(resumed, resumedOptimizer, steps: 3..<6)

                for ((name, a), (_, b)) in zip(uninterrupted.state(prefix: ""), resumed.state(prefix: "")) {
                    XCTAssertEqual(a.value.scalars, b.value.scalars, "\(type(of: optimizer)) \(name)")
                }
            }
        }
    }

    func testStrictLoadRefusesAModelThatDoesNotFitAndChangesNothing() throws {
        let model = makeModel(seed: 1)
        try Checkpoint.save(model, to: path("a.safetensors"))
        var random = SeededRandom(seed: 3)
        let other = Sequential(named: [("conv1", Convolution2D(3, 8, kernel: 3, padding: 1, bias: false, random: &random)),
                                       ("head", Linear(2, 2, random: &random))])
        let before = other.state(prefix: "").map(\.entry.value)
        XCTAssertThrowsError(try Checkpoint.load(into: other, from: path("a.safetensors"))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("a.safetensors"), text)
            XCTAssertTrue(text.contains("shape mismatch conv1.weight: model [8, 3, 3, 3], file [4, 3, 3, 3]"), text)
            XCTAssertTrue(text.contains("head.weight"), text)
            XCTAssertTrue(text.contains("fc.bias"), text)
        }
        XCTAssertEqual(other.state(prefix: "").map(\.entry.value), before)
        let report = try Checkpoint.load(into: other, from: path("a.safetensors"), strict: false)
        XCTAssertEqual(report.loaded, [])
        XCTAssertEqual(report.missing, ["head.weight", "head.bias"])
        XCTAssertEqual(report.mismatched.map(\.name), ["conv1.weight"])
    }

    func testByteLayoutFollowsTheFormat() throws {
        let file = SafeTensorsFile(tensors: ["b": StoredTensor(Tensor(shape: [2], scalars: [1, -2])),
                                             "a": StoredTensor(Tensor(shape: [], scalars: [7]), dtype: .i64)],
                                   metadata: ["format": "pt"])
        let bytes = file.encoded()
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual((8 + headerLength) % 8, 0, "data section aligned to 8")
        let header = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)])) as? [String: Any])
        XCTAssertEqual((header["a"] as? [String: Any])?["dtype"] as? String, "I64")
        XCTAssertEqual((header["a"] as? [String: Any])?["data_offsets"] as? [Int], [0, 8])
        XCTAssertEqual((header["b"] as? [String: Any])?["data_offsets"] as? [Int], [8, 16])
        XCTAssertEqual((header["__metadata__"] as? [String: String])?["format"], "pt")
        XCTAssertEqual(Array(bytes[(8 + headerLength)...]), [7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0])
        XCTAssertEqual(try SafeTensorsFile.decode(bytes, path: "x"), file)
    }

    /// Every way an untrusted header can lie ends in a CheckpointError naming the file.
    func testMalformedFilesGiveClearErrors() throws {
        func file(header: String, data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
            var bytes: [UInt8] = []
            withUnsafeBytes(of: (length ?? UInt64(header.utf8.count)).littleEndian) { bytes += $0 }
            return bytes + Array(header.utf8) + data
        }
        let four = [UInt8](repeating: 0, count: 16)
        let cases: [(String, [UInt8], String)] = [
            ("short", [1, 2, 3], "shorter than the 8-byte header length"),
            ("huge header", file(header: "{}", length: 1 << 40), "over the 100000000-byte limit"),
            ("header past end", file(header: "{}", length: 50), "runs past the end"),
            ("not json", file(header: "{nope"), "not a JSON object"),
            ("array", file(header: "[1]"), "not a JSON object"),
            ("no dtype", file(header: #"{"t":{"shape":[1],"data_offsets":[0,4]}}"#, data: four), "has no dtype"),
            ("bad dtype", file(header: #"{"t":{"dtype":"Q8","shape":[1],"data_offsets":[0,4]}}"#, data: four), "has dtype Q8"),
            ("negative shape", file(header: #"{"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: four), "shape entry"),
            ("fractional shape", file(header: #"{"t":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, data: four), "shape entry"),
            ("boolean shape", file(header: #"{"t":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}"#, data: four), "shape entry"),
            ("overflowing shape", file(header: #"{"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, data: four),
             "larger than the file"),
            ("offsets past end", file(header: #"{"t":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}}"#, data: four), "outside"),
            ("reversed offsets", file(header: #"{"t":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"#, data: four), "outside"),
            ("size mismatch", file(header: #"{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#, data: four), "needs 12"),
            ("overlap", file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                             data: four), "overlap"),
            ("metadata not strings", file(header: #"{"__metadata__":{"epoch":3}}"#), "is not a string"),
        ]
        for (label, bytes, expected) in cases {
            XCTAssertThrowsError(try SafeTensorsFile.decode(bytes, path: "bad/\(label).safetensors"), label) { error in
                let text = "\(error)"
                XCTAssertTrue(text.hasPrefix("bad/\(label).safetensors: "), text)
                XCTAssertTrue(text.contains(expected), "\(label): \(text)")
            }
        }
        XCTAssertThrowsError(try SafeTensorsFile.read(path("missing.safetensors"))) { XCTAssertTrue("\($0)".contains("cannot read")) }
    }

    func testNonFiniteValuesAreDetectable() throws {
        let file = SafeTensorsFile(tensors: ["w": StoredTensor(Tensor(shape: [2], scalars: [1, .nan]))])
        XCTAssertTrue(try SafeTensorsFile.decode(file.encoded(), path: "x").containsNonFinite)
    }
}
