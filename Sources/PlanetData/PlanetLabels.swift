/// The competition's 17 labels, in the one order Canopy uses everywhere (index 0...16): model outputs,
/// target vectors, thresholds, reports, and the tag order of a submission row.
/// Note the competition's own spelling `artisinal_mine`.
public enum PlanetLabels {
    public static let names: [String] = [
        "agriculture", "artisinal_mine", "bare_ground", "blooming", "blow_down", "clear", "cloudy",
        "conventional_mine", "cultivation", "habitation", "haze", "partly_cloudy", "primary", "road",
        "selective_logging", "slash_burn", "water",
    ]

    public static let count = 17

    private static let indexByName: [String: Int] = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })

    /// The index of `name`, or nil for a tag the competition does not have.
    public static func index(of name: String) -> Int? { indexByName[name] }

    /// `clear cloudy haze partly_cloudy`: exactly one per chip in the real labels.
    public static let weather: LabelSet = ["clear", "cloudy", "haze", "partly_cloudy"]
    /// Every label that is not weather: what is on the ground.
    public static let ground = LabelSet(mask: LabelSet.all.mask & ~weather.mask)
}

/// A chip's tags: a set of the 17 labels, held as a bit mask (bit i = label i).
public struct LabelSet: Hashable, Sendable, Codable, ExpressibleByArrayLiteral, CustomStringConvertible {
    public var mask: UInt32

    public init(mask: UInt32) {
        precondition(mask >> PlanetLabels.count == 0, "bits above label \(PlanetLabels.count - 1)")
        self.mask = mask
    }

    public init() { mask = 0 }

    public init<S: Sequence>(indices: S) where S.Element == Int {
        var mask: UInt32 = 0
        for index in indices {
            precondition((0..<PlanetLabels.count).contains(index), "label index \(index)")
            mask |= 1 << UInt32(index)
        }
        self.mask = mask
    }

    /// Literal label names: `["clear", "primary"]`. A name that is not a label stops the program (literals
    /// are the programmer's); parse untrusted text with `init(tags:)`.
    public init(arrayLiteral names: String...) {
        self.init(indices: names.map { name in
            guard let index = PlanetLabels.index(of: name) else { preconditionFailure("not a Planet label: \(name)") }
            return index
        })
    }

    /// Parses space-separated tags (any run of spaces; empty text is the empty set). Throws the first
    /// unknown tag's text.
    public init(tags: Substring) throws(UnknownTag) {
        var mask: UInt32 = 0
        for tag in tags.split(separator: " ", omittingEmptySubsequences: true) {
            guard let index = PlanetLabels.index(of: String(tag)) else { throw UnknownTag(tag: String(tag)) }
            mask |= 1 << UInt32(index)
        }
        self.mask = mask
    }

    public struct UnknownTag: Error, Equatable { public let tag: String }

    public static let all = LabelSet(mask: (1 << UInt32(PlanetLabels.count)) - 1)

    public func contains(_ index: Int) -> Bool { mask & (1 << UInt32(index)) != 0 }
    public func contains(_ name: String) -> Bool { PlanetLabels.index(of: name).map(contains) ?? false }

    public mutating func insert(_ index: Int) { mask |= 1 << UInt32(index) }

    public var count: Int { mask.nonzeroBitCount }
    public var isEmpty: Bool { mask == 0 }

    /// Label indices in label order.
    public var indices: [Int] { (0..<PlanetLabels.count).filter(contains) }
    public var names: [String] { indices.map { PlanetLabels.names[$0] } }

    /// Space-separated names in label order: a submission row's `tags` field.
    public var tags: String { names.joined(separator: " ") }
    public var description: String { "[\(tags)]" }

    public func union(_ other: LabelSet) -> LabelSet { LabelSet(mask: mask | other.mask) }
    public func intersection(_ other: LabelSet) -> LabelSet { LabelSet(mask: mask & other.mask) }

    /// 1 for each label present, 0 otherwise: a training target.
    public var targets: [Float] { (0..<PlanetLabels.count).map { contains($0) ? 1 : 0 } }
}
