/// One epoch of one model on one fold, as the training log and the report show it.
public struct EpochRecord: Codable, Sendable, Equatable {
    public var epoch: Int
    public var trainLoss: Double
    public var validationLoss: Double
    /// Validation mean F2 at the best global threshold of a coarse grid.
    public var validationMeanF2: Double
    public var validationThreshold: Float
    public var learningRate: Float
    public var seconds: Double
    /// Seconds the training loop waited for the loader this epoch.
    public var loaderWaitSeconds: Double
    public var imagesPerSecond: Double
}

extension EpochRecord {
    enum CodingKeys: String, CodingKey {
        case epoch, trainLoss, validationLoss, validationMeanF2, validationThreshold, learningRate, seconds, loaderWaitSeconds, imagesPerSecond
    }

    /// An epoch with no validation chips (a refit on every chip) has NaN validation figures: they are
    /// left out of the JSON, and read back as NaN.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epoch = try c.decode(Int.self, forKey: .epoch)
        trainLoss = try c.decode(Double.self, forKey: .trainLoss)
        validationLoss = try c.decodeIfPresent(Double.self, forKey: .validationLoss) ?? .nan
        validationMeanF2 = try c.decodeIfPresent(Double.self, forKey: .validationMeanF2) ?? .nan
        validationThreshold = try c.decodeIfPresent(Float.self, forKey: .validationThreshold) ?? .nan
        learningRate = try c.decode(Float.self, forKey: .learningRate)
        seconds = try c.decode(Double.self, forKey: .seconds)
        loaderWaitSeconds = try c.decode(Double.self, forKey: .loaderWaitSeconds)
        imagesPerSecond = try c.decode(Double.self, forKey: .imagesPerSecond)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(epoch, forKey: .epoch)
        try c.encode(trainLoss, forKey: .trainLoss)
        if !validationLoss.isNaN { try c.encode(validationLoss, forKey: .validationLoss) }
        if !validationMeanF2.isNaN { try c.encode(validationMeanF2, forKey: .validationMeanF2) }
        if !validationThreshold.isNaN { try c.encode(validationThreshold, forKey: .validationThreshold) }
        try c.encode(learningRate, forKey: .learningRate)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(loaderWaitSeconds, forKey: .loaderWaitSeconds)
        try c.encode(imagesPerSecond, forKey: .imagesPerSecond)
    }
}

/// What training a fold produced: its history and which epoch's weights are kept.
public struct FoldOutcome: Sendable, Equatable {
    public var history: [EpochRecord]
    public var bestEpoch: Int
    public var stoppedEarly: Bool
    /// With `swa`: what the averaged weights (the fold's best.safetensors) scored.
    public var averaged: AveragedRecord? = nil
}

/// Progress reports from training and prediction; a pipeline prints them and logs them.
public protocol TrainingObserver: AnyObject {
    func batchEnded(model: String, fold: Int, epoch: Int, batch: Int, batches: Int, loss: Float, imagesPerSecond: Double)
    func epochEnded(model: String, fold: Int, record: EpochRecord, epochs: Int)
    func predictionProgress(what: String, done: Int, total: Int, imagesPerSecond: Double)
    func note(_ message: String)
    /// A fold picks up from its saved state after `afterEpoch` of its `epochs` epochs.
    func resumed(model: String, fold: Int, afterEpoch: Int, epochs: Int)
    /// A training batch was left out, its loss or a gradient not finite (`on_non_finite: skip_batch`);
    /// `message` names the model, fold, epoch, batch and what was not finite.
    func batchSkipped(model: String, fold: Int, epoch: Int, batch: Int, message: String)
    /// With `swa`: the averaged weights are the fold's model, validated as `record` says.
    func averaged(model: String, fold: Int, record: AveragedRecord)
}

extension TrainingObserver {
    /// Says so in a note.
    public func resumed(model: String, fold: Int, afterEpoch: Int, epochs: Int) {
        note("\(model) fold \(fold): resuming after epoch \(afterEpoch) of \(epochs)")
    }

    /// Says so in a note.
    public func averaged(model: String, fold: Int, record: AveragedRecord) {
        note(String(format: "%@ fold %d: weights averaged over epochs %d-%d: val loss %.4f  val F2 %.4f (t=%.2f)  %.0f s", model, fold,
                    record.firstEpoch, record.lastEpoch, record.validationLoss, record.validationMeanF2, record.validationThreshold, record.seconds))
    }

    /// Passes the message on as a note.
    public func batchSkipped(model: String, fold: Int, epoch: Int, batch: Int, message: String) {
        note(message)
    }
}

/// Training that must stop: a loss or gradient that is not finite, or a checkpoint that cannot be used.
public struct TrainingError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
