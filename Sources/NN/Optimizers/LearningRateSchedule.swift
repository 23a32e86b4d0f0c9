import Foundation

/// Learning rate as a function of progress. `step`-based schedules count optimiser steps (batches),
/// `epoch`-based ones count epochs; each says which.
public enum LearningRateSchedule: Sendable, Equatable {
    /// Constant.
    case constant
    /// Epochs: multiply by `gamma` every `stepSize` epochs (torch StepLR).
    case step(stepSize: Int, gamma: Float)
    /// Steps: linear warm-up from `warmupStartFactor`·base to base over `warmupSteps`, then cosine
    /// annealing to `minimum` at `totalSteps`.
    case cosine(warmupSteps: Int, totalSteps: Int, minimum: Float, warmupStartFactor: Float)
    /// Steps: torch OneCycleLR (cosine annealing, two phases): from max/`divFactor` up to max over
    /// `pctStart` of `totalSteps`, then down to max/(`divFactor`·`finalDivFactor`).
    case oneCycle(totalSteps: Int, pctStart: Float, divFactor: Float, finalDivFactor: Float)

    /// The learning rate at `progress` (a step or an epoch count from 0, as the case says) for `base`
    /// (the maximum, for one-cycle).
    public func learningRate(base: Float, at progress: Int) -> Float {
        switch self {
        case .constant:
            return base
        case .step(let stepSize, let gamma):
            return base * pow(gamma, Float(progress / max(stepSize, 1)))
        case .cosine(let warmupSteps, let totalSteps, let minimum, let warmupStartFactor):
            if progress < warmupSteps {
                let fraction = Float(progress) / Float(max(warmupSteps, 1))
                return base * (warmupStartFactor + (1 - warmupStartFactor) * fraction)
            }
            let span = max(totalSteps - warmupSteps, 1)
            let fraction = min(Float(progress - warmupSteps) / Float(span), 1)
            return minimum + (base - minimum) * (1 + cos(.pi * fraction)) / 2
        case .oneCycle(let totalSteps, let pctStart, let divFactor, let finalDivFactor):
            // torch: phase ends at float(pct_start·total) − 1 and total − 1; cos annealing between.
            let initial = base / divFactor, final = initial / finalDivFactor
            let warmEnd = pctStart * Float(totalSteps) - 1, end = Float(totalSteps - 1)
            let t = Float(progress)
            func anneal(_ start: Float, _ stop: Float, _ pct: Float) -> Float { stop + (start - stop) / 2 * (cos(.pi * pct) + 1) }
            if t <= warmEnd { return anneal(initial, base, t / warmEnd) }
            return anneal(base, final, (t - warmEnd) / (end - warmEnd))
        }
    }

    /// torch OneCycleLR's defaults.
    public static func oneCycle(totalSteps: Int) -> LearningRateSchedule {
        .oneCycle(totalSteps: totalSteps, pctStart: 0.3, divFactor: 25, finalDivFactor: 1e4)
    }
}

/// Reduce-on-plateau (torch ReduceLROnPlateau, threshold mode "rel"): after `patience` epochs without
/// improving on the best metric by more than `threshold` (relative), multiply the rate by `factor`,
/// then wait `cooldown` epochs; never below `minimum`.
public struct ReduceOnPlateau: Sendable, Equatable {
    public enum Goal: Sendable { case minimize, maximize }
    public var goal: Goal
    public var factor: Float
    public var patience: Int
    public var threshold: Float
    public var cooldown: Int
    public var minimum: Float
    public private(set) var learningRate: Float
    private var best: Float?
    private var badEpochs = 0
    private var cooldownLeft = 0

    public init(learningRate: Float, goal: Goal = .minimize, factor: Float = 0.1, patience: Int = 10,
                threshold: Float = 1e-4, cooldown: Int = 0, minimum: Float = 0) {
        self.learningRate = learningRate
        self.goal = goal
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.cooldown = cooldown
        self.minimum = minimum
    }

    /// Records one epoch's metric and returns the learning rate to use next.
    public mutating func record(metric: Float) -> Float {
        let improved: Bool
        if let best {
            improved = goal == .minimize ? metric < best * (1 - threshold) : metric > best * (1 + threshold)
        } else {
            improved = true
        }
        if improved {
            best = metric
            badEpochs = 0
        } else {
            badEpochs += 1
        }
        if cooldownLeft > 0 {
            cooldownLeft -= 1
            badEpochs = 0
        }
        if badEpochs > patience {
            learningRate = max(learningRate * factor, minimum)
            cooldownLeft = cooldown
            badEpochs = 0
        }
        return learningRate
    }
}
