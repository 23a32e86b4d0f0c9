import Yams

/// A YAML node with the path that leads to it (`models.0.optimizer`), read through typed accessors
/// that refuse unknown keys and wrong types with the key's path and line (`ConfigDecoder` reads the
/// settings types through them).
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

    /// The mapping's entries in file order, after checking every key is one of `allowed` (any key
    /// when nil) and none is given twice.
    func mapping(allowed: [String]?) throws(ConfigError) -> [(key: String, node: ConfigNode)] {
        guard case .mapping(let mapping) = node else {
            throw error(allowed.map { "expected a mapping of \($0.joined(separator: ", "))" } ?? "expected a mapping")
        }
        var entries: [(key: String, node: ConfigNode)] = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else { throw error("keys must be plain words", at: key) }
            let name = scalar.string
            if let allowed, !allowed.contains(name) {
                let suggestion = allowed.min { editDistance($0, name) < editDistance($1, name) }
                let hint = suggestion.flatMap { editDistance($0, name) <= 3 ? " (did you mean \"\($0)\"?)" : nil } ?? ""
                throw ConfigError(file: file, line: key.mark?.line, path: path.isEmpty ? name : "\(path).\(name)",
                                  problem: "unknown key\(hint); known here: \(allowed.joined(separator: ", "))")
            }
            guard !entries.contains(where: { $0.key == name }) else {
                throw ConfigError(file: file, line: key.mark?.line, path: path.isEmpty ? name : "\(path).\(name)", problem: "key given twice")
            }
            entries.append((name, child(name, value)))
        }
        return entries
    }

    /// The node `keys` lead to (mapping keys, list indices), or the deepest one on the way that exists.
    func descendant(_ keys: [String]) -> ConfigNode {
        guard let key = keys.first else { return self }
        switch node {
        case .mapping(let mapping):
            guard let value = mapping[key] else { return self }
            return child(key, value).descendant(Array(keys.dropFirst()))
        case .sequence(let sequence):
            guard let index = Int(key), sequence.indices.contains(index) else { return self }
            return child(key, sequence[index]).descendant(Array(keys.dropFirst()))
        case .scalar:
            return self
        }
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

    func float() throws(ConfigError) -> Float {
        let text = try string()
        guard let value = Float(text), value.isFinite else { throw error("expected a number, got \"\(text)\"") }
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
