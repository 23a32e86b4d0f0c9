// libFuzzer target for the torch.save reader (zip records, the restricted unpickler, strided views, the
// legacy stream), whose every byte is untrusted (scripts/fuzz.sh FuzzTorchCheckpoint SECONDS).
import FuzzSupport
import NN
import Tensor

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // As files are read (CRC-32 checked), then without the check, so that mutations reach the pickle and the storages.
    _ = try? TorchCheckpoint.decode(bytes, path: "<fuzz>", verifyChecksums: true)
    if let checkpoint = try? TorchCheckpoint.decode(bytes, path: "<fuzz>", verifyChecksums: false) {
        _ = checkpoint.file.containsNonFinite
        // Loading into a model must check names and shapes, never trust them.
        var random = SeededRandom(seed: 1)
        let model = Sequential(named: [("conv1", Convolution2D(3, 4, kernel: 3, padding: 1, bias: false, random: &random)),
                                       ("bn1", BatchNorm(channels: 4)), ("flatten", Flatten()), ("fc", Linear(4, 5, random: &random))])
        _ = try? Checkpoint.apply(checkpoint.file, to: model, path: "<fuzz>", strict: false)
        _ = try? Checkpoint.apply(checkpoint.file, to: model, path: "<fuzz>", strict: true)
    }
    return 0
}

@main
struct Main {
    static func main() throws { try runFuzzTarget(fuzzOneInput) }
}
