import PlanetData
import Tensor

/// Draws label sets with the real training labels' frequencies (`RealLabelSets`), so co-occurrence is
/// the competition's: one weather label per chip, nothing on the ground under `cloudy`, roads with
/// agriculture and habitation, and so on.
public struct LabelSetDistribution: Sendable {
    public let sets: [LabelSet]
    public let counts: [Int]
    /// Running totals of `counts`: a draw is a binary search in here.
    private let cumulative: [Int]

    public init(sets: [LabelSet], counts: [Int]) {
        precondition(sets.count == counts.count && !sets.isEmpty && counts.allSatisfy { $0 > 0 })
        self.sets = sets
        self.counts = counts
        var total = 0
        cumulative = counts.map { total += $0; return total }
    }

    /// The competition's train_v2.csv, summarised.
    public static let real = LabelSetDistribution(sets: RealLabelSets.entries.map { LabelSet(mask: $0.mask) },
                                                  counts: RealLabelSets.entries.map(\.count))

    /// Rows the counts add up to.
    public var total: Int { cumulative.last! }

    /// A set drawn in proportion to its count.
    public func draw(_ random: inout SeededRandom) -> LabelSet {
        let target = Int(random.next() % UInt64(total))
        var low = 0, high = cumulative.count - 1
        while low < high {
            let middle = (low + high) / 2
            if cumulative[middle] > target { high = middle } else { low = middle + 1 }
        }
        return sets[low]
    }

    /// The sets that contain `label`, with their counts (nil when none does).
    public func restricted(toSetsContaining label: Int) -> LabelSetDistribution? {
        let kept = zip(sets, counts).filter { $0.0.contains(label) }
        guard !kept.isEmpty else { return nil }
        return LabelSetDistribution(sets: kept.map(\.0), counts: kept.map(\.1))
    }
}
