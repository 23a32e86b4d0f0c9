import Backbones

/// A model's `progressive_resizing:`: the first epochs train at smaller inputs, in stages, then the
/// rest at the model's `input_size` (e.g. 64 px for 6 epochs, 80 px for 6, then 96 px): the early,
/// coarse epochs cost less, the last ones fit the size the model predicts at. Validation, the best
/// epoch and every prediction use the model's `input_size` (a convolutional backbone with global
/// pooling takes any size; the statistics of its batch norms follow the last stage's batches).
public struct ProgressiveResizing: Codable, Sendable, Equatable, ValidatedSettings {
    /// `epochs` epochs at `input_size` pixels.
    public struct Stage: Codable, Sendable, Equatable, ValidatedSettings {
        public var epochs: Int
        public var inputSize: Int

        public init(epochs: Int, inputSize: Int) {
            self.epochs = epochs
            self.inputSize = inputSize
        }

        enum CodingKeys: String, SettingKeys {
            case epochs
            case inputSize = "input_size"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try c.require(.epochs, "missing epochs (how many epochs at this size)")
            try c.require(.inputSize, "missing input_size (the stage's size in pixels)")
            self.init(epochs: try c.decode(Int.self, forKey: .epochs), inputSize: try c.decode(Int.self, forKey: .inputSize))
        }

        public func validate() throws(SettingError) {
            try SettingError.check(epochs, in: 1...10_000, "epochs")
            try SettingError.check(inputSize, in: 32...1024, "input_size")
        }
    }

    public var stages: [Stage]

    public init(stages: [Stage]) { self.stages = stages }

    public init(from decoder: any Decoder) throws {
        stages = try decoder.singleValueContainer().decode([Stage].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(stages)
    }

    public func validate() throws(SettingError) {
        guard !stages.isEmpty else { throw SettingError([], "at least one stage ({epochs: N, input_size: PX}), or leave it out") }
    }

    /// The input size of epoch `epoch` (from 0) of a model whose own size is `final`.
    public func inputSize(epoch: Int, final: Int) -> Int {
        var end = 0
        for stage in stages {
            end += stage.epochs
            if epoch < end { return stage.inputSize }
        }
        return final
    }

    /// The epochs the stages take.
    public var stagedEpochs: Int { stages.reduce(0) { $0 + $1.epochs } }

    /// Why `spec` cannot train with these stages (nil when it can).
    func problem(for spec: ModelSpec) -> (keys: [String], text: String)? {
        if stagedEpochs >= spec.epochs {
            return ([], "the stages take \(stagedEpochs) epochs of the model's \(spec.epochs): leave some for input_size \(spec.inputSize)")
        }
        let minimum = BackboneRegistry.minimumInputSize(spec.backbone)
        if let (index, stage) = stages.enumerated().first(where: { $0.element.inputSize < minimum }) {
            return ([String(index), "input_size"], "\(spec.backbone) needs an input of at least \(minimum) px, got \(stage.inputSize)")
        }
        return nil
    }
}
