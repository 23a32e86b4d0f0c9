/// A seeded pseudo-random source (SplitMix64): the same seed gives the same numbers on every machine.
/// Injected wherever randomness is needed (initialisers, dropout, shuffling): there is no global one.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    /// False for a source from `skippingWeightInitialization(seed:)`: weight initialisers then leave
    /// their tensors at zero. Carried over by `split()`.
    public private(set) var initializesWeights = true

    public init(seed: UInt64) { state = seed }

    /// A source for building a model whose every weight is about to be replaced (by a checkpoint, or a
    /// test's own values): initialisers skip their draws, so a build costs its allocations only (a
    /// VGG's 130 M draws take seconds in a debug build). Other draws (dropout's streams) are as usual.
    public static func skippingWeightInitialization(seed: UInt64) -> SeededRandom {
        var random = SeededRandom(seed: seed)
        random.initializesWeights = false
        return random
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func nextUniform() -> Float {
        Float(next() >> 40) * (1.0 / Float(1 << 24))
    }

    /// Standard normal (Box–Muller).
    public mutating func nextNormal() -> Float {
        let u1 = max(Double(next() >> 11) * (1.0 / Double(1 << 53)), .leastNonzeroMagnitude)
        let u2 = Double(next() >> 11) * (1.0 / Double(1 << 53))
        return Float((-2 * _log(u1)).squareRoot() * _cos(2 * .pi * u2))
    }

    /// An independent stream derived from this one (for per-epoch or per-layer generators).
    public mutating func split() -> SeededRandom {
        var stream = SeededRandom(seed: next())
        stream.initializesWeights = initializesWeights
        return stream
    }
}

@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Foundation.cos(x) }

import Foundation
