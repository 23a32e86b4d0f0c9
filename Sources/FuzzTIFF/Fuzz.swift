// libFuzzer target for the TIFF decoder (scripts/fuzz.sh FuzzTIFF SECONDS).
import FuzzSupport
import ImageIO

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let options = DecodeOptions(limits: DecodeLimits(maximumDimension: 8192, maximumBytes: 64 << 20))
    _ = try? TIFFDecoder.decode(bytes, file: "<fuzz>", options: options)
    return 0
}

@main
struct Main {
    static func main() throws { try runFuzzTarget(fuzzOneInput) }
}
