import PlanetData

/// Everything that decides how one model is trained: what a pipeline file's `models:` entry says.
/// Plain values with defaults; the pipeline layer parses YAML into it and hashes it for its cache.
public struct ModelSpec: Codable, Sendable, Equatable {
    /// Names the model's results folder and its rows in reports (defaults to the backbone).
    public var name: String
    /// A name from `BackboneRegistry` (resnet18, vgg11_bn, googlenet, ...).
    public var backbone: String
    /// Safetensors weights to start from (torchvision names); nil starts from the initialisers.
    public var initWeights: String?
    public var inputSize: Int
    public var epochs: Int
    public var batchSize: Int
    public var optimizer: OptimizerSpec
    public var schedule: ScheduleSpec
    public var augmentation: Augmentation
    public var loss: LossSpec
    public var earlyStopping: EarlyStopping?
    /// Clip the gradients' global norm to this (nil: no clipping).
    public var clipGradientNorm: Float?
    /// A loss or gradient that is not finite: stop (naming epoch, batch and tensor) or skip the batch.
    public var onNonFinite: NonFinitePolicy = .stop

    public enum NonFinitePolicy: String, Codable, Sendable, CaseIterable {
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
}

public struct OptimizerSpec: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable { case sgd, adam, adamw }
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
}

/// How the learning rate moves over training.
public enum ScheduleSpec: Codable, Sendable, Equatable {
    case constant
    /// Multiply by `gamma` every `everyEpochs`.
    case step(everyEpochs: Int, gamma: Float)
    /// Linear warm-up over `warmupEpochs`, then cosine to zero at the last step.
    case cosine(warmupEpochs: Int)
    /// torch's OneCycleLR over the whole run (the rate given is the peak).
    case oneCycle
    /// Divide by 1/`factor` after `patience` epochs without a better validation loss.
    case plateau(factor: Float, patience: Int)
}

/// The training loss.
public struct LossSpec: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
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

    public enum PositiveWeights: String, Codable, Sendable { case balanced }

    public init(kind: Kind = .bce, positiveWeights: PositiveWeights? = nil) {
        self.kind = kind
        self.positiveWeights = positiveWeights
    }
}

/// Stop when the validation metric has not improved for `patience` epochs; the best epoch's weights
/// are the model's.
public struct EarlyStopping: Codable, Sendable, Equatable {
    public enum Metric: String, Codable, Sendable { case f2, loss }
    public var metric: Metric
    public var patience: Int

    public init(metric: Metric = .f2, patience: Int = 3) {
        self.metric = metric
        self.patience = patience
    }
}

/// Test-time augmentation: the symmetries each chip is predicted under, probabilities averaged.
public enum TestTimeAugmentation: String, Codable, Sendable, CaseIterable {
    case none, flips, d4

    public var symmetries: [Symmetry] {
        switch self {
        case .none: [.identity]
        case .flips: Symmetry.flips
        case .d4: Symmetry.allCases
        }
    }
}
