import Benchmarks
import Foundation
import ImageIO

/// Machine-readable output: one value on one line, encoded by `JSONEncoder` (keys sorted, snake_case
/// from the fields' names), never text spliced by hand.
func jsonLine<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    do { return String(decoding: try encoder.encode(value), as: UTF8.self) } catch { return "{\"error\":\"unencodable: \(error)\"}" }
}

/// `canopy bench decode --json`: one per scale.
struct DecodeJSON: Encodable {
    var scale: Int
    var canopyChipsPerSecond: Double
    var libjpegTurboChipsPerSecond: Double
    var ratio: Double

    init(_ row: DecodeBenchmark.Row) {
        scale = row.scale.rawValue
        canopyChipsPerSecond = row.canopyChipsPerSecond
        libjpegTurboChipsPerSecond = row.referenceChipsPerSecond
        ratio = row.ratio
    }
}

/// `canopy bench kernels --json`: one per convolution shape.
struct KernelJSON: Encodable {
    var shape: String
    var forwardGflops, forwardSgemmGflops, backwardGflops, backwardSgemmGflops: Double
    var perImageForwardGflops, foldBackwardGflops, directForwardGflops, directBackwardGflops: Double

    init(_ row: KernelBenchmark.Row) {
        shape = row.shape.name
        forwardGflops = row.forwardGflops
        forwardSgemmGflops = row.forwardGemmGflops
        backwardGflops = row.backwardGflops
        backwardSgemmGflops = row.backwardGemmGflops
        perImageForwardGflops = row.perImageForwardGflops
        foldBackwardGflops = row.foldBackwardGflops
        directForwardGflops = row.directForwardGflops
        directBackwardGflops = row.directBackwardGflops
    }
}

/// `canopy bench loader --json`: one per (size, variant, workers).
struct LoaderJSON: Encodable {
    var size: Int
    var variant: String
    var workers: Int
    var chipsPerSecond: Double
}

/// `canopy bench loader --stream N --json`.
struct LoaderStreamJSON: Encodable {
    var chips: Int
    var datasetChips: Int
    var size: Int
    var workers: Int
    var chipsPerSecond: Double
    var peakRssMb: Double
}

/// `canopy bench train|infer --json`: the line the peer comparison reads.
struct ModelBenchmarkJSON: Encodable {
    var framework = "canopy"
    var mode: String
    var model: String
    var size: Int
    var batch: Int
    var threads: Int
    var imagesPerSecond: Double
    var gflops: Double
    var peakRssMb: Double
}

/// `canopy models --json`: one per backbone, in one array.
struct BackboneJSON: Encodable {
    var name: String
    var parameters: Int
    var gflops: Double
    var activationMb: Double
}

/// `canopy inspect --json`: a decoded file, or the error it gave.
struct InspectJSON: Encodable {
    var path: String
    var format: String?
    var width: Int?
    var height: Int?
    var bands: Int?
    var bandOrder: String?
    var bitDepth: Int?
    var min: [Int]?
    var mean: [Double]?
    var max: [Int]?
    var error: String?
}
