import PlanetData

/// A model's `oversample_rare:`: chips that carry a rare label are drawn more than once an epoch, so
/// a label on 1% of the chips is seen in more batches (each draw augmented anew). A label is rare
/// when it is on fewer than `below` of the training fold's chips; a chip with one is drawn `times`
/// times an epoch, every other chip once. An epoch grows by the repeats, unless `keep_epoch_size`:
/// then each epoch draws as many chips as the fold has from the list with the repeats (a seeded
/// shuffle, cut), so rare chips keep their larger share and an epoch's time does not depend on how
/// many rare chips the data holds.
public struct RareOversampling: Codable, Sendable, Equatable, ValidatedSettings {
    public var below: Float = 0.05
    public var times: Int = 3
    public var keepEpochSize = false

    public init(below: Float = 0.05, times: Int = 3, keepEpochSize: Bool = false) {
        self.below = below
        self.times = times
        self.keepEpochSize = keepEpochSize
    }

    enum CodingKeys: String, SettingKeys { case below, times, keepEpochSize = "keep_epoch_size" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        below = try c.setting(.below) ?? below
        times = try c.setting(.times) ?? times
        keepEpochSize = try c.setting(.keepEpochSize) ?? keepEpochSize
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(below, forKey: .below)
        try c.encode(times, forKey: .times)
        if keepEpochSize { try c.encode(keepEpochSize, forKey: .keepEpochSize) }
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

    /// Chips an epoch of `chips` draws: the fold's count under `keep_epoch_size`, else every repeat.
    public func drawnPerEpoch(_ chips: [DatasetChip]) -> Int {
        guard !keepEpochSize, times > 1 else { return chips.count }
        let rare = rareLabels(in: chips).mask
        return chips.count + (times - 1) * chips.count { chip in chip.labels.map { $0.mask & rare != 0 } == true }
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
