import ArgumentParser
import Foundation
import PlanetData

/// `canopy stats ROOT`: per-band normalisation statistics of the training chips, stored with the data.
struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-band mean and standard deviation of the training chips, in one streaming pass.",
        discussion: "Writes ROOT/canopy-stats-BANDS.json, which training and prediction read to normalise alike."
    )

    @OptionGroup var dataset: DatasetOptions
    @Option(help: "Decoding threads.") var workers = 2
    @Option(help: "A chip that does not decode: fail or skip (listed).") var onBadImage: BadImagePolicy = .fail

    func validate() throws {
        guard workers > 0 else { throw ValidationError("--workers must be at least 1") }
    }

    func run() throws {
        let data = try dataset.open()
        let start = Date()
        let (statistics, failures) = NormalizationStatistics.compute(data.train, bands: data.bands, workers: workers)
        for failure in failures { print("bad image: \(failure.error)") }
        if !failures.isEmpty && onBadImage == .fail {
            throw ValidationError("\(failures.count) chip\(failures.count == 1 ? "" : "s") did not decode (--on-bad-image skip to leave them out)")
        }
        let path = NormalizationStatistics.path(root: data.root, bands: data.bands)
        try statistics.write(to: path)
        let seconds = Date().timeIntervalSince(start)
        print("band  mean      std")
        let letters = data.bands == .rgbAndRGBN ? ["R", "G", "B", "R'", "G'", "B'", "N"] : Array("RGBN".prefix(data.bands.bandCount)).map(String.init)
        for band in 0..<statistics.mean.count {
            print(String(format: "%-4@  %.6f  %.6f", letters[band], statistics.mean[band], statistics.std[band]))
        }
        print(String(format: "%d chips in %.1f s (%.0f chips/s); wrote %@", statistics.chips, seconds, Double(statistics.chips) / seconds, path))
    }
}
