import ArgumentParser
import Foundation
import Synthetic

/// `canopy synth`: a Planet-like dataset in the competition's layout, from a seed.
struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a synthetic Planet-like dataset (chips, train_v2.csv, sample submission, test labels).",
        discussion: "Label sets are drawn with the real train_v2.csv frequencies; each label is painted as a visible pattern. Layout: train-jpg/, test-jpg/, test-jpg-additional/, train_v2.csv, sample_submission_v2.csv, test_labels.csv, and with --tif train-tif-v2/ and test-tif-v2/. The same seed gives byte-identical files on any number of cores."
    )

    @Option(help: "Folder to write into (created if missing).") var out: String
    @Option(help: "Training chips.") var train = 0
    @Option(help: "Test chips (about two thirds test-jpg, the rest test-jpg-additional).") var test = 0
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Chip size in pixels (32 to 1024).") var size = 256
    @Flag(help: "Also write 16-bit BGRN TIFFs.") var tif = false
    @Flag(help: "Also write OUT/preview.png: one captioned chip per label, then random chips.") var preview = false

    func validate() throws {
        guard train >= 0 else { throw ValidationError("--train must be 0 or more") }
        guard test >= 0 else { throw ValidationError("--test must be 0 or more") }
        guard (32...1024).contains(size) else { throw ValidationError("--size must be between 32 and 1024") }
        guard train + test > 0 || preview else { throw ValidationError("nothing to write: give --train, --test or --preview") }
    }

    func run() throws {
        let spec = SyntheticDatasetSpec(train: train, test: test, seed: seed, size: size, writeTIFF: tif)
        if train + test > 0 {
            let summary = try SyntheticDataset.write(spec, to: out)
            print("\(out): \(train) train + \(test) test chips at \(size) px\(tif ? " (JPEG + TIFF)" : ""), "
                  + "\(summary.files) files, \(String(format: "%.1f", Double(summary.bytes) / 1e6)) MB")
            print(String(format: "%.2f s wall clock, %.0f chips/s on %d threads",
                         summary.seconds, summary.chipsPerSecond, spec.threads))
        }
        if preview {
            try SyntheticDataset.makeFolder(out)
            let path = out + "/preview.png"
            try SyntheticPreview.write(seed: seed, to: path)
            print("\(path): preview, one chip per label and random chips, captioned")
        }
    }
}
