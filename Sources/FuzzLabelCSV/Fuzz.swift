// libFuzzer target for the label file reader, train_v2.csv (scripts/fuzz.sh FuzzLabelCSV SECONDS).
import FuzzSupport
import PlanetData

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let chips = try? LabelFile.parse(bytes, file: "<fuzz>") {
        for chip in chips { precondition(LabelSet(mask: chip.labels.mask) == chip.labels) }
    }
    return 0
}

@main
struct Main {
    static func main() throws { try runFuzzTarget(fuzzOneInput) }
}
