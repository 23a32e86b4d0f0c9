import Foundation
import ImageIO
import PlanetData
import Support
import Tensor

/// The streaming loader's rate beside plain decoding of the same chips, in one run: for each input
/// size, one thread decoding at the loader's DCT scale and nothing else, then the loader (decode,
/// random resized crop, D4 symmetry, jitter, normalisation, batching) with each worker count,
/// alternating the order every round.
public struct LoaderBenchmark {
    /// One per (size, variant, workers); `canopy bench loader --json` writes it as it is.
    public struct Row: Sendable, Encodable {
        public var size: Int
        /// "decode" or "loader".
        public var variant: String
        public var workers: Int
        public var chipsPerSecond: Double
    }

    public let chips: [DatasetChip]
    public var sizes: [Int]
    public var workerCounts: [Int]
    public var rounds: Int
    public var batchSize: Int

    public init(chips: [DatasetChip], sizes: [Int] = [128, 256], workerCounts: [Int] = [1, 2], rounds: Int = 3, batchSize: Int = 32) {
        self.chips = chips
        self.sizes = sizes
        self.workerCounts = workerCounts
        self.rounds = rounds
        self.batchSize = batchSize
    }

    /// The loader's training options at `size`: Canopy's default Planet augmentation, normalised.
    func options(size: Int, workers: Int) -> LoaderOptions {
        LoaderOptions(batchSize: batchSize, inputSize: size, workers: workers, prefetch: 4, shuffle: true, seed: 1,
                      augmentation: .planetDefault,
                      normalization: NormalizationStatistics(bands: .rgb, mean: [0.3, 0.35, 0.3], std: [0.2, 0.2, 0.2], chips: 0))
    }

    public func run() throws -> [Row] {
        var rows: [Row] = []
        for size in sizes {
            let reader = ChipReader(bands: .rgb)
            func decodePass() throws -> Double {
                try timed { for chip in chips { blackHole(try reader.read(chip, minimumSide: size).values.count) } }
            }
            func loaderPass(_ workers: Int, epoch: Int) throws -> Double {
                let loader = ChipLoader(chips: chips, bands: .rgb, options: options(size: size, workers: workers))
                return try timed {
                    let batches = loader.epoch(epoch)
                    while let batch = try batches.next() { blackHole(batch.input.count) }
                }
            }
            _ = try decodePass()  // warm-up: page cache, first allocations
            var decodeRates: [Double] = [], loaderRates = [[Double]](repeating: [], count: workerCounts.count)
            for round in 0..<rounds {
                var passes: [() throws -> Void] = [{ decodeRates.append(Double(chips.count) / (try decodePass())) }]
                for (slot, workers) in workerCounts.enumerated() {
                    passes.append { loaderRates[slot].append(Double(chips.count) / (try loaderPass(workers, epoch: round))) }
                }
                for offset in 0..<passes.count { try passes[(offset + round) % passes.count]() }
            }
            rows.append(Row(size: size, variant: "decode", workers: 1, chipsPerSecond: median(decodeRates)))
            for (slot, workers) in workerCounts.enumerated() {
                rows.append(Row(size: size, variant: "loader", workers: workers, chipsPerSecond: median(loaderRates[slot])))
            }
        }
        return rows
    }

    /// Streams `count` chips through the loader (epochs over `chips` until that many are done) at
    /// `size` with `workers`, and returns the chips/s and the process's peak resident memory in MB.
    public func stream(count: Int, size: Int, workers: Int) throws -> (chipsPerSecond: Double, peakRSSMegabytes: Double) {
        let loader = ChipLoader(chips: chips, bands: .rgb, options: options(size: size, workers: workers))
        var done = 0, epoch = 0
        let seconds = try timed {
            while done < count {
                let batches = loader.epoch(epoch)
                while done < count, let batch = try batches.next() { done += batch.count }
                epoch += 1
            }
        }
        return (Double(done) / seconds, peakResidentMegabytes())
    }
}
