import Foundation
import Training
import Yams

extension PipelineConfig {
    /// Reads the pipeline file at `path`, applying `overrides` (`models.0.epochs=3`) first. Every
    /// problem is one `ConfigError` naming the file, line and key. A results folder's `config.json`
    /// is a pipeline file too (JSON is YAML).
    public static func load(_ path: String, overrides: [String] = []) throws(ConfigError) -> PipelineConfig {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigError(file: path, line: nil, path: "", problem: "cannot read: \((error as NSError).localizedDescription)")
        }
        let defaultName = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return try parse(text, file: path, defaultName: defaultName, overrides: overrides)
    }

    public static func parse(_ text: String, file: String, defaultName: String, overrides: [String] = []) throws(ConfigError) -> PipelineConfig {
        var root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw ConfigError(file: file, line: nil, path: "", problem: "empty pipeline file") }
            root = node
        } catch let error as ConfigError {
            throw error
        } catch let error as YamlError {
            throw ConfigError(file: file, line: yamlErrorLine(error), path: "", problem: "not valid YAML: \(error)")
        } catch {
            throw ConfigError(file: file, line: nil, path: "", problem: "not valid YAML: \(error)")
        }
        for override in overrides { root = try apply(override, to: root, file: file) }
        return try decode(ConfigNode(node: root, path: "", file: file), defaultName: defaultName)
    }

    /// The settings at `root` (ConfigDecoder.swift: defaults, ranges and every error's line and key).
    static func decode(_ root: ConfigNode, defaultName: String) throws(ConfigError) -> PipelineConfig {
        try ConfigDecoder.decode(PipelineConfig.self, from: root, userInfo: [.settingDefaults: SettingDefaults(), .defaultPipelineName: defaultName])
    }

    /// `a.b.0.c=value`: sets (or adds) that key in the YAML tree; list indices must exist.
    static func apply(_ override: String, to root: Node, file: String) throws(ConfigError) -> Node {
        guard let equals = override.firstIndex(of: "="), equals != override.startIndex else {
            throw ConfigError(file: "--set", line: nil, path: override, problem: "expected KEY.PATH=VALUE")
        }
        let keys = override[..<equals].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let valueText = String(override[override.index(after: equals)...])
        let value: Node
        do { value = withoutMarks(try Yams.compose(yaml: valueText) ?? Node("")) } catch {
            throw ConfigError(file: "--set", line: nil, path: keys.joined(separator: "."), problem: "value \"\(valueText)\" is not valid YAML")
        }
        func set(_ node: Node, _ remaining: ArraySlice<String>, _ walked: [String]) throws(ConfigError) -> Node {
            guard let key = remaining.first else { return value }
            let here = (walked + [key]).joined(separator: ".")
            if key.isEmpty { throw ConfigError(file: "--set", line: nil, path: here, problem: "empty key") }
            switch node {
            case .mapping(var mapping):
                let existing = mapping[key] ?? Node.mapping(Node.Mapping([]))
                mapping[key] = try set(existing, remaining.dropFirst(), walked + [key])
                return .mapping(mapping)
            case .sequence(var sequence):
                guard let index = Int(key), sequence.indices.contains(index) else {
                    throw ConfigError(file: "--set", line: nil, path: here, problem: "no list item \(key) (the list has \(sequence.count))")
                }
                sequence[index] = try set(sequence[index], remaining.dropFirst(), walked + [key])
                return .sequence(sequence)
            case .scalar:
                throw ConfigError(file: "--set", line: nil, path: walked.joined(separator: "."), problem: "is a single value, it has no key \(key)")
            }
        }
        return try set(root, keys[...], [])
    }

    /// The same tree without source positions: an override's value has no line in the pipeline file.
    static func withoutMarks(_ node: Node) -> Node {
        switch node {
        case .scalar(let scalar): return .scalar(Node.Scalar(scalar.string, scalar.tag, scalar.style))
        case .mapping(let mapping):
            return .mapping(Node.Mapping(mapping.map { (withoutMarks($0.key), withoutMarks($0.value)) }, mapping.tag, mapping.style))
        case .sequence(let sequence):
            return .sequence(Node.Sequence(sequence.map(withoutMarks), sequence.tag, sequence.style))
        }
    }

    private static func yamlErrorLine(_ error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return nil
        }
    }
}
