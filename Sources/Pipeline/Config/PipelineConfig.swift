import Evaluation
import PlanetData
import Training

/// One pipeline file: a whole run from chips to submission and report. See README.md "Pipeline files"
/// for the annotated format; `PipelineConfig.parse` reads it (ConfigDecoder.swift).
///
/// These types are the file's schema: their coding keys are its keys, each `init(from:)` gives the
/// defaults of what a file leaves out, each `validate()` the ranges and the rules between fields (the
/// decoder names the key and line of what it refuses). Encoded, they are `config.json` in the results
/// folder: the same keys and structure, a pipeline file that runs again (`canopy run results/X/config.json`).
public struct PipelineConfig: Codable, Sendable, Equatable, ValidatedSettings {
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
    /// Minutes the whole run should take: each model's `epochs` becomes its most, and the epochs
    /// trained are sized from training rates measured before the train stage (TimeBudget.swift).
    public var budgetMinutes: Float? = nil
    /// Where the run is also recorded (an MLflow server): changes no result, so it is in no stage's key,
    /// and config.json has it only when the file set it.
    public var tracking: TrackingConfig? = nil
    /// How the run spreads over the ranks of an `mpirun` job (DistributedConfig.swift); config.json
    /// has it only when the file set it.
    public var distributed: DistributedConfig? = nil

    /// Models whose `init_strict: false` lets `init` weights leave tensors other than the 17-label head
    /// at their fresh initialisation (by default that is an error before training starts).
    public var lenientInit: [String] { models.filter { !$0.initStrict }.map(\.name) }

    public init(name: String, data: DataConfig, folds: FoldsConfig = FoldsConfig(), models: [ModelSpec],
                tta: TestTimeAugmentation = .none, ensemble: EnsembleConfig = EnsembleConfig(), thresholds: ThresholdConfig = ThresholdConfig(),
                outputs: OutputsConfig = OutputsConfig(), threads: Int? = nil) {
        self.name = name
        self.data = data
        self.folds = folds
        self.models = models
        self.tta = tta
        self.ensemble = ensemble
        self.thresholds = thresholds
        self.outputs = outputs
        self.threads = threads
    }

    enum CodingKeys: String, SettingKeys {
        case name, data, folds, models, tta, ensemble, thresholds, outputs, threads
        case budgetMinutes = "budget_minutes"
        case tracking, distributed
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.require(.data, "missing the data section (data: root: ...)")
        let data = try c.decode(DataConfig.self, forKey: .data)
        (decoder.userInfo[.settingDefaults] as? SettingDefaults)?.inputSize = data.inputSize
        let folds = try c.setting(.folds) ?? FoldsConfig()
        try c.require(.models, "missing the models list")
        self.init(name: try c.setting(.name) ?? (decoder.userInfo[.defaultPipelineName] as? String ?? ""), data: data, folds: folds,
                  models: try c.decode([ModelSpec].self, forKey: .models))
        tta = try c.setting(.tta) ?? tta
        ensemble = try c.setting(.ensemble) ?? ensemble
        thresholds = try c.setting(.thresholds) ?? thresholds
        outputs = try c.setting(.outputs) ?? outputs
        threads = try c.decodeIfPresent(Int.self, forKey: .threads)
        budgetMinutes = try c.decodeIfPresent(Float.self, forKey: .budgetMinutes)
        tracking = try c.setting(.tracking)
        distributed = try c.setting(.distributed)
    }

    public func validate() throws(SettingError) {
        guard !models.isEmpty else { throw SettingError(["models"], "at least one model") }
        // Names become folder and file names (models/NAME/, predictions/NAME-oof.csv): checked here,
        // before any work, not when the first file is written.
        for (index, model) in models.enumerated() {
            let keys = ["models", String(index), "name"]
            if let problem = Self.modelNameProblem(model.name) { throw SettingError(keys, problem) }
            if let other = models[..<index].first(where: { $0.name.lowercased() == model.name.lowercased() }) {
                throw SettingError(keys, other.name == model.name
                    ? "two models named \"\(model.name)\": give one a name: key"
                    : "\"\(model.name)\" and \"\(other.name)\" differ only in case (their folders would clash on some file systems)")
            }
        }
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else { throw SettingError(["name"], "name \"\(name)\" must be a plain folder name") }
        if let threads { try SettingError.check(threads, in: 1...1024, "threads") }
        if let budgetMinutes { try SettingError.check(budgetMinutes, in: 0.1...100_000, "budget_minutes") }
        if models.count > 1, ensemble.method == .ridge, folds.trained.count < 2 {
            throw SettingError(["ensemble", "method"], "ridge stacks out of fold: it needs at least 2 trained folds (folds.train has \(folds.trained.count))")
        }
        if thresholds.debias, models.count > 1, [.ridge, .vote].contains(ensemble.method) {
            throw SettingError(["thresholds", "debias"], "undoes the models' loss weighting, which \(ensemble.method.rawValue) does not pass on: use it with ensemble.method mean or weighted_mean")
        }
        if folds.refit, let (index, _) = models.enumerated().first(where: { if case .plateau = $0.element.schedule { true } else { false } }) {
            throw SettingError(["models", String(index), "schedule"], "plateau follows the validation loss, which a refit on every chip (folds.refit) does not have")
        }
    }

    /// Why `name` cannot name a model (nil when it can): it must be a plain file name of letters,
    /// digits, `_`, `.` and `-`, not `.` or `..`, and not `ensemble` (the ensemble's own files).
    public static func modelNameProblem(_ name: String) -> String? {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
        if name.isEmpty { return "a model name cannot be empty" }
        if let bad = name.first(where: { !allowed.contains($0) }) {
            return "model name \"\(name)\" has \"\(bad)\": use only letters, digits, _, . and - (it names files and folders)"
        }
        if name == "." || name == ".." { return "model name \"\(name)\" is not a usable folder name" }
        if name == "ensemble" { return "model name \"ensemble\" is taken by the ensemble's own predictions" }
        return nil
    }
}

extension CodingUserInfoKey {
    /// The pipeline's name when the file has no `name:` (the file's name without extension).
    static let defaultPipelineName = CodingUserInfoKey(rawValue: "canopy.defaultPipelineName")!
}

public struct DataConfig: Codable, Sendable, Equatable, ValidatedSettings {
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
    /// Megabytes of decoded training chips each loader keeps from epoch to epoch (the decoder then runs
    /// once per chip and size); 0 decodes every chip every epoch. Results do not depend on it.
    public var cacheMB: Int = 1024
    /// Use only the first N training chips (quick trials); nil uses all.
    public var limitTrain: Int?
    /// Use only the first N test chips; the submission then cannot be written.
    public var limitTest: Int?

    public enum Normalization: String, SettingChoice { case dataset, none }

    public init(root: String) { self.root = root }

    enum CodingKeys: String, SettingKeys {
        case root, bands
        case inputSize = "input_size"
        case normalization
        case missingFiles = "missing_files"
        case onBadImage = "on_bad_image"
        case workers
        case cacheMB = "cache_mb"
        case limitTrain = "limit_train"
        case limitTest = "limit_test"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.require(.root, "missing root (the dataset folder)")
        self.init(root: try c.decode(String.self, forKey: .root))
        bands = try c.setting(.bands) ?? bands
        inputSize = try c.setting(.inputSize) ?? inputSize
        normalization = try c.setting(.normalization) ?? normalization
        missingFiles = try c.setting(.missingFiles) ?? missingFiles
        onBadImage = try c.setting(.onBadImage) ?? onBadImage
        workers = try c.setting(.workers) ?? workers
        cacheMB = try c.setting(.cacheMB) ?? cacheMB
        limitTrain = try c.decodeIfPresent(Int.self, forKey: .limitTrain)
        limitTest = try c.decodeIfPresent(Int.self, forKey: .limitTest)
    }

    public func validate() throws(SettingError) {
        try SettingError.check(inputSize, in: 32...1024, "input_size")
        try SettingError.check(workers, in: 1...64, "workers")
        try SettingError.check(cacheMB, in: 0...(1 << 20), "cache_mb")
        if let limitTrain { try SettingError.check(limitTrain, in: 1...Int.max, "limit_train") }
        if let limitTest { try SettingError.check(limitTest, in: 1...Int.max, "limit_test") }
    }
}

public struct FoldsConfig: Codable, Sendable, Equatable, ValidatedSettings {
    public var k: Int = 5
    public var seed: UInt64 = 1
    /// The folds trained (each on the other folds' chips, predicting its own): all unless given. A
    /// holdout is `[0]`: one network on (k − 1)/k of the chips, thresholds tuned on the rest; the
    /// out-of-fold tables, thresholds and metrics then cover the trained folds' chips only.
    public var train: [Int]?
    /// After the trained folds, each model trains once more on every training chip, for the epochs
    /// its folds chose out of fold (the mean of their best epochs, rounded), and predicts the test
    /// chips with that network alone; the out-of-fold tables and thresholds still come from the folds.
    public var refit = false

    public init() {}

    /// The folds trained, in order.
    public var trained: [Int] { train ?? Array(0..<k) }

    /// The split alone (what `folds.csv` is made from): which folds are trained does not change it.
    public var split: FoldsConfig {
        var split = self
        split.train = nil
        split.refit = false
        return split
    }

    enum CodingKeys: String, SettingKeys { case k, seed, train, refit }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        k = try c.setting(.k) ?? k
        seed = try c.setting(.seed) ?? seed
        train = try c.setting(.train)
        refit = try c.setting(.refit) ?? refit
    }

    /// `refit` is written only when on, so a pipeline without it keeps its `config.json` and split.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(k, forKey: .k)
        try c.encode(seed, forKey: .seed)
        try c.encodeIfPresent(train, forKey: .train)
        if refit { try c.encode(refit, forKey: .refit) }
    }

    public func validate() throws(SettingError) {
        try SettingError.check(k, in: 2...100, "k")
        guard let train else { return }
        guard !train.isEmpty else { throw SettingError(["train"], "at least one fold (or leave train out: every fold)") }
        for (index, fold) in train.enumerated() {
            try SettingError.check(fold, in: 0...(k - 1), "train", String(index))
            if train[..<index].contains(fold) { throw SettingError(["train", String(index)], "fold \(fold) is listed twice") }
        }
        guard train == train.sorted() else { throw SettingError(["train"], "list the folds in increasing order") }
    }
}

public struct EnsembleConfig: Codable, Sendable, Equatable, ValidatedSettings {
    /// How the models' probabilities combine (ignored with one model).
    public var method: EnsembleMethod = .mean
    public var ridgeLambda: Float = 1

    public init() {}

    enum CodingKeys: String, SettingKeys {
        case method
        case ridgeLambda = "ridge_lambda"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        method = try c.setting(.method) ?? method
        ridgeLambda = try c.setting(.ridgeLambda) ?? ridgeLambda
    }

    public func validate() throws(SettingError) {
        try SettingError.check(ridgeLambda, in: 0...1e6, "ridge_lambda")
    }
}

public struct ThresholdConfig: Codable, Sendable, Equatable, ValidatedSettings {
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
    /// K: `per_label` thresholds are shrunk toward the global one, each keeping n/(n + K) of its move
    /// for a label with n positives out of fold (`ThresholdSearch.shrink`). 0 (the default): off. Labels
    /// under `minimum_support` still keep the global threshold (set it to 0 to let shrinkage alone
    /// temper rare labels).
    public var shrinkage: Int = 0
    /// Tune on the probabilities with each model's BCE positive weights and label smoothing undone
    /// (`TrainingBias`), and map the thresholds back: a rare label weighted 10 and a frequent one
    /// weighted 1 then share the global threshold and the shrinkage target on one scale. Single models
    /// and `ensemble.method: mean` or `weighted_mean` only (ridge and vote are fitted on the labels).
    public var debias = false

    public init() {}

    /// `auto`, or true/false (yes/no, on/off). Encoded as its raw value (`"true"`), which reads back.
    public enum WeatherRule: String, Codable, Sendable, CaseIterable {
        case auto
        case on = "true"
        case off = "false"

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            switch try container.decode(String.self).lowercased() {
            case "auto": self = .auto
            case "true", "yes", "on": self = .on
            case "false", "no", "off": self = .off
            case let text: throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected auto, true or false, got \"\(text)\"")
            }
        }
    }

    /// A decision rule by the name the file gives it (`best`: the highest-scoring of the others).
    public enum Method: String, SettingChoice {
        case best, fixed, global
        case perLabel = "per_label"
        case expectedF2 = "expected_f2"
    }

    enum CodingKeys: String, SettingKeys {
        case method, fixed
        case weatherRule = "weather_rule"
        case minimumSupport = "minimum_support"
        case shrinkage, debias
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        method = try c.setting(.method) ?? method
        fixed = try c.setting(.fixed) ?? fixed
        weatherRule = try c.setting(.weatherRule) ?? weatherRule
        minimumSupport = try c.setting(.minimumSupport) ?? minimumSupport
        shrinkage = try c.setting(.shrinkage) ?? shrinkage
        debias = try c.setting(.debias) ?? debias
    }

    /// As the synthesized coding, but `shrinkage` and `debias` only when on: the tune stage's key (each field of
    /// this, `StageInputs.addFields`) and config.json stay as they were before the setting existed, so
    /// results made without it remain up to date, and `shrinkage: 0` is the same run as no shrinkage.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(method, forKey: .method)
        try c.encode(fixed, forKey: .fixed)
        try c.encode(weatherRule, forKey: .weatherRule)
        try c.encode(minimumSupport, forKey: .minimumSupport)
        if shrinkage != 0 { try c.encode(shrinkage, forKey: .shrinkage) }
        if debias { try c.encode(debias, forKey: .debias) }
    }

    public func validate() throws(SettingError) {
        try SettingError.check(fixed, in: 0...1, "fixed")
        try SettingError.check(minimumSupport, in: 0...Int.max, "minimum_support")
        try SettingError.check(shrinkage, in: 0...10_000, "shrinkage")
    }
}

public struct OutputsConfig: Codable, Sendable, Equatable, ValidatedSettings {
    public var submission: Bool = true
    public var report: Bool = true
    /// Chips shown with their tags in the HTML report.
    public var sampleChips: Int = 24
    /// Keep every fold's best and last weights (false keeps only what resuming and predicting need).
    public var checkpoints: Bool = true

    public init() {}

    enum CodingKeys: String, SettingKeys {
        case submission, report
        case sampleChips = "sample_chips"
        case checkpoints
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        submission = try c.setting(.submission) ?? submission
        report = try c.setting(.report) ?? report
        sampleChips = try c.setting(.sampleChips) ?? sampleChips
        checkpoints = try c.setting(.checkpoints) ?? checkpoints
    }

    public func validate() throws(SettingError) {
        try SettingError.check(sampleChips, in: 0...1000, "sample_chips")
    }
}
