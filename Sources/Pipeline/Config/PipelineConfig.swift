import Evaluation
import PlanetData
import Training

/// One pipeline file: a whole run from chips to submission and report. See README.md "Pipeline files"
/// for the annotated format; `PipelineConfig.parse` reads it.
public struct PipelineConfig: Codable, Sendable, Equatable {
    public var name: String
    public var data: DataConfig
    public var folds: FoldsConfig
    public var models: [ModelSpec]
    public var tta: TestTimeAugmentation
    public var ensemble: EnsembleConfig
    public var thresholds: ThresholdConfig
    public var outputs: OutputsConfig
    /// Compute threads (OpenBLAS and Canopy's kernels); nil uses every core. `--threads` overrides it.
    /// Changes no result, so it is in no stage's key.
    public var threads: Int? = nil
    /// Models whose `init_strict: false` lets `init` weights leave tensors other than the 17-label head
    /// at their fresh initialisation (by default that is an error before training starts).
    public var lenientInit: [String] = []
}

public struct DataConfig: Codable, Sendable, Equatable {
    public var root: String
    public var bands: BandSource = .rgb
    /// Default input side for models that do not set their own.
    public var inputSize: Int = 128
    /// `dataset`: the per-band statistics stored with the data (computed on first use); `none`: [0, 1] values.
    public var normalization: Normalization = .dataset
    public var missingFiles: MissingFilesPolicy = .report
    public var onBadImage: BadImagePolicy = .fail
    /// Loader threads.
    public var workers: Int = 2
    /// Use only the first N training chips (quick trials); nil uses all.
    public var limitTrain: Int?
    /// Use only the first N test chips; the submission then cannot be written.
    public var limitTest: Int?

    public enum Normalization: String, Codable, Sendable, CaseIterable { case dataset, none }
}

public struct FoldsConfig: Codable, Sendable, Equatable {
    public var k: Int = 5
    public var seed: UInt64 = 1
}

public struct EnsembleConfig: Codable, Sendable, Equatable {
    /// How the models' probabilities combine (ignored with one model): an `EnsembleMethod` raw value.
    public var method: String = "mean"
    public var ridgeLambda: Float = 1
}

public struct ThresholdConfig: Codable, Sendable, Equatable {
    /// `best` picks whichever decision scores highest out of fold; or one of `fixed`, `global`,
    /// `per_label`, `expected_f2`.
    public var method: Method = .best
    /// The threshold of `fixed`.
    public var fixed: Float = 0.2
    /// Exactly one weather label per chip, no ground label on a cloudy chip: `auto` keeps it only
    /// where it raises the out-of-fold F2 of the rule it is applied to.
    public var weatherRule: WeatherRule = .auto
    /// Labels with fewer positives than this keep the global threshold in per-label tuning.
    public var minimumSupport: Int = 20

    public enum WeatherRule: String, Codable, Sendable, CaseIterable {
        case auto
        case on = "true"
        case off = "false"
    }

    public enum Method: String, Codable, Sendable, CaseIterable {
        case best, fixed, global
        case perLabel = "per_label"
        case expectedF2 = "expected_f2"
    }
}

public struct OutputsConfig: Codable, Sendable, Equatable {
    public var submission: Bool = true
    public var report: Bool = true
    /// Chips shown with their tags in the HTML report.
    public var sampleChips: Int = 24
    /// Keep every fold's best and last weights (false keeps only what resuming and predicting need).
    public var checkpoints: Bool = true
}
