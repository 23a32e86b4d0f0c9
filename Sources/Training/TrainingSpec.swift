import Backbones
import Evaluation
import Foundation
import PlanetData

/// Everything that decides how one model is trained: what a pipeline file's `models:` entry says.
/// Plain values with defaults; the pipeline layer decodes YAML into it and hashes it for its cache.
public struct ModelSpec: Codable, Sendable, Equatable, ValidatedSettings {
    /// Names the model's results folder and its rows in reports (defaults to the backbone).
    public var name: String
    /// A name from `BackboneRegistry` (resnet18, vgg11_bn, googlenet, ...).
    public var backbone: String
    /// Safetensors weights to start from (torchvision names); nil starts from the initialisers.
    public var initWeights: String?
    /// `init_strict: false` lets `init` weights leave tensors other than the 17-label head at their
    /// fresh initialisation (by default that is an error before training starts). Changes no result
    /// of a run that starts, so it is in no stage's key.
    public var initStrict = true
    public var inputSize: Int
    public var epochs: Int
    public var batchSize: Int
    public var optimizer: OptimizerSpec
    public var schedule: ScheduleSpec
    public var augmentation: Augmentation
    public var loss: LossSpec
    public var earlyStopping: EarlyStopping?
    /// Draw chips with a rare label more than once an epoch (nil: every chip once).
    public var oversampleRare: RareOversampling?
    /// Train the first epochs at smaller inputs (nil: every epoch at `inputSize`).
    public var progressiveResizing: ProgressiveResizing?
    /// Mix training batches' chips and targets (nil: no mixing).
    public var mixup: Mixup?
    /// Average the weights of the last epochs and predict with that (nil: with the best epoch's).
    public var swa: WeightAveraging?
    /// Clip the gradients' global norm to this (nil: no clipping).
    public var clipGradientNorm: Float?
    /// A loss or gradient that is not finite: stop (naming epoch, batch and tensor) or skip the batch.
    public var onNonFinite: NonFinitePolicy = .stop

    public enum NonFinitePolicy: String, SettingChoice {
        case stop
        case skipBatch = "skip_batch"
    }
    public var seed: UInt64

    public init(name: String? = nil, backbone: String, initWeights: String? = nil, inputSize: Int = 128, epochs: Int = 10,
                batchSize: Int = 32, optimizer: OptimizerSpec = OptimizerSpec(), schedule: ScheduleSpec = .cosine(warmupEpochs: 1),
                augmentation: Augmentation = .planetDefault, loss: LossSpec = LossSpec(), earlyStopping: EarlyStopping? = nil,
                clipGradientNorm: Float? = nil, seed: UInt64 = 1) {
        self.name = name ?? backbone
        self.backbone = backbone
        self.initWeights = initWeights
        self.inputSize = inputSize
        self.epochs = epochs
        self.batchSize = batchSize
        self.optimizer = optimizer
        self.schedule = schedule
        self.augmentation = augmentation
        self.loss = loss
        self.earlyStopping = earlyStopping
        self.clipGradientNorm = clipGradientNorm
        self.seed = seed
    }

    enum CodingKeys: String, SettingKeys {
        case name, backbone
        case initWeights = "init"
        case initStrict = "init_strict"
        case inputSize = "input_size"
        case epochs
        case batchSize = "batch_size"
        case optimizer, schedule, augmentation, loss
        case earlyStopping = "early_stopping"
        case oversampleRare = "oversample_rare"
        case progressiveResizing = "progressive_resizing"
        case mixup
        case swa
        case clipGradientNorm = "clip_gradient_norm"
        case onNonFinite = "on_non_finite"
        case seed
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.require(.backbone, "missing backbone (e.g. resnet18)")
        let backbone = try c.decode(String.self, forKey: .backbone)
        let defaults = decoder.userInfo[.settingDefaults] as? SettingDefaults
        self.init(name: try c.setting(.name), backbone: backbone, inputSize: defaults?.inputSize ?? 128)
        initWeights = try c.decodeIfPresent(String.self, forKey: .initWeights)
        initStrict = try c.setting(.initStrict) ?? initStrict
        let givenSize = try c.setting(.inputSize, as: Int.self)
        inputSize = givenSize ?? inputSize
        // The one rule checked while decoding: only here is it known whether the size came from data.input_size.
        let minimum = BackboneRegistry.minimumInputSize(backbone)
        if BackboneRegistry.names.contains(backbone), inputSize < minimum, inputSize >= 32 {
            let problem = "\(backbone) needs an input of at least \(minimum) px, got \(inputSize)"
            throw givenSize == nil ? DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: problem + " (from data.input_size)"))
                : DecodingError.dataCorruptedError(forKey: .inputSize, in: c, debugDescription: problem)
        }
        epochs = try c.setting(.epochs) ?? epochs
        batchSize = try c.setting(.batchSize) ?? batchSize
        seed = try c.setting(.seed) ?? seed
        clipGradientNorm = try c.decodeIfPresent(Float.self, forKey: .clipGradientNorm)
        onNonFinite = try c.setting(.onNonFinite) ?? onNonFinite
        optimizer = try c.setting(.optimizer) ?? optimizer
        schedule = try c.setting(.schedule) ?? schedule
        augmentation = try c.setting(.augmentation, as: AugmentationSetting.self)?.value ?? augmentation
        loss = try c.setting(.loss) ?? loss
        earlyStopping = try c.decodeIfPresent(EarlyStopping.self, forKey: .earlyStopping)
        oversampleRare = try c.decodeIfPresent(RareOversampling.self, forKey: .oversampleRare)
        progressiveResizing = try c.decodeIfPresent(ProgressiveResizing.self, forKey: .progressiveResizing)
        mixup = try c.decodeIfPresent(Mixup.self, forKey: .mixup)
        swa = try c.decodeIfPresent(WeightAveraging.self, forKey: .swa)
    }

    /// The input size epoch `epoch` (from 0) trains at.
    public func trainingInputSize(epoch: Int) -> Int {
        progressiveResizing?.inputSize(epoch: epoch, final: inputSize) ?? inputSize
    }

    public func validate() throws(SettingError) {
        guard BackboneRegistry.names.contains(backbone) else {
            throw SettingError(["backbone"], "unknown backbone \"\(backbone)\"; known: \(BackboneRegistry.names.joined(separator: ", "))")
        }
        try SettingError.check(inputSize, in: 32...1024, "input_size")
        try SettingError.check(epochs, in: 1...10_000, "epochs")
        try SettingError.check(batchSize, in: 1...4096, "batch_size")
        if let clipGradientNorm { try SettingError.check(clipGradientNorm, in: 1e-6...1e6, "clip_gradient_norm") }
        if let problem = progressiveResizing?.problem(for: self) { throw SettingError(["progressive_resizing"] + problem.keys, problem.text) }
        try WeightAveraging.check(self)
    }
}

public struct OptimizerSpec: Codable, Sendable, Equatable, ValidatedSettings {
    public enum Kind: String, SettingChoice { case sgd, adam, adamw }
    public var kind: Kind
    public var learningRate: Float
    /// SGD only.
    public var momentum: Float
    public var nesterov: Bool
    public var weightDecay: Float

    public init(kind: Kind = .sgd, learningRate: Float = 0.05, momentum: Float = 0.9, nesterov: Bool = true, weightDecay: Float = 1e-4) {
        self.kind = kind
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
    }

    enum CodingKeys: String, SettingKeys {
        case kind
        case learningRate = "learning_rate"
        case momentum, nesterov
        case weightDecay = "weight_decay"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        kind = try c.setting(.kind) ?? kind
        learningRate = try c.setting(.learningRate) ?? learningRate
        momentum = try c.setting(.momentum) ?? momentum
        nesterov = try c.setting(.nesterov) ?? nesterov
        weightDecay = try c.setting(.weightDecay) ?? weightDecay
    }

    public func validate() throws(SettingError) {
        try SettingError.check(learningRate, in: 1e-9...10, "learning_rate")
        try SettingError.check(momentum, in: 0...0.999, "momentum")
        try SettingError.check(weightDecay, in: 0...1, "weight_decay")
    }
}

/// How the learning rate moves over training. In a pipeline file: `{kind: step, every_epochs: 10, gamma: 0.1}`.
public enum ScheduleSpec: Codable, Sendable, Equatable, ValidatedSettings {
    case constant
    /// Multiply by `gamma` every `everyEpochs`.
    case step(everyEpochs: Int, gamma: Float)
    /// Linear warm-up over `warmupEpochs`, then cosine to zero at the last step.
    case cosine(warmupEpochs: Int)
    /// torch's OneCycleLR over the whole run (the rate given is the peak).
    case oneCycle
    /// Divide by 1/`factor` after `patience` epochs without a better validation loss.
    case plateau(factor: Float, patience: Int)

    public enum Kind: String, SettingChoice {
        case constant, step, cosine
        case oneCycle = "one_cycle"
        case plateau

        /// The settings this kind takes besides `kind`.
        var settings: [CodingKeys] {
            switch self {
            case .constant, .oneCycle: []
            case .step: [.everyEpochs, .gamma]
            case .cosine: [.warmupEpochs]
            case .plateau: [.factor, .patience]
            }
        }
    }

    public var kind: Kind {
        switch self {
        case .constant: .constant
        case .step: .step
        case .cosine: .cosine
        case .oneCycle: .oneCycle
        case .plateau: .plateau
        }
    }

    enum CodingKeys: String, SettingKeys {
        case kind
        case warmupEpochs = "warmup_epochs"
        case everyEpochs = "every_epochs"
        case gamma, factor, patience
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.require(.kind, "missing kind (\(Kind.choiceNames.joined(separator: ", ")))")
        let kind = try c.decode(Kind.self, forKey: .kind)
        if let extra = c.allKeys.filter({ $0 != .kind && !kind.settings.contains($0) }).min(by: { $0.stringValue < $1.stringValue }) {
            let takes = kind.settings.isEmpty ? "nothing" : kind.settings.map(\.stringValue).joined(separator: ", ")
            throw DecodingError.dataCorruptedError(forKey: extra, in: c, debugDescription: "not a setting of the \(kind.rawValue) schedule (it takes: \(takes))")
        }
        switch kind {
        case .constant: self = .constant
        case .step: self = .step(everyEpochs: try c.setting(.everyEpochs) ?? 10, gamma: try c.setting(.gamma) ?? 0.1)
        case .cosine: self = .cosine(warmupEpochs: try c.setting(.warmupEpochs) ?? 1)
        case .oneCycle: self = .oneCycle
        case .plateau: self = .plateau(factor: try c.setting(.factor) ?? 0.1, patience: try c.setting(.patience) ?? 2)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        switch self {
        case .constant, .oneCycle: break
        case .step(let everyEpochs, let gamma):
            try c.encode(everyEpochs, forKey: .everyEpochs)
            try c.encode(gamma, forKey: .gamma)
        case .cosine(let warmupEpochs): try c.encode(warmupEpochs, forKey: .warmupEpochs)
        case .plateau(let factor, let patience):
            try c.encode(factor, forKey: .factor)
            try c.encode(patience, forKey: .patience)
        }
    }

    public func validate() throws(SettingError) {
        switch self {
        case .constant, .oneCycle: break
        case .step(let everyEpochs, let gamma):
            try SettingError.check(everyEpochs, in: 1...10_000, "every_epochs")
            try SettingError.check(gamma, in: 0...1, "gamma")
        case .cosine(let warmupEpochs): try SettingError.check(warmupEpochs, in: 0...10_000, "warmup_epochs")
        case .plateau(let factor, let patience):
            try SettingError.check(factor, in: 0...1, "factor")
            try SettingError.check(patience, in: 0...1000, "patience")
        }
    }
}

/// The training loss.
public struct LossSpec: Codable, Sendable, Equatable, ValidatedSettings {
    public enum Kind: String, SettingChoice {
        /// Binary cross-entropy from logits.
        case bce
        /// A differentiable F2 on sigmoid probabilities (batch-level).
        case softF2 = "soft_f2"
        /// The mean of the two.
        case bceAndSoftF2 = "bce+soft_f2"
    }
    public var kind: Kind
    /// Per-label weight of positive examples in BCE: "balanced" weighs each label by
    /// sqrt(negatives / positives) in the training fold, kept between 1 and 10; nil weighs all alike.
    public var positiveWeights: PositiveWeights?
    /// ε in [0, 0.5): BCE's targets y become y·(1 − ε) + ε/2 (soft F2's stay as they are); 0 is off.
    public var labelSmoothing: Float = 0

    public enum PositiveWeights: String, SettingChoice { case balanced }

    public init(kind: Kind = .bce, positiveWeights: PositiveWeights? = nil, labelSmoothing: Float = 0) {
        self.kind = kind
        self.positiveWeights = positiveWeights
        self.labelSmoothing = labelSmoothing
    }

    enum CodingKeys: String, SettingKeys {
        case kind
        case positiveWeights = "positive_weights"
        case labelSmoothing = "label_smoothing"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(kind: try c.setting(.kind) ?? .bce, positiveWeights: try c.decodeIfPresent(PositiveWeights.self, forKey: .positiveWeights),
                  labelSmoothing: try c.setting(.labelSmoothing) ?? 0)
    }

    /// `label_smoothing` only when it is on: a loss without it is coded (and keys its stage) as
    /// before the setting existed.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encodeIfPresent(positiveWeights, forKey: .positiveWeights)
        if labelSmoothing != 0 { try c.encode(labelSmoothing, forKey: .labelSmoothing) }
    }

    public func validate() throws(SettingError) {
        guard labelSmoothing >= 0, labelSmoothing < 0.5 else {
            throw SettingError(["label_smoothing"], "\(labelSmoothing) is out of range 0..<0.5")
        }
        if labelSmoothing > 0, kind == .softF2 {
            throw SettingError(["label_smoothing"], "smooths BCE's targets, and soft_f2 has no BCE term (use bce or bce+soft_f2)")
        }
    }
}

/// Stop when the validation metric has not improved for `patience` epochs; the best epoch's weights
/// are the model's.
public struct EarlyStopping: Codable, Sendable, Equatable, ValidatedSettings {
    public enum Metric: String, SettingChoice { case f2, loss }
    public var metric: Metric
    public var patience: Int

    public init(metric: Metric = .f2, patience: Int = 3) {
        self.metric = metric
        self.patience = patience
    }

    enum CodingKeys: String, SettingKeys { case metric, patience }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        metric = try c.setting(.metric) ?? metric
        patience = try c.setting(.patience) ?? patience
    }

    public func validate() throws(SettingError) {
        try SettingError.check(patience, in: 1...1000, "patience")
    }
}

/// Test-time augmentation: the symmetries each chip is predicted under, probabilities averaged.
public enum TestTimeAugmentation: String, SettingChoice {
    case none, flips, d4

    public var symmetries: [Symmetry] {
        switch self {
        case .none: [.identity]
        case .flips: Symmetry.flips
        case .d4: Symmetry.allCases
        }
    }
}
