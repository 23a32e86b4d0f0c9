import Foundation
@testable import NN
import Tensor
import XCTest

/// PyTorch checkpoints read without Python: the committed files torch.save wrote
/// (Fixtures/make_torch_checkpoint_fixtures.py) give torch's values exactly, and malformed or
/// malicious files end in one CheckpointError naming the file and what was met.
final class TorchCheckpointTests: XCTestCase {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/torch")
    private func fixture(_ name: String) -> String { Self.folder.appendingPathComponent(name).path }

    private func expectations() throws -> [String: [String: Any]] {
        let data = try Data(contentsOf: Self.folder.appendingPathComponent("expected.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
    }

    // MARK: What torch.save wrote

    func testEveryReadableFixtureGivesTorchsValuesExactly() throws {
        let expected = try expectations()
        XCTAssertEqual(expected.count, 10)
        for (name, entry) in expected.sorted(by: { $0.key < $1.key }) {
            let checkpoint = try TorchCheckpoint.read(fixture(name))
            let tensorsEntry = entry["same_tensors_as"].map { expected[$0 as! String]! } ?? entry
            let tensors = try XCTUnwrap(tensorsEntry["tensors"] as? [String: [String: Any]], name)
            XCTAssertEqual(checkpoint.file.tensors.keys.sorted(), tensors.keys.sorted(), name)
            for (tensorName, spec) in tensors {
                let stored = try XCTUnwrap(checkpoint.file.tensors[tensorName], "\(name) \(tensorName)")
                XCTAssertEqual(stored.dtype.rawValue, spec["dtype"] as? String, "\(name) \(tensorName)")
                XCTAssertEqual(stored.tensor.shape, spec["shape"] as? [Int], "\(name) \(tensorName)")
                let values = try XCTUnwrap(spec["values"] as? [Double]).map { Float($0) }
                XCTAssertEqual(stored.tensor.scalars, values, "\(name) \(tensorName)")
            }
            XCTAssertEqual(checkpoint.nestedKey, entry["nested"] as? String, name)
            XCTAssertEqual(checkpoint.strippedPrefix, entry["stripped"] as? String, name)
            XCTAssertEqual(checkpoint.ignored, entry["ignored"] as? [String] ?? [], name)
            XCTAssertEqual(checkpoint.format, .zip, name)
        }
    }

    func testPickleProtocolsTwoFourAndFive() throws {
        XCTAssertEqual(try TorchCheckpoint.read(fixture("tiny_state_dict.pth")).pickleProtocol, 2)
        XCTAssertEqual(try TorchCheckpoint.read(fixture("tiny_protocol4.pth")).pickleProtocol, 4)
        XCTAssertEqual(try TorchCheckpoint.read(fixture("tiny_protocol5.pth")).pickleProtocol, 5)
    }

    func testViewsAreGatheredByStrideAndOffset() throws {
        let tensors = try TorchCheckpoint.read(fixture("views.pth")).file.tensors
        // base = arange(24).reshape(4, 6) / 8
        XCTAssertEqual(tensors["sliced"]?.tensor.shape, [3, 3])
        XCTAssertEqual(tensors["sliced"]?.tensor.scalars, [8, 9, 10, 14, 15, 16, 20, 21, 22].map { Float($0) / 8 })
        XCTAssertEqual(tensors["transposed"]?.tensor.shape, [6, 4])
        XCTAssertEqual(Array(tensors["transposed"]!.tensor.scalars.prefix(5)), [0, 6, 12, 18, 1].map { Float($0) / 8 })
        XCTAssertEqual(tensors["strided"]?.tensor.scalars, [0, 3, 12, 15].map { Float($0) / 8 })
        XCTAssertEqual(tensors["shared_a"]?.tensor.shape, [4])
        XCTAssertEqual(tensors["shared_b"]?.tensor.shape, [3])
    }

    /// conv1 → bn1 → relu → pool → flatten → fc loaded from torch's file gives torch's eval logits.
    func testTinyModelFromTheCheckpointGivesTorchsLogits() throws {
        let entry = try XCTUnwrap(expectations()["tiny_state_dict.pth"])
        var random = SeededRandom(seed: 1)
        let model = Sequential(named: [
            ("conv1", Convolution2D(3, 4, kernel: 3, padding: 1, bias: false, random: &random)),
            ("bn1", BatchNorm(channels: 4)), ("relu", ReLU()), ("pool", MaxPool2D(kernel: 2)),
            ("flatten", Flatten()), ("fc", Linear(4 * 4 * 4, 5, random: &random)),
        ])
        for file in ["tiny_state_dict.pth", "nested_model.pth", "tiny_protocol5.pth"] {
            let report = try Checkpoint.load(into: model, from: fixture(file))
            XCTAssertEqual(report.loaded.count, 8, file)
            let input = Tensor(shape: entry["input_shape"] as! [Int], scalars: (entry["input_nchw"] as! [Double]).map { Float($0) })
            let logits = model.forward(input.swappingLeadingAxes(), mode: .inference).transposed()
            let expected = Tensor(shape: [2, 5], scalars: (entry["logits"] as! [Double]).map { Float($0) })
            let error = logits.maxDifference(from: expected).absolute / (expected.scalars.map(abs).max() ?? 1)
            XCTAssertLessThanOrEqual(error, 1e-5, file)
        }
    }

    func testLegacyFormat() throws {
        let checkpoint = try TorchCheckpoint.read(fixture("legacy.pth"))
        XCTAssertEqual(checkpoint.format, .legacy)
        XCTAssertEqual(checkpoint.file.tensors["w"], StoredTensor(Tensor(shape: [2], scalars: [1, 1])))
        XCTAssertEqual(checkpoint.file.tensors.count, 1)
    }

    /// The format is told by the first bytes, not the name.
    func testReadWeightsChoosesTheFormatByContent() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("canopy-torch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let misnamed = folder.appendingPathComponent("weights.safetensors").path
        try FileManager.default.copyItem(atPath: fixture("dtypes.pth"), toPath: misnamed)
        let viaTorch = try SafeTensorsFile.readWeights(misnamed)
        XCTAssertEqual(viaTorch.tensors["long"]?.tensor.scalars, [0, -3, Float(1 << 40), 7])
        XCTAssertEqual(viaTorch.tensors["long"]?.dtype, .i64)
        let safetensors = folder.appendingPathComponent("weights.pth").path
        try SafeTensorsFile(tensors: ["a": StoredTensor(Tensor(shape: [2], scalars: [3, 4]))]).write(to: safetensors)
        XCTAssertEqual(try SafeTensorsFile.readWeights(safetensors).tensors["a"]?.tensor.scalars, [3, 4])
    }

    // MARK: Refused

    private func assertRefused(_ path: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try TorchCheckpoint.read(path), file: file, line: line) { error in
            guard let error = error as? CheckpointError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(error.path, path, file: file, line: line)
            XCTAssertTrue(error.reason.contains(fragment), "\(error.reason) lacks \(fragment)", file: file, line: line)
        }
    }

    private func assertRefused(bytes: [UInt8], _ fragment: String, verifyChecksums: Bool = true, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try TorchCheckpoint.decode(bytes, path: "x.pth", verifyChecksums: verifyChecksums), file: file, line: line) { error in
            guard let error = error as? CheckpointError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(error.path, "x.pth", file: file, line: line)
            XCTAssertTrue(error.reason.contains(fragment), "\(error.reason) lacks \(fragment)", file: file, line: line)
        }
    }

    /// torch.save of an object whose __reduce__ is (os.system, ("true",)): the pickle names posix.system.
    func testAGlobalOutsideTheAllowListIsRefusedWhereItIs() throws {
        let path = fixture("malicious_os_system.pth")
        XCTAssertThrowsError(try TorchCheckpoint.read(path)) { error in
            XCTAssertEqual((error as? CheckpointError)?.description,
                           "\(path): data.pkl byte 200: refused global posix.system: only collections.OrderedDict, "
                           + "torch._utils._rebuild_tensor(_v2) and _rebuild_parameter and torch's Float/Half/BFloat16/Double/Long/Int "
                           + "storages are read (nothing in the file is run)")
        }
        // The read `init:` and `canopy weights convert` go through refuses it the same way.
        XCTAssertThrowsError(try SafeTensorsFile.readWeights(path)) { error in
            XCTAssertTrue((error as? CheckpointError)?.reason.contains("refused global posix.system") ?? false)
        }
    }

    func testMalformedFixturesAreRefusedWithTheirReason() {
        assertRefused(fixture("truncated.pth"), "zip: no end-of-central-directory record")
        assertRefused(fixture("compressed.pth"), "is compressed (method 8); torch.save stores records uncompressed")
        assertRefused(fixture("call_opcode.pth"), "data.pkl byte 28: opcode 0x81 NEWOBJ (a call) is not one a torch.save state dict uses")
        assertRefused(fixture("past_storage.pth"), "tensor of size [2, 2], stride [2, 1], offset 1 reaches element 4 of storage '0', which has 4")
        assertRefused(fixture("missing_record.pth"), "storage '5' has no record data/5")
        assertRefused(fixture("expected.json"), "not a torch.save file")
    }

    // MARK: Hand-made files

    /// The records of a good file, to rebuild with one thing changed.
    private func records(_ name: String) throws -> [(String, [UInt8])] {
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: fixture(name))))
        let archive = try TorchZip.parse(bytes) { CheckpointError(path: name, reason: $0) }
        return archive.records.values.sorted { $0.range.lowerBound < $1.range.lowerBound }.map { ($0.name, Array(bytes[$0.range])) }
    }

    /// A stored zip of `entries`, with local headers, central directory and end record (no ZIP64).
    private func storedZip(_ entries: [(String, [UInt8])]) -> [UInt8] {
        var out: [UInt8] = [], directory: [UInt8] = []
        func le(_ value: Int, _ width: Int, into bytes: inout [UInt8]) { for i in 0..<width { bytes.append(UInt8((value >> (8 * i)) & 0xFF)) } }
        for (name, data) in entries {
            let offset = out.count, crc = Int(TorchZip.crc32(data, 0..<data.count)), nameBytes = Array(name.utf8)
            le(0x0403_4B50, 4, into: &out); le(20, 2, into: &out); le(0, 2, into: &out); le(0, 2, into: &out); le(0, 4, into: &out)
            le(crc, 4, into: &out); le(data.count, 4, into: &out); le(data.count, 4, into: &out)
            le(nameBytes.count, 2, into: &out); le(0, 2, into: &out); out += nameBytes; out += data
            le(0x0201_4B50, 4, into: &directory); le(20, 2, into: &directory); le(20, 2, into: &directory)
            le(0, 2, into: &directory); le(0, 2, into: &directory); le(0, 4, into: &directory); le(crc, 4, into: &directory)
            le(data.count, 4, into: &directory); le(data.count, 4, into: &directory); le(nameBytes.count, 2, into: &directory)
            le(0, 2, into: &directory); le(0, 2, into: &directory); le(0, 2, into: &directory); le(0, 2, into: &directory)
            le(0, 4, into: &directory); le(offset, 4, into: &directory); directory += nameBytes
        }
        let directoryOffset = out.count
        out += directory
        le(0x0605_4B50, 4, into: &out); le(0, 4, into: &out); le(entries.count, 2, into: &out); le(entries.count, 2, into: &out)
        le(directory.count, 4, into: &out); le(directoryOffset, 4, into: &out); le(0, 2, into: &out)
        return out
    }

    /// handmade_ok.pth's records with data.pkl replaced.
    private func withPickle(_ pickle: [UInt8]) throws -> [UInt8] {
        storedZip(try records("handmade_ok.pth").map { $0.0.hasSuffix("data.pkl") ? ($0.0, pickle) : $0 })
    }

    func testTheZipWriterHereMakesReadableFiles() throws {
        let rebuilt = try TorchCheckpoint.decode(storedZip(try records("handmade_ok.pth")), path: "x.pth")
        XCTAssertEqual(rebuilt.file.tensors["w"]?.tensor.scalars, [2, 4])
    }

    func testDamagedZipsAreRefused() throws {
        let good = try records("handmade_ok.pth")
        // A flipped bit in a storage: the CRC says so (without the check the file reads: the element is outside the view).
        var zipBytes = storedZip(good)
        let at = try XCTUnwrap(zipBytes.indices.first { zipBytes[$0..<($0 + 4)] == [0, 0, 0x40, 0x40] })  // 3.0f
        zipBytes[at + 3] = 0x41  // 12.0f
        assertRefused(bytes: zipBytes, "zip: record 'handmade_ok/data/0' fails its CRC-32 check")
        XCTAssertEqual(try TorchCheckpoint.decode(zipBytes, path: "x.pth", verifyChecksums: false).file.tensors["w"]?.tensor.scalars, [2, 4])
        assertRefused(bytes: storedZip(good + [good[0]]), "zip: two entries are named 'handmade_ok/data.pkl'")
        assertRefused(bytes: storedZip(good.map { $0.0.hasSuffix("byteorder") ? ($0.0, Array("big".utf8)) : $0 }), "big-endian")
        assertRefused(bytes: storedZip(good.filter { !$0.0.hasSuffix("data.pkl") }), "no ARCHIVE/data.pkl record")
        assertRefused(bytes: storedZip(good.map { $0.0.hasSuffix("data/0") ? ($0.0, Array($0.1.prefix(12))) : $0 }),
                      "storage '0' of 4 F32 elements needs 16 bytes; its record has 12")
        // The end record pointing its directory past the end of the file.
        var pastEnd = storedZip(good)
        pastEnd[pastEnd.count - 6] = 0xFF
        assertRefused(bytes: pastEnd, "zip: central directory")
        // Every prefix of a good file: one error each, never a crash.
        let whole = storedZip(good)
        for length in stride(from: 0, to: whole.count, by: 7) {
            XCTAssertThrowsError(try TorchCheckpoint.decode(Array(whole.prefix(length)), path: "x.pth"))
        }
    }

    func testMalformedPicklesAreRefused() throws {
        let proto: [UInt8] = [0x80, 0x02]
        func unicode(_ text: String) -> [UInt8] { [0x58] + withUnsafeBytes(of: UInt32(text.utf8.count).littleEndian, Array.init) + Array(text.utf8) }
        assertRefused(bytes: try withPickle(proto + [0x73, 0x2E]), "data.pkl byte 2: stack underflow")
        assertRefused(bytes: try withPickle(proto + [0x68, 0x07, 0x2E]), "BINGET of memo entry 7, which was never set")
        assertRefused(bytes: try withPickle(proto + [0x58, 0xFF, 0xFF, 0xFF, 0xFF]), "BINUNICODE of 4294967295 bytes runs past the end of data.pkl")
        assertRefused(bytes: try withPickle(proto + [0x7D]), "data.pkl byte 3: data.pkl ends without STOP")
        assertRefused(bytes: try withPickle([0x80, 0x01, 0x2E]), "pickle protocol 1")
        assertRefused(bytes: try withPickle(proto + Array("cbuiltins\neval\n".utf8)), "refused global builtins.eval")
        assertRefused(bytes: try withPickle(proto + unicode("os") + unicode("system") + [0x93, 0x2E]), "data.pkl byte 20: refused global os.system")
        assertRefused(bytes: try withPickle(proto + [0x5D, 0x2E]), "the checkpoint holds a list, not a dict of tensors")
        assertRefused(bytes: try withPickle(proto + [0x7D] + unicode("epoch") + [0x4B, 0x03, 0x73, 0x2E]),
                      "no tensors in the checkpoint's dict (keys: epoch)")
        assertRefused(bytes: try withPickle(proto + [0x7D, 0x5D, 0x4B, 0x01, 0x73, 0x2E]), "a dict key is a list")
        assertRefused(bytes: try withPickle(proto + [0x7D, 0x4E, 0x2E]), "STOP with 2 items")
        assertRefused(bytes: try withPickle(proto + Array("ccollections\nOrderedDict\n".utf8) + [0x4B, 0x01, 0x85, 0x52, 0x2E]),
                      "collections.OrderedDict with 1 arguments")
        assertRefused(bytes: try withPickle(proto + Array("ctorch\nFloatStorage\n".utf8) + [0x29, 0x52, 0x2E]),
                      "REDUCE calls torch.FloatStorage")
        // Deep nesting: 200,000 lists inside each other, no recursion anywhere.
        let depth = 200_000
        let nested = proto + [UInt8](repeating: 0x5D, count: depth) + [UInt8](repeating: 0x61, count: depth - 1) + [0x2E]
        assertRefused(bytes: try withPickle(nested), "the checkpoint holds a list")
    }

    // MARK: Views that could overflow or blow up

    private func unicode(_ text: String) -> [UInt8] { [0x58] + withUnsafeBytes(of: UInt32(text.utf8.count).littleEndian, Array.init) + Array(text.utf8) }
    private func long8(_ value: Int) -> [UInt8] { [0x8A, 8] + withUnsafeBytes(of: Int64(value).littleEndian, Array.init) }

    /// `{"w0": view, "w1": view, ...}`: one `_rebuild_tensor_v2` of FloatStorage '0', memoised and named `repeats` times.
    private func viewFile(storage: [Float], offset: Int, size: [Int], stride: [Int], repeats: Int = 1) -> [UInt8] {
        var pickle: [UInt8] = [0x80, 0x02, 0x7D, 0x28] + unicode("w0")
        pickle += Array("ctorch._utils\n_rebuild_tensor_v2\n".utf8) + [0x28, 0x28] + unicode("storage")
        pickle += Array("ctorch\nFloatStorage\n".utf8) + unicode("0") + unicode("cpu") + long8(storage.count) + [0x74, 0x51]
        pickle += long8(offset) + [0x28] + size.flatMap(long8) + [0x74, 0x28] + stride.flatMap(long8) + [0x74, 0x89]
        pickle += Array("ccollections\nOrderedDict\n".utf8) + [0x29, 0x52, 0x74, 0x52, 0x71, 0x00]
        for i in 1..<max(repeats, 1) { pickle += unicode("w\(i)") + [0x68, 0x00] }
        pickle += [0x75, 0x2E]
        let data = storage.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        return storedZip([("archive/data.pkl", pickle), ("archive/byteorder", Array("little".utf8)), ("archive/data/0", data)])
    }

    /// A size-1 axis's stride is never stepped, so torch accepts any; the gather must not overflow on it.
    func testAHugeStrideOnASizeOneAxisIsHarmless() throws {
        let file = viewFile(storage: [1, 2, 3, 4], offset: 0, size: [2, 1], stride: [2, Int(Int64.max)])
        XCTAssertEqual(try TorchCheckpoint.decode(file, path: "x.pth").file.tensors["w0"], StoredTensor(Tensor(shape: [2, 1], scalars: [1, 3])))
        assertRefused(bytes: viewFile(storage: [1, 2, 3, 4], offset: 0, size: [2, 2], stride: [2, Int(Int64.max)]), "tensor stride [")
    }

    /// A storage may back several tensors, but a small file may not gather gigabytes through one.
    func testAStorageSharedByManyTensorsIsCapped() throws {
        let storage = (0..<65_536).map { Float($0) }
        let ten = try TorchCheckpoint.decode(viewFile(storage: storage, offset: 0, size: [65_536], stride: [1], repeats: 10), path: "x.pth")
        XCTAssertEqual(ten.file.tensors.count, 10)
        XCTAssertEqual(ten.file.tensors["w9"]?.tensor.scalars, storage)
        assertRefused(bytes: viewFile(storage: storage, offset: 0, size: [65_536], stride: [1], repeats: 40),
                      "the tensors would gather 2621440 elements from a ")
    }
}
