import Dispatch
import Foundation
import ImageIO
import Support

/// Per-band mean and standard deviation of a dataset's training chips, in the [0, 1] units of
/// `ChipPlanes`, computed in one streaming pass (`canopy stats`) and stored beside the data as
/// `canopy-stats-BANDS.json`, so training and prediction normalise alike. `chipSet` ties them to the
/// exact chips they were computed on (`chipSetFingerprint`): statistics of another set (a
/// `limit_train` trial, a dataset that changed) are never taken for this one's.
public struct NormalizationStatistics: Codable, Sendable, Equatable {
    public var bands: BandSource
    public var mean: [Float]
    public var std: [Float]
    /// Chips the figures come from.
    public var chips: Int
    /// `chipSetFingerprint` of the chips they were computed on (nil in files written before it existed).
    public var chipSet: String?

    public init(bands: BandSource, mean: [Float], std: [Float], chips: Int, chipSet: String? = nil) {
        self.bands = bands
        self.mean = mean
        self.std = std
        self.chips = chips
        self.chipSet = chipSet
    }

    /// Identifies a set of chips and bands: a 64-bit FNV-1a hash of the bands and the chips' names in
    /// order, with their count, e.g. `rgb:20:9c1f…`.
    public static func chipSetFingerprint(_ chips: [DatasetChip], bands: BandSource) -> String {
        var fingerprint = Fingerprint(bands.rawValue)
        for chip in chips { fingerprint.add(chip.name) }
        return "\(bands.rawValue):\(chips.count):\(fingerprint)"
    }

    /// Whether these statistics were computed on exactly `chips` in `bands`. A file from before
    /// `chipSet` existed counts only for the whole training set (`isWholeSet`) with its chip count.
    public func describes(_ chips: [DatasetChip], bands: BandSource, isWholeSet: Bool) -> Bool {
        guard self.bands == bands else { return false }
        if let chipSet { return chipSet == Self.chipSetFingerprint(chips, bands: bands) }
        return isWholeSet && self.chips == chips.count
    }

    /// Where the statistics of `bands` live in the dataset folder `root`.
    public static func path(root: String, bands: BandSource) -> String {
        URL(fileURLWithPath: root).appendingPathComponent("canopy-stats-\(bands.rawValue.replacingOccurrences(of: "+", with: "-")).json").path
    }

    /// `(value − mean) / std` for every band of `planes`, in place.
    public func normalize(_ planes: inout ChipPlanes) {
        precondition(planes.bands == mean.count, "\(planes.bands) bands, statistics for \(mean.count)")
        let plane = planes.planeSize
        planes.values.withUnsafeMutableBufferPointer { values in
            for band in 0..<mean.count {
                let scale = 1 / std[band], shift = -mean[band] / std[band]
                for i in (band * plane)..<((band + 1) * plane) { values[i] = values[i] * scale + shift }
            }
        }
    }

    /// One pass over `chips` on `workers` threads. Sums are kept per chip and added in chip order, so
    /// the result does not depend on the worker count. Chips that fail to decode are skipped and
    /// returned with their errors (the caller decides whether that is fatal).
    public static func compute(_ chips: [DatasetChip], bands: BandSource, workers: Int = 2,
                               minimumSide: Int = 256) -> (statistics: NormalizationStatistics, failures: [(name: String, error: String)]) {
        let count = chips.count, width = bands.bandCount
        // sums[chip * width * 2 + band * 2 + 0 or 1]: Σx and Σx² of that band, then the pixel count.
        var sums = [Double](repeating: 0, count: count * width * 2)
        var pixels = [Int](repeating: 0, count: count)
        var errors = [String?](repeating: nil, count: count)
        let chunks = max(1, min(workers, count))
        sums.withUnsafeMutableBufferPointer { sumsBuffer in
            pixels.withUnsafeMutableBufferPointer { pixelBuffer in
                errors.withUnsafeMutableBufferPointer { errorBuffer in
                    nonisolated(unsafe) let sums = sumsBuffer, pixels = pixelBuffer, errors = errorBuffer
                    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                        let reader = ChipReader(bands: bands)
                        for index in (count * chunk / chunks)..<(count * (chunk + 1) / chunks) {
                            do throws(ImageIOError) {
                                let planes = try reader.read(chips[index], minimumSide: minimumSide)
                                let plane = planes.planeSize
                                planes.values.withUnsafeBufferPointer { values in
                                    for band in 0..<width {
                                        var sum = 0.0, squares = 0.0
                                        for i in (band * plane)..<((band + 1) * plane) {
                                            let v = Double(values[i])
                                            sum += v
                                            squares += v * v
                                        }
                                        sums[(index * width + band) * 2] = sum
                                        sums[(index * width + band) * 2 + 1] = squares
                                    }
                                }
                                pixels[index] = plane
                            } catch {
                                errors[index] = error.description
                            }
                        }
                    }
                }
            }
        }
        var total = [Double](repeating: 0, count: width * 2)
        var pixelCount = 0, used = 0
        for index in 0..<count where errors[index] == nil {
            for slot in 0..<(width * 2) { total[slot] += sums[index * width * 2 + slot] }
            pixelCount += pixels[index]
            used += 1
        }
        let n = Double(max(pixelCount, 1))
        let mean = (0..<width).map { total[$0 * 2] / n }
        let std = (0..<width).map { band in max((total[band * 2 + 1] / n - mean[band] * mean[band]).squareRoot(), 1e-6) }
        let failures = chips.indices.compactMap { index in errors[index].map { (chips[index].name, $0) } }
        return (NormalizationStatistics(bands: bands, mean: mean.map(Float.init), std: std.map(Float.init), chips: used,
                                        chipSet: chipSetFingerprint(chips, bands: bands)), failures)
    }

    public func write(to path: String) throws(DataError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do { data = try encoder.encode(self) } catch { throw DataError(file: path, problem: "cannot encode statistics: \(error)") }
        do { try AtomicFile.write(Array(data) + [10], to: path) } catch { throw DataError(file: path, problem: "cannot write: \(error.reason)") }
    }

    /// Reads statistics written by `write`; a file that is not such JSON, or disagrees with itself
    /// (band counts, a zero or negative deviation), is an error naming it.
    public static func read(_ path: String) throws(DataError) -> NormalizationStatistics {
        let bytes: [UInt8]
        do { bytes = try AtomicFile.read(path, limit: 1 << 20) } catch { throw DataError(file: path, problem: error.reason) }
        let statistics: NormalizationStatistics
        do { statistics = try JSONDecoder().decode(NormalizationStatistics.self, from: Data(bytes)) } catch {
            throw DataError(file: path, problem: "not a statistics file: \(error)")
        }
        guard statistics.mean.count == statistics.bands.bandCount, statistics.std.count == statistics.bands.bandCount,
              statistics.std.allSatisfy({ $0 > 0 && $0.isFinite }), statistics.mean.allSatisfy(\.isFinite) else {
            throw DataError(file: path, problem: "statistics for \(statistics.bands.rawValue) need \(statistics.bands.bandCount) finite means and positive deviations")
        }
        return statistics
    }
}
