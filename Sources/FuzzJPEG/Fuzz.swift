// libFuzzer target for the JPEG decoder. Built by scripts/fuzz.sh with -sanitize=fuzzer,address and
// -DFUZZING (libFuzzer then drives it); built normally, it runs the files given on the command line
// through the same entry point (crash reproduction, regression checks).
import CFuzzDriver
import Foundation
import ImageIO

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    // Small limits keep each run fast; full scale and DCT scaling take different libjpeg paths.
    for scale in [JPEGScale.full, .quarter] {
        let options = DecodeOptions(limits: DecodeLimits(maximumDimension: 8192, maximumBytes: 64 << 20), jpegScale: scale)
        _ = try? decodeJPEG(bytes, options: options)
    }
    return 0
}

@main
struct Main {
    static func main() throws {
        #if FUZZING
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data!, size) })
        #else
        for path in CommandLine.arguments.dropFirst() {
            let bytes = try FileBytes.read(path)
            _ = bytes.withUnsafeBufferPointer { fuzzOneInput($0.baseAddress!, $0.count) }
            print("\(path): ok")
        }
        #endif
    }
}

// libFuzzer calls the target from one thread; reusing one decompressor is what production does too.
nonisolated(unsafe) private let decoder = JPEGDecoder()
func decodeJPEG(_ bytes: UnsafeRawBufferPointer, options: DecodeOptions) throws -> Image {
    try decoder.decode(bytes, file: "<fuzz>", options: options)
}
