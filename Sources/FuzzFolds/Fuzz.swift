// libFuzzer target for the folds file reader, folds.csv (scripts/fuzz.sh FuzzFolds SECONDS).
import FuzzSupport
import PlanetData

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for expected in [nil, 5] as [Int?] {
        if let folds = try? FoldAssignment.parse(bytes, file: "<fuzz>", expectedFolds: expected) {
            for fold in 0..<folds.folds { _ = folds.split(holdingOut: fold) }
        }
    }
    return 0
}

@main
struct Main {
    static func main() throws { try runFuzzTarget(fuzzOneInput) }
}
