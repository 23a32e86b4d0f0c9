import Yams

/// A YAML node with the path that leads to it (`models.0.optimizer`), read through typed accessors
/// that refuse unknown keys and wrong types with the key's path and line.
struct ConfigNode {
    let node: Node
    let path: String
    let file: String

    func error(_ problem: String, at node: Node? = nil) -> ConfigError {
        ConfigError(file: file, line: (node ?? self.node).mark?.line, path: path, problem: problem)
    }

    func child(_ key: String, _ node: Node) -> ConfigNode {
        ConfigNode(node: node, path: path.isEmpty ? key : "\(path).\(key)", file: file)
    }

    var isNull: Bool {
        if case .scalar(let scalar) = node { return scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string) }
        return false
    }

    /// The mapping's entries by key, after checking every key is one of `allowed`.
    func mapping(allowed: [String]) throws(ConfigError) -> [String: ConfigNode] {
        guard case .mapping(let mapping) = node else { throw error("expected a mapping of \(allowed.joined(separator: ", "))") }
        var entries: [String: ConfigNode] = [:]
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else { throw error("keys must be plain words", at: key) }
            let name = scalar.string
            guard allowed.contains(name) else {
                let suggestion = allowed.min { editDistance($0, name) < editDistance($1, name) }
                let hint = suggestion.flatMap { editDistance($0, name) <= 3 ? " (did you mean \"\($0)\"?)" : nil } ?? ""
                throw ConfigError(file: file, line: key.mark?.line, path: path.isEmpty ? name : "\(path).\(name)",
                                  problem: "unknown key\(hint); known here: \(allowed.joined(separator: ", "))")
            }
            guard entries[name] == nil else {
                throw ConfigError(file: file, line: key.mark?.line, path: path.isEmpty ? name : "\(path).\(name)", problem: "key given twice")
            }
            entries[name] = child(name, value)
        }
        return entries
    }

    func sequence() throws(ConfigError) -> [ConfigNode] {
        guard case .sequence(let sequence) = node else { throw error("expected a list") }
        return sequence.enumerated().map { child(String($0.offset), $0.element) }
    }

    func string() throws(ConfigError) -> String {
        guard case .scalar(let scalar) = node else { throw error("expected a single value") }
        return scalar.string
    }

    func int(in range: ClosedRange<Int> = Int.min...Int.max) throws(ConfigError) -> Int {
        let text = try string()
        guard let value = Int(text) else { throw error("expected a whole number, got \"\(text)\"") }
        guard range.contains(value) else { throw error("\(value) is out of range \(describe(range))") }
        return value
    }

    func float(in range: ClosedRange<Float> = -Float.greatestFiniteMagnitude...Float.greatestFiniteMagnitude) throws(ConfigError) -> Float {
        let text = try string()
        guard let value = Float(text), value.isFinite else { throw error("expected a number, got \"\(text)\"") }
        guard range.contains(value) else { throw error("\(text) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return value
    }

    func bool() throws(ConfigError) -> Bool {
        let text = try string()
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("expected true or false, got \"\(text)\"")
        }
    }

    func choice<T: RawRepresentable & CaseIterable>(_ type: T.Type) throws(ConfigError) -> T where T.RawValue == String {
        let text = try string()
        guard let value = T(rawValue: text) else {
            throw error("\"\(text)\" is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    /// A two-number list `[low, high]` with low <= high.
    func range(in bounds: ClosedRange<Float>) throws(ConfigError) -> ClosedRange<Float> {
        let items = try sequence()
        guard items.count == 2 else { throw error("expected [low, high]") }
        let low = try items[0].float(in: bounds), high = try items[1].float(in: bounds)
        guard low <= high else { throw error("low \(low) is above high \(high)") }
        return low...high
    }

    private func describe(_ range: ClosedRange<Int>) -> String {
        if range.upperBound == Int.max { return ">= \(range.lowerBound)" }
        return "\(range.lowerBound)...\(range.upperBound)"
    }
}

/// Levenshtein distance, for "did you mean" hints.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var previous = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var current = [i] + [Int](repeating: 0, count: b.count)
        for j in 1...max(b.count, 1) where !b.isEmpty {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return a.isEmpty ? b.count : previous[b.count]
}
