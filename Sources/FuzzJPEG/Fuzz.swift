// libFuzzer target for the JPEG decoder. Built by scripts/fuzz.sh with -sanitize=fuzzer,address and
// -DFUZZING; built normally, it replays files given on the command line (crash reproduction).
import ImageIO

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let options = DecodeOptions(limits: DecodeLimits(maximumDimension: 8192, maximumBytes: 64 << 20))
    for scale in [JPEGScale.full, .quarter] where scale == .full || "JPEG" == "JPEG" {
        var scaled = options
        scaled.jpegScale = scale
        _ = try? decodeJPEG(bytes, options: scaled)
    }
    return 0
}

#if !FUZZING
@main
struct Replay {
    static func main() throws {
        for path in CommandLine.arguments.dropFirst() {
            let bytes = try FileBytes.read(path)
            _ = bytes.withUnsafeBufferPointer { fuzzOneInput($0.baseAddress!, $0.count) }
            print("\(path): ok")
        }
    }
}
#endif

// libFuzzer calls the target from one thread; reusing one decompressor is what production does too.
nonisolated(unsafe) private let decoder = JPEGDecoder()
func decodeJPEG(_ bytes: UnsafeRawBufferPointer, options: DecodeOptions) throws -> Image {
    try decoder.decode(bytes, file: "<fuzz>", options: options)
}
