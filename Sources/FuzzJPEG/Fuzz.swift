// libFuzzer target for the JPEG decoder (scripts/fuzz.sh FuzzJPEG SECONDS).
import FuzzSupport
import ImageIO

// libFuzzer calls the entry from one thread; reusing one decompressor is what production does too.
nonisolated(unsafe) private let decoder = JPEGDecoder()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    // Small limits keep each run fast; full scale and DCT scaling take different libjpeg paths.
    for scale in [JPEGScale.full, .quarter] {
        let options = DecodeOptions(limits: DecodeLimits(maximumDimension: 8192, maximumBytes: 64 << 20), jpegScale: scale)
        _ = try? decoder.decode(bytes, file: "<fuzz>", options: options)
    }
    return 0
}

@main
struct Main {
    static func main() throws { try runFuzzTarget(fuzzOneInput) }
}
