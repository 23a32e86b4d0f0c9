import CJPEGReference
import Foundation
import ImageIO

/// Canopy's JPEG path (bytes → `Image`, with its error handling, colour handling and allocation)
/// beside bare libjpeg-turbo (bytes → a reused buffer, the library's own output), on the same files
/// held in memory, alternating the two in every round so machine drift hits both alike.
public struct DecodeBenchmark {
    public struct Row: Sendable {
        public var scale: JPEGScale
        public var canopyChipsPerSecond: Double
        public var referenceChipsPerSecond: Double
        public var ratio: Double { canopyChipsPerSecond / referenceChipsPerSecond }
    }

    public let files: [String]
    private let contents: [[UInt8]]
    public var rounds: Int

    /// Loads every file into memory and checks that Canopy decodes it (the reference would exit on
    /// a bad file, so none may reach it).
    public init(files: [String], rounds: Int = 7) throws {
        let reader = ImageReader()
        var contents: [[UInt8]] = []
        for file in files {
            let bytes = try FileBytes.read(file)
            guard ImageFormat.sniff(bytes) == .jpeg else { throw ImageIOError(file: file, reason: .unknownFormat) }
            _ = try reader.decode(bytes, file: file)
            contents.append(bytes)
        }
        self.files = files
        self.contents = contents
        self.rounds = rounds
    }

    public func run(scales: [JPEGScale] = [.full, .half]) -> [Row] {
        scales.map { scale in
            let decoder = JPEGDecoder()
            let options = DecodeOptions(jpegScale: scale)
            let reference = canopy_reference_jpeg_create()!
            defer { canopy_reference_jpeg_destroy(reference) }
            var buffer = [UInt8](repeating: 0, count: 16 << 20)
            var checksum = 0

            func canopyPass() -> Double {
                timed {
                    for (index, bytes) in contents.enumerated() {
                        let image = bytes.withUnsafeBytes { try! decoder.decode($0, file: files[index], options: options) }
                        checksum &+= image.sample(x: 0, y: 0, band: 0)
                    }
                }
            }
            func referencePass() -> Double {
                timed {
                    for bytes in contents {
                        let written = bytes.withUnsafeBytes { input in
                            buffer.withUnsafeMutableBufferPointer { output in
                                canopy_reference_jpeg_decode(reference, input.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                                             input.count, Int32(scale.rawValue), output.baseAddress!, output.count)
                            }
                        }
                        checksum &+= Int(buffer[0]) &+ written
                    }
                }
            }

            _ = canopyPass()  // warm-up: caches, page faults, the decoder's first allocations
            _ = referencePass()
            var canopyRates: [Double] = [], referenceRates: [Double] = []
            for round in 0..<rounds {
                if round % 2 == 0 {
                    canopyRates.append(Double(contents.count) / canopyPass())
                    referenceRates.append(Double(contents.count) / referencePass())
                } else {
                    referenceRates.append(Double(contents.count) / referencePass())
                    canopyRates.append(Double(contents.count) / canopyPass())
                }
            }
            blackHole(checksum)
            return Row(scale: scale, canopyChipsPerSecond: median(canopyRates), referenceChipsPerSecond: median(referenceRates))
        }
    }
}

func timed(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

@inline(never) func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }
