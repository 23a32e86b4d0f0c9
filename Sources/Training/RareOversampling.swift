import PlanetData

/// A model's `oversample_rare:`: chips that carry a rare label are drawn more than once an epoch, so
/// a label on 1% of the chips is seen in more batches (each draw augmented anew). A label is rare
/// when it is on fewer than `below` of the training fold's chips; a chip with one is drawn `times`
/// times an epoch, every other chip once. An epoch grows by the repeats.
public struct RareOversampling: Codable, Sendable, Equatable, ValidatedSettings {
    public var below: Float = 0.05
    public var times: Int = 3

    public init(below: Float = 0.05, times: Int = 3) {
        self.below = below
        self.times = times
    }

    enum CodingKeys: String, SettingKeys { case below, times }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        below = try c.setting(.below) ?? below
        times = try c.setting(.times) ?? times
    }

    public func validate() throws(SettingError) {
        try SettingError.check(below, in: 0...1, "below")
        try SettingError.check(times, in: 1...100, "times")
    }

    /// The labels on fewer than `below` of `chips`.
    public func rareLabels(in chips: [DatasetChip]) -> LabelSet {
        var counts = [Int](repeating: 0, count: PlanetLabels.count)
        for chip in chips {
            for label in 0..<PlanetLabels.count where chip.labels?.contains(label) == true { counts[label] += 1 }
        }
        var rare = LabelSet()
        for label in 0..<PlanetLabels.count where counts[label] > 0 && Float(counts[label]) < below * Float(chips.count) {
            rare.insert(label)
        }
        return rare
    }

    /// `chips` with every chip that carries a rare label repeated `times` times, in place (the
    /// loader shuffles each epoch).
    public func expand(_ chips: [DatasetChip]) -> [DatasetChip] {
        let rare = rareLabels(in: chips)
        guard !rare.isEmpty, times > 1 else { return chips }
        return chips.flatMap { chip in
            chip.labels.map { $0.mask & rare.mask != 0 } == true ? Array(repeating: chip, count: times) : [chip]
        }
    }
}
