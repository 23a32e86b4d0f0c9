import Foundation

extension SeededRandom {
    /// Uniform in (0, 1], in Double (never 0, so its logarithm is finite).
    public mutating func nextOpenUniform() -> Double {
        (Double(next() >> 11) + 1) * 0x1p-53
    }

    /// A draw from Beta(a, b), a, b > 0: X / (X + Y) for X ~ Gamma(a), Y ~ Gamma(b), taken as
    /// 1 / (1 + e^(log Y − log X)) from the Gammas' logarithms, so a small shape (mixup's α = 0.2,
    /// whose Gamma draws can be below Double's least value) still gives a λ in [0, 1], never 0/0.
    public mutating func nextBeta(_ a: Double, _ b: Double) -> Double {
        let logX = nextLogGamma(shape: a), logY = nextLogGamma(shape: b)
        return 1 / (1 + Foundation.exp(logY - logX))
    }

    /// The logarithm of a draw from Gamma(shape, 1), shape > 0. Marsaglia and Tsang (2000): for
    /// shape ≥ 1, d = shape − 1/3, c = 1/√(9d); draw x ~ N(0, 1) until v = (1 + c·x)³ > 0 and a
    /// uniform u passes the squeeze u < 1 − 0.0331·x⁴ or log u < x²/2 + d·(1 − v + log v); the draw
    /// is d·v. For shape < 1, Gamma(shape) = Gamma(shape + 1) · U^(1/shape), in logarithms.
    public mutating func nextLogGamma(shape: Double) -> Double {
        precondition(shape > 0 && shape.isFinite, "Gamma shape \(shape)")
        if shape < 1 { return nextLogGamma(shape: shape + 1) + Foundation.log(nextOpenUniform()) / shape }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double, v: Double
            repeat {
                x = nextStandardNormal()
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = nextOpenUniform(), x2 = x * x
            if u < 1 - 0.0331 * x2 * x2 || Foundation.log(u) < 0.5 * x2 + d * (1 - v + Foundation.log(v)) {
                return Foundation.log(d) + Foundation.log(v)
            }
        }
    }

    /// Standard normal in Double (Box–Muller, the cosine branch).
    public mutating func nextStandardNormal() -> Double {
        let u1 = nextOpenUniform(), u2 = nextOpenUniform()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * .pi * u2)
    }
}
