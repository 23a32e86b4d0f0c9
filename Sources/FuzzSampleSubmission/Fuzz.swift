// libFuzzer target for the sample submission and submission readers (scripts/fuzz.sh FuzzSampleSubmission SECONDS).
import Evaluation
import FuzzSupport
import PlanetData

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let names = try? LabelFile.parseSampleSubmission(bytes, file: "<fuzz>") {
        precondition(Set(names).count == names.count, "duplicate names passed the reader")
    }
    _ = try? Submission.parse(bytes, file: "<fuzz>")
    _ = try? ProbabilityTable.parse(bytes, file: "<fuzz>")
    return 0
}

@main
struct Main {
    static func main() throws { try runFuzzTarget(fuzzOneInput) }
}
