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

/// `canopy bench loader --stream N --json`.
struct LoaderStreamJSON: Encodable {
    var chips, datasetChips, size, workers: Int
    var chipsPerSecond, peakRssMb: Double
}

/// `canopy bench train|infer --json`: the line the peer comparison reads.
struct ModelBenchmarkJSON: Encodable {
    var framework = "canopy"
    var mode, model: String
    var size, batch, threads: Int
    var imagesPerSecond, gflops, peakRssMb: Double
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
    var width, height, bands: Int?
    var bandOrder: String?
    var bitDepth: Int?
    var min: [Int]?
    var mean: [Double]?
    var max: [Int]?
    var error: String?
}
