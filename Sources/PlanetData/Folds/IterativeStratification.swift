import Tensor

/// K folds for multi-label data by iterative stratification: K. Sechidis, G. Tsoumakas, I. Vlahavas,
/// "On the Stratification of Multi-Label Data", ECML PKDD 2011.
///
/// The rarest label still unplaced goes first: each of its chips goes to the fold that most wants
/// that label (ties: the fold that wants most chips, then a seeded coin), and every label of the chip
/// counts against that fold's wishes. Rare labels are thus spread before common ones can crowd them
/// out; chips with no label at all fill the folds that want most chips. Seeded: the same label sets,
/// K and seed give the same folds on every machine.
///
/// Then a balancing pass (Canopy's, not the paper's): on Planet's labels the weather labels are
/// placed before `primary`, so by its turn almost every chip is placed and `primary` ends up to ±16
/// from the mean. Swapping a chip whose set is S ∪ {l} in the fullest fold for one whose set is S in the
/// emptiest moves exactly one `l` and changes nothing else, so each label is evened to within one
/// without disturbing the others or the fold sizes.
public enum IterativeStratification {
    /// The fold (0..<folds) of each of `labelSets`.
    public static func assign(_ labelSets: [LabelSet], folds: Int, seed: UInt64) -> [Int] {
        precondition(folds >= 2, "at least two folds")
        let count = labelSets.count
        var random = SeededRandom(seed: seed)
        var assignment = [Int](repeating: -1, count: count)
        // Chips of each label, visited in a seeded order so ties do not follow file order.
        var order = Array(0..<count)
        order.shuffle(using: &random)
        var chipsOfLabel = [[Int]](repeating: [], count: PlanetLabels.count)
        for chip in order { for label in labelSets[chip].indices { chipsOfLabel[label].append(chip) } }

        // Desired chips per fold, and desired chips of each label per fold (fractional, as in the paper).
        var wantedChips = [Double](repeating: Double(count) / Double(folds), count: folds)
        var wantedOfLabel = chipsOfLabel.map { [Double](repeating: Double($0.count) / Double(folds), count: folds) }
        var unplacedOfLabel = chipsOfLabel.map(\.count)

        func place(_ chip: Int, preferring label: Int?) {
            var best: [Int] = []
            var bestKey = (-Double.infinity, -Double.infinity)
            for fold in 0..<folds {
                let key = (label.map { wantedOfLabel[$0][fold] } ?? wantedChips[fold], wantedChips[fold])
                if key > bestKey { bestKey = key; best = [fold] } else if key == bestKey { best.append(fold) }
            }
            let fold = best.count == 1 ? best[0] : best[Int(random.next() % UInt64(best.count))]
            assignment[chip] = fold
            wantedChips[fold] -= 1
            for other in labelSets[chip].indices {
                wantedOfLabel[other][fold] -= 1
                unplacedOfLabel[other] -= 1
            }
        }

        while true {
            // The label with the fewest unplaced chips (ties: the lower index, deterministic).
            var rarest: Int?
            for label in 0..<PlanetLabels.count where unplacedOfLabel[label] > 0 {
                if rarest == nil || unplacedOfLabel[label] < unplacedOfLabel[rarest!] { rarest = label }
            }
            guard let label = rarest else { break }
            for chip in chipsOfLabel[label] where assignment[chip] < 0 { place(chip, preferring: label) }
        }
        for chip in order where assignment[chip] < 0 { place(chip, preferring: nil) }
        balance(&assignment, labelSets: labelSets, folds: folds)
        return assignment
    }

    /// Evens fold sizes to within one chip, then each label's per-fold counts to within one, by moves
    /// and swaps that leave every other label's counts as they were.
    static func balance(_ assignment: inout [Int], labelSets: [LabelSet], folds: Int) {
        // chipsOf[mask][fold]: the chips with exactly that label set in that fold.
        var chipsOf: [UInt32: [[Int]]] = [:]
        for (chip, set) in labelSets.enumerated() {
            chipsOf[set.mask, default: [[Int]](repeating: [], count: folds)][assignment[chip]].append(chip)
        }
        let masks = chipsOf.keys.sorted()
        func move(_ mask: UInt32, from: Int, to: Int) {
            let chip = chipsOf[mask]![from].removeLast()
            chipsOf[mask]![to].append(chip)
            assignment[chip] = to
        }

        // Sizes first: move chips of the commonest set from the fullest fold to the emptiest.
        var sizes = [Int](repeating: 0, count: folds)
        for fold in assignment { sizes[fold] += 1 }
        while let full = sizes.indices.max(by: { sizes[$0] < sizes[$1] }), let empty = sizes.indices.min(by: { sizes[$0] < sizes[$1] }),
              sizes[full] - sizes[empty] > 1 {
            guard let mask = masks.max(by: { chipsOf[$0]![full].count < chipsOf[$1]![full].count }), !chipsOf[mask]![full].isEmpty else { break }
            move(mask, from: full, to: empty)
            sizes[full] -= 1
            sizes[empty] += 1
        }

        // Then each label, by swaps of S ∪ {l} (fullest fold) against S (emptiest fold).
        for label in 0..<PlanetLabels.count {
            let bit = UInt32(1) << UInt32(label)
            var counts = [Int](repeating: 0, count: folds)
            for mask in masks where mask & bit != 0 { for fold in 0..<folds { counts[fold] += chipsOf[mask]![fold].count } }
            while let full = counts.indices.max(by: { counts[$0] < counts[$1] }), let empty = counts.indices.min(by: { counts[$0] < counts[$1] }),
                  counts[full] - counts[empty] > 1 {
                guard let without = masks.first(where: { mask in
                    mask & bit == 0 && !chipsOf[mask]![empty].isEmpty && !(chipsOf[mask | bit]?[full].isEmpty ?? true)
                }) else { break }  // no pair to swap: leave this label as placed
                move(without | bit, from: full, to: empty)
                move(without, from: empty, to: full)
                counts[full] -= 1
                counts[empty] += 1
            }
        }
    }

    /// Chips of each label in each fold: `counts[label][fold]`.
    public static func labelCounts(_ labelSets: [LabelSet], assignment: [Int], folds: Int) -> [[Int]] {
        var counts = [[Int]](repeating: [Int](repeating: 0, count: folds), count: PlanetLabels.count)
        for (chip, set) in labelSets.enumerated() { for label in set.indices { counts[label][assignment[chip]] += 1 } }
        return counts
    }
}
