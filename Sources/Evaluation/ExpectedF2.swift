import PlanetData

/// The per-chip "Bayes" decision (ods.ai, 7th place): choose the tag set with the highest expected F2
/// when the 17 labels are independent Bernoulli(p) with the model's probabilities.
///
/// Under independence the optimal set is always one of the 18 top-k sets (the k most probable
/// labels, k = 0...17): D. D. Lewis, "Evaluating and optimizing autonomous text classification
/// systems", SIGIR 1995; M. Jansche, "A maximum expected utility framework for binary sequence
/// labeling", ACL 2007; N. Ye, K. M. A. Chai, W. S. Lee, H. L. Chieu, "Optimizing F-measures: a tale
/// of two approaches", ICML 2012 (the probability ranking principle for F-measures).
///
/// The expected F2 of a set S of k labels is exact: with A = true positives among S (Poisson-binomial
/// over S's probabilities) and B = positives outside S (Poisson-binomial over the others),
/// F2 = 5A / (5A + 4B + (k − A)) = 5A / (4(A + B) + k) when A > 0, and 0 when A = 0 (the metric's
/// zero_division=0). Hence the empty set always scores 0, and it is chosen only when every set does.
public enum ExpectedF2 {
    /// The top-k set with the highest expected F2. Labels are ranked by decreasing probability (equal
    /// probabilities by label order); ties between k go to the smaller set.
    public static func decide(_ probabilities: [Float]) -> LabelSet {
        precondition(probabilities.count == PlanetLabels.count, "\(probabilities.count) probabilities")
        let n = PlanetLabels.count
        let order = (0..<n).sorted { probabilities[$0] > probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 < $1) }
        let p = order.map { Double(min(1, max(0, probabilities[$0]))) }
        // suffix[k] = distribution of positives among the labels ranked k..<n (the ones left out of top-k).
        var suffix = [[Double]](repeating: [], count: n + 1)
        suffix[n] = [1]
        for k in stride(from: n - 1, through: 0, by: -1) { suffix[k] = adding(p[k], to: suffix[k + 1]) }
        var chosen: [Double] = [1]  // distribution of true positives among the top k
        var bestK = 0, bestValue = 0.0
        for k in 1...n {
            chosen = adding(p[k - 1], to: chosen)
            let value = expectation(chosen: chosen, rest: suffix[k], size: k)
            if value > bestValue + 1e-15 { bestK = k; bestValue = value }
        }
        return LabelSet(indices: order.prefix(bestK))
    }

    /// The exact expected F2 of predicting `set` for a chip whose labels are independent Bernoulli(p).
    public static func expectedF2(of set: LabelSet, probabilities: [Float]) -> Double {
        precondition(probabilities.count == PlanetLabels.count, "\(probabilities.count) probabilities")
        var chosen: [Double] = [1], rest: [Double] = [1]
        for label in 0..<PlanetLabels.count {
            let p = Double(min(1, max(0, probabilities[label])))
            if set.contains(label) { chosen = adding(p, to: chosen) } else { rest = adding(p, to: rest) }
        }
        return expectation(chosen: chosen, rest: rest, size: set.count)
    }

    /// The Poisson-binomial distribution `distribution` (P(count = i) at index i) with one more
    /// Bernoulli(p) added.
    static func adding(_ p: Double, to distribution: [Double]) -> [Double] {
        var result = [Double](repeating: 0, count: distribution.count + 1)
        for (i, q) in distribution.enumerated() {
            result[i] += q * (1 - p)
            result[i + 1] += q * p
        }
        return result
    }

    /// E[5A / (4(A + B) + k)] over A > 0, A and B independent.
    static func expectation(chosen: [Double], rest: [Double], size k: Int) -> Double {
        var sum = 0.0
        for a in 1..<chosen.count where chosen[a] > 0 {
            var inner = 0.0
            for (b, q) in rest.enumerated() where q > 0 { inner += q * 5 * Double(a) / Double(4 * (a + b) + k) }
            sum += chosen[a] * inner
        }
        return sum
    }
}
