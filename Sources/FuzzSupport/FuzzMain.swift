import CFuzzDriver
import Foundation
import Support

/// The `main` of every fuzz target. Built by scripts/fuzz.sh (with -sanitize=fuzzer,address and
/// -DFUZZING) it hands control to libFuzzer; built normally it runs each file named on the command
/// line through `entry` once (crash reproduction, regression checks).
///
/// SwiftPM renames an executable's `main`, which collides with the one `-sanitize=fuzzer` links in,
/// so targets keep their own and enter libFuzzer through `LLVMFuzzerRunDriver` instead.
public func runFuzzTarget(_ entry: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) throws {
    #if FUZZING
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, entry))
    #else
    for path in CommandLine.arguments.dropFirst() {
        let bytes = try AtomicFile.read(path)
        _ = bytes.withUnsafeBufferPointer { entry($0.baseAddress, $0.count) }
        print("\(path): ok")
    }
    #endif
}
