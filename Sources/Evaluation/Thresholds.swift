import PlanetData

/// Decision thresholds tuned for the competition metric (mean F2 over chips), on out-of-fold
/// probabilities. Label l is on when p ≥ threshold (as `Metrics.decide`).
///
/// Both searches evaluate every grid value exactly. Each chip's F2 is rounded to a multiple of 2⁻⁴⁰
/// and summed as an integer, so sums do not depend on their order: a chip contributes to a run of grid
/// values through a difference array (two additions, not one per grid value), two grid values giving
/// the same decisions get identical totals, and ties are real ties. (The rounding moves a mean F2 by
/// less than 10⁻¹²; up to 2²² chips fit in the 64-bit sums.)
public enum ThresholdSearch {
    /// 0.01, 0.02, ..., 0.99.
    public static let defaultGrid: [Float] = (1...99).map { Float($0) / 100 }

    /// The flat threshold that ties are broken towards: the best flat threshold for F2 sits near 0.2.
    public static let preferredThreshold: Float = 0.2

    /// The mean F2 of the decisions `probabilities` give under `thresholds` (17 per label).
    public static func meanF2(probabilities: [[Float]], truth: [LabelSet], thresholds: [Float]) -> Double {
        precondition(probabilities.count == truth.count, "\(probabilities.count) rows, \(truth.count) truths")
        return Metrics.meanF2(truth: truth, predicted: probabilities.map { Metrics.decide($0, thresholds: thresholds) })
    }

    /// The best single threshold for every label, on mean F2 (the score returned is `Metrics.meanF2`
    /// at that threshold).
    ///
    /// Ties (equal mean F2, which every stretch of the grid with no probability in it gives) go to the
    /// grid value nearest `preferredThreshold` (0.2), and between two equally near to the lower one.
    /// No chips: (the grid value nearest 0.2, 0).
    public static func global(probabilities: [[Float]], truth: [LabelSet], grid: [Float] = defaultGrid) -> (threshold: Float, meanF2: Double) {
        precondition(probabilities.count == truth.count, "\(probabilities.count) rows, \(truth.count) truths")
        for (chip, row) in probabilities.enumerated() { precondition(row.count == PlanetLabels.count, "row \(chip) has \(row.count) probabilities") }
        let index = GridIndex(grid)
        let totals = globalTotals(chips: probabilities.count, truth: truth, grid: index) { chip, label in probabilities[chip][label] }
        let best = bestIndex(totals: totals, grid: index.values, preferred: { abs($0 - preferredThreshold) })
        let threshold = index.values[best]
        return (threshold, meanF2(probabilities: probabilities, truth: truth, thresholds: [Float](repeating: threshold, count: PlanetLabels.count)))
    }

    /// Per grid value, the sum over chips of each chip's F2 (fixed point, see `fixed`).
    ///
    /// Per chip: count[l] = how many grid values are ≤ p_l, so label l is on exactly at grid indices
    /// j < count[l]. Sorting the labels by that count, descending, the predicted set at j is a prefix of
    /// that order, and each prefix's F2 covers a contiguous run of grid indices: a difference array
    /// takes it in two additions. O(chips · 17 · (sort + lookup) + grid).
    @inline(__always)
    static func globalTotals(chips: Int, truth: [LabelSet], grid: GridIndex, probability: (Int, Int) -> Float) -> [Int64] {
        precondition(chips < 1 << 22, "\(chips) chips: over the 2^22 the fixed-point sums hold")
        precondition(truth.count >= chips, "\(truth.count) truths for \(chips) chips")
        let labels = PlanetLabels.count, size = grid.values.count
        var difference = [Int64](repeating: 0, count: size + 1)
        difference.withUnsafeMutableBufferPointer { difference in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: labels) { keys in
                for chip in 0..<chips {
                    // key = count << 8 | label, sorted descending by insertion (17 items): the labels from
                    // the most probable down, each with how many grid values it is on for.
                    for l in 0..<labels {
                        let key = UInt32(grid.count(atOrBelow: probability(chip, l))) << 8 | UInt32(l)
                        var j = l
                        while j > 0 && keys[j - 1] < key { keys[j] = keys[j - 1]; j -= 1 }
                        keys[j] = key
                    }
                    let positives = truth[chip].count, mask = truth[chip].mask
                    var tp = 0
                    // The top m labels are predicted at grid indices [count of label m+1, count of label m),
                    // with the count before the first = grid size and after the last = 0.
                    var upper = size
                    for m in 0...labels {
                        if m > 0 && mask & (1 << (keys[m - 1] & 0xFF)) != 0 { tp += 1 }
                        let lower = m < labels ? Int(keys[m] >> 8) : 0
                        if lower < upper {
                            let f2 = fixed(Metrics.fScore(truePositives: tp, falsePositives: m - tp, falseNegatives: positives - tp))
                            difference[lower] &+= f2
                            difference[upper] &-= f2
                            upper = lower
                            if upper == 0 { break }
                        }
                    }
                }
            }
        }
        var totals = [Int64](repeating: 0, count: size)
        var running: Int64 = 0
        for j in 0..<size { running &+= difference[j]; totals[j] = running }
        return totals
    }

    /// Per-label thresholds by coordinate ascent on the whole mean F2: one label at a time, every grid
    /// value is tried with the other labels' thresholds held, for up to `passes` passes over the 17
    /// labels (stopping early when a pass changes nothing).
    ///
    /// Guarded against fitting noise on rare labels: a label with fewer than `minimumSupport` positive
    /// chips keeps its start threshold, and a move is taken only when it raises mean F2 by at least
    /// `minimumGain`. Among grid values tied for the best, the one nearest the label's current
    /// threshold wins (then the lower). `start` defaults to the best global threshold for every label.
    ///
    /// Incremental: each chip keeps its true-positive/false-positive/false-negative counts under the
    /// current thresholds. Changing label l's threshold only flips l's decision, so each chip has just
    /// two possible F2 values (l on, l off); it adds "on" below its grid cut and "off" above through a
    /// difference array: O(chips + grid) per label after O(chips · lookup) to find the cuts.
    public static func perLabel(probabilities: [[Float]], truth: [LabelSet], start: [Float]? = nil, grid: [Float] = defaultGrid,
                                passes: Int = 3, minimumSupport: Int = 20, minimumGain: Double = 1e-4) -> [Float] {
        precondition(probabilities.count == truth.count, "\(probabilities.count) rows, \(truth.count) truths")
        let labels = PlanetLabels.count, chips = probabilities.count
        precondition(chips < 1 << 22, "\(chips) chips: over the 2^22 the fixed-point sums hold")
        for (chip, row) in probabilities.enumerated() { precondition(row.count == labels, "row \(chip) has \(row.count) probabilities") }
        var thresholds = start ?? [Float](repeating: global(probabilities: probabilities, truth: truth, grid: grid).threshold, count: labels)
        precondition(thresholds.count == labels, "\(thresholds.count) start thresholds")
        guard chips > 0 else { return thresholds }
        let index = GridIndex(grid), size = index.values.count

        // Per chip: counts under the current thresholds, and its F2 (fixed point).
        var tp = [Int32](repeating: 0, count: chips), fp = tp, fn = tp
        var f2 = [Int64](repeating: 0, count: chips)
        for chip in 0..<chips {
            let predicted = Metrics.decide(probabilities[chip], thresholds: thresholds), truthMask = truth[chip].mask
            tp[chip] = Int32((truthMask & predicted.mask).nonzeroBitCount)
            fp[chip] = Int32((predicted.mask & ~truthMask).nonzeroBitCount)
            fn[chip] = Int32((truthMask & ~predicted.mask).nonzeroBitCount)
            f2[chip] = fixed(Metrics.fScore(truePositives: Int(tp[chip]), falsePositives: Int(fp[chip]), falseNegatives: Int(fn[chip])))
        }
        let support = Self.support(truth)
        var onF2 = [Int64](repeating: 0, count: chips), offF2 = onF2
        var difference = [Int64](repeating: 0, count: size + 1), totals = [Int64](repeating: 0, count: size)

        for _ in 0..<max(0, passes) {
            var changed = false
            for label in 0..<labels where support[label] >= minimumSupport {
                let bit = UInt32(1) << UInt32(label), threshold = thresholds[label]
                var current: Int64 = 0
                for j in difference.indices { difference[j] = 0 }
                for chip in 0..<chips {
                    let probability = probabilities[chip][label]
                    let isTrue = truth[chip].mask & bit != 0, isOn = probability >= threshold
                    // The chip's counts without this label's decision, then its F2 with the label on and off.
                    var t = Int(tp[chip]), p = Int(fp[chip]), n = Int(fn[chip])
                    if isTrue { if isOn { t -= 1 } else { n -= 1 } } else if isOn { p -= 1 }
                    let on = fixed(isTrue ? Metrics.fScore(truePositives: t + 1, falsePositives: p, falseNegatives: n)
                                          : Metrics.fScore(truePositives: t, falsePositives: p + 1, falseNegatives: n))
                    let off = fixed(isTrue ? Metrics.fScore(truePositives: t, falsePositives: p, falseNegatives: n + 1)
                                           : Metrics.fScore(truePositives: t, falsePositives: p, falseNegatives: n))
                    onF2[chip] = on
                    offF2[chip] = off
                    current &+= f2[chip]
                    // On at grid indices below the cut, off from it on.
                    let cut = index.count(atOrBelow: probability)
                    difference[0] &+= on
                    difference[cut] &+= off &- on
                }
                var running: Int64 = 0
                for j in 0..<size { running &+= difference[j]; totals[j] = running }
                let best = bestIndex(totals: totals, grid: index.values, preferred: { abs($0 - threshold) })
                let gain = Double(totals[best] &- current) / fixedOne / Double(chips)
                guard gain >= minimumGain, index.values[best] != threshold else { continue }
                let newThreshold = index.values[best]
                thresholds[label] = newThreshold
                changed = true
                for chip in 0..<chips {
                    let p = probabilities[chip][label]
                    let wasOn = p >= threshold, isOn = p >= newThreshold
                    guard wasOn != isOn else { continue }
                    if truth[chip].mask & bit != 0 {
                        if isOn { tp[chip] += 1; fn[chip] -= 1 } else { tp[chip] -= 1; fn[chip] += 1 }
                    } else {
                        fp[chip] += isOn ? 1 : -1
                    }
                    f2[chip] = isOn ? onF2[chip] : offF2[chip]
                }
            }
            if !changed { break }
        }
        return thresholds
    }

    /// Each label's positive chips in `truth` (its support), in label order.
    public static func support(_ truth: [LabelSet]) -> [Int] {
        (0..<PlanetLabels.count).map { label in truth.reduce(0) { $0 + ($1.contains(label) ? 1 : 0) } }
    }

    /// Per-label thresholds shrunk toward `global` by each label's support n (its positive chips):
    /// t' = g + (t − g) · n / (n + K), K = `strength`. A label keeps n/(n + K) of its move away from g:
    /// with K = 20, one with 5 positives tuned from 0.2 to 0.6 ends at 0.28 (a fifth of the move), one
    /// with 2000 positives keeps 99% of it. So a rare label's threshold, fitted on a handful of chips,
    /// slides toward the global one smoothly instead of by `perLabel`'s hard `minimumSupport` switch
    /// (which still applies first: a label below it was never moved, and stays at g). K = 0 returns
    /// `thresholds` unchanged; so does a label at g. Computed in Double from the exact integers n and K,
    /// then rounded once to Float: the same inputs give the same bits (no sums, no order).
    ///
    /// Meant for `perLabel`'s result, applied after the ascent rather than inside it. Inside, each
    /// coordinate step would score every grid value t at its shrunk image g + (t − g)·w, and so pick
    /// whichever point of the narrowed range [g + (0.01 − g)·w, g + (0.99 − g)·w] scores best: the
    /// shrinkage would only clip the range, and a label whose best threshold lies inside it would not be
    /// pulled toward g at all, the fit undoing the very prior that is meant to temper it. Shrinking the
    /// finished estimate keeps the two apart, as a shrinkage estimator does. The price: the other labels'
    /// thresholds were tuned with this label at t, not t' (a label's threshold changes only its own
    /// decisions, so the coupling is through each chip's F2 alone), and they are not re-tuned afterwards,
    /// which would fit the same out-of-fold noise back into them.
    public static func shrink(_ thresholds: [Float], toward global: Float, support: [Int], strength: Int) -> [Float] {
        precondition(thresholds.count == support.count, "\(thresholds.count) thresholds, \(support.count) supports")
        precondition(strength >= 0 && support.allSatisfy { $0 >= 0 }, "negative shrinkage \(strength) or support")
        guard strength > 0 else { return thresholds }
        return zip(thresholds, support).map { threshold, n in
            let kept = Double(n) / Double(n + strength)
            return Float(Double(global) + (Double(threshold) - Double(global)) * kept)
        }
    }

    // MARK: Shared pieces

    /// 2⁴⁰: F2 values are summed as integer multiples of 2⁻⁴⁰.
    static let fixedOne: Double = 0x1p40

    @inline(__always)
    static func fixed(_ value: Double) -> Int64 { Int64((value * fixedOne).rounded()) }

    /// The index of the highest total; ties go to the smallest `preferred` distance, then to the lower
    /// grid value.
    static func bestIndex(totals: [Int64], grid: [Float], preferred distance: (Float) -> Float) -> Int {
        let top = totals.max() ?? 0
        var best = -1
        for j in totals.indices where totals[j] == top {
            if best < 0 || distance(grid[j]) < distance(grid[best]) { best = j }
        }
        return best
    }
}

/// A threshold grid, sorted and without repeats, and a fast "how many grid values are ≤ p": a table
/// of 1024 buckets over the grid's range gives a starting point that a short scan corrects, so the
/// answer is exact whatever the spacing of the grid.
struct GridIndex {
    let values: [Float]
    private let start: [Int32]
    private let low: Float, high: Float, scale: Float

    init(_ grid: [Float]) {
        precondition(!grid.isEmpty, "an empty threshold grid")
        precondition(grid.allSatisfy(\.isFinite), "a threshold grid with NaN or infinity")
        var unique: [Float] = []
        for value in grid.sorted() where unique.last != value { unique.append(value) }
        values = unique
        low = unique.first!
        high = unique.last!
        let buckets = 1024
        scale = high > low ? Float(buckets) / (high - low) : 0
        var start = [Int32](repeating: 0, count: buckets + 1)
        var index = 0
        for bucket in 0...buckets {
            let edge = low + Float(bucket) / max(scale, .leastNonzeroMagnitude)
            while index < unique.count && unique[index] <= edge { index += 1 }
            start[bucket] = Int32(index)
        }
        self.start = start
    }

    /// How many grid values are ≤ `value`: label on (p ≥ t) exactly at grid indices below it. NaN: 0.
    @inline(__always)
    func count(atOrBelow value: Float) -> Int {
        guard value >= low else { return 0 }  // also NaN
        guard value < high else { return values.count }
        var index = Int(start[min(start.count - 1, Int((value - low) * scale))])
        while index < values.count && values[index] <= value { index += 1 }
        while index > 0 && values[index - 1] > value { index -= 1 }
        return index
    }
}
