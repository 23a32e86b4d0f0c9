// libFuzzer target for pipeline files, YAML through Yams into PipelineConfig (scripts/fuzz.sh FuzzPipeline SECONDS).
import FuzzSupport
import Pipeline

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let text = String(validating: UnsafeBufferPointer(start: data, count: size), as: UTF8.self) else { return 0 }
    _ = try? PipelineConfig.parse(text, file: "<fuzz>", defaultName: "fuzz")
    _ = try? PipelineConfig.parse(text, file: "<fuzz>", defaultName: "fuzz", overrides: ["models.0.epochs=2", "data.root=/x"])
    return 0
}

@main
struct Main {
    static func main() throws { try runFuzzTarget(fuzzOneInput) }
}
