// libFuzzer target for the TIFF decoder. Built by scripts/fuzz.sh with -sanitize=fuzzer,address and
// -DFUZZING (libFuzzer then drives it); built normally, it runs the files given on the command line
// through the same entry point (crash reproduction, regression checks).
import CFuzzDriver
import Foundation
import ImageIO

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let options = DecodeOptions(limits: DecodeLimits(maximumDimension: 8192, maximumBytes: 64 << 20))
    _ = try? decodeTIFF(bytes, options: options)
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

func decodeTIFF(_ bytes: UnsafeRawBufferPointer, options: DecodeOptions) throws -> Image {
    try TIFFDecoder.decode(bytes, file: "<fuzz>", options: options)
}
