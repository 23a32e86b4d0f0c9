import PlanetData

/// The weather labels' structure, imposed on a decision: exactly one weather label per chip (the most
/// probable of clear, cloudy, haze, partly_cloudy replaces whatever was chosen; equal probabilities go
/// to the first in label order), and a cloudy chip carries no ground label.
public enum WeatherRule {
    public static let weatherLabels: [Int] = PlanetLabels.weather.indices

    public static func apply(_ set: LabelSet, probabilities: [Float]) -> LabelSet {
        precondition(probabilities.count == PlanetLabels.count, "\(probabilities.count) probabilities")
        var weather = weatherLabels[0]
        for label in weatherLabels.dropFirst() where probabilities[label] > probabilities[weather] { weather = label }
        if weather == PlanetLabels.index(of: "cloudy")! { return LabelSet(indices: [weather]) }
        var result = set.intersection(PlanetLabels.ground)
        result.insert(weather)
        return result
    }
}

/// How a chip's probabilities become its tags. Encoded as JSON like `{"method":"global","threshold":0.2}`,
/// `{"method":"per_label","thresholds":[...17...]}`, `{"method":"expected_f2"}`.
public enum DecisionMethod: Codable, Equatable, Sendable {
    /// One threshold for every label.
    case global(Float)
    /// One threshold per label, in label order.
    case perLabel([Float])
    /// The per-chip set with the highest expected F2 (`ExpectedF2.decide`).
    case expectedF2

    public func decide(_ probabilities: [Float]) -> LabelSet {
        switch self {
        case .global(let threshold): Metrics.decide(probabilities, thresholds: [Float](repeating: threshold, count: PlanetLabels.count))
        case .perLabel(let thresholds): Metrics.decide(probabilities, thresholds: thresholds)
        case .expectedF2: ExpectedF2.decide(probabilities)
        }
    }

    /// Tags for every row of `table`, with `WeatherRule` applied after the decision when asked.
    public func decide(_ table: ProbabilityTable, weatherRule: Bool) -> [LabelSet] {
        if case .perLabel(let thresholds) = self {
            precondition(thresholds.count == PlanetLabels.count, "\(thresholds.count) per-label thresholds")
        }
        return table.rows.map { row in
            let set = decide(row)
            return weatherRule ? WeatherRule.apply(set, probabilities: row) : set
        }
    }

    private enum CodingKeys: String, CodingKey { case method, threshold, thresholds }

    /// The `method` field.
    private enum Method: String, Codable, CaseIterable {
        case global
        case perLabel = "per_label"
        case expectedF2 = "expected_f2"
    }

    private var method: Method {
        switch self {
        case .global: .global
        case .perLabel: .perLabel
        case .expectedF2: .expectedF2
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let name = try container.decode(String.self, forKey: .method)
        guard let method = Method(rawValue: name) else {
            throw DecodingError.dataCorruptedError(forKey: .method, in: container, debugDescription:
                "unknown decision method \"\(name)\" (\(Method.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        switch method {
        case .global: self = .global(try container.decode(Float.self, forKey: .threshold))
        case .perLabel:
            let thresholds = try container.decode([Float].self, forKey: .thresholds)
            guard thresholds.count == PlanetLabels.count else {
                throw DecodingError.dataCorruptedError(forKey: .thresholds, in: container,
                                                       debugDescription: "\(thresholds.count) thresholds, expected \(PlanetLabels.count)")
            }
            self = .perLabel(thresholds)
        case .expectedF2: self = .expectedF2
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(method, forKey: .method)
        switch self {
        case .global(let threshold): try container.encode(threshold, forKey: .threshold)
        case .perLabel(let thresholds): try container.encode(thresholds, forKey: .thresholds)
        case .expectedF2: break
        }
    }
}
