// libFuzzer target for the safetensors reader, whose header is untrusted: huge lengths, offsets past
// the end, overlapping ranges, NaN/Inf, wrong dtypes (scripts/fuzz.sh FuzzSafeTensors SECONDS).
import FuzzSupport
import NN
import Tensor

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let file = try? SafeTensorsFile.decode(bytes, path: "<fuzz>") {
        _ = file.containsNonFinite
        // Loading into a model must check names and shapes, never trust them.
        var random = SeededRandom(seed: 1)
        let model = Sequential([Linear(4, 3, random: &random), ReLU(), Linear(3, 2, random: &random)])
        _ = try? Checkpoint.apply(file, to: model, path: "<fuzz>", strict: false)
        _ = try? Checkpoint.apply(file, to: model, path: "<fuzz>", strict: true)
    }
    return 0
}

@main
struct Main {
    static func main() throws { try runFuzzTarget(fuzzOneInput) }
}
