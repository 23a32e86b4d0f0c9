import Backbones
import Evaluation
import Foundation
import PlanetData

// A pipeline file's settings are `Codable` types whose coding keys are the file's own keys
// (`learning_rate`, `warmup_epochs`): the YAML is decoded into them (Pipeline's ConfigDecoder), and
// `config.json` in a results folder is them encoded, so it reads as the file did and runs again. A
// value missing from the file takes the type's default; ranges and rules between fields are each
// type's `validate()`, which the decoder calls on every value it decodes, naming the key and line.

/// The coding keys of a settings type: all of them, so the decoder can refuse any other key
/// ("did you mean ...") and list the ones it knows, in this order.
public protocol SettingKeys: CodingKey, CaseIterable {}

extension SettingKeys {
    public static var names: [String] { allCases.map(\.stringValue) }
}

/// An enum a pipeline file names by raw value; the decoder lists `choiceNames` when a file names none of them.
public protocol SettingChoice: RawRepresentable, CaseIterable, Codable, Sendable where RawValue == String {}

extension SettingChoice {
    public static var choiceNames: [String] { allCases.map(\.rawValue) }
}

/// A setting that cannot be used: the keys from the checked value down to it (`["crop", "scale", "0"]`;
/// empty for the value itself) and the problem. The decoder adds the file, the line and the path above.
public struct SettingError: Error, Equatable {
    public var keys: [String]
    public var problem: String

    public init(_ keys: [String], _ problem: String) {
        self.keys = keys
        self.problem = problem
    }

    /// `value` must lie in `range`.
    public static func check(_ value: Int, in range: ClosedRange<Int>, _ keys: String...) throws(SettingError) {
        guard !range.contains(value) else { return }
        let bounds = range.upperBound == Int.max ? ">= \(range.lowerBound)" : "\(range.lowerBound)...\(range.upperBound)"
        throw SettingError(keys, "\(value) is out of range \(bounds)")
    }

    public static func check(_ value: Float, in range: ClosedRange<Float>, _ keys: String...) throws(SettingError) {
        guard !range.contains(value) else { return }
        throw SettingError(keys, "\(value) is out of range \(range.lowerBound)...\(range.upperBound)")
    }
}

/// Settings with ranges or rules between their fields.
public protocol ValidatedSettings {
    func validate() throws(SettingError)
}

/// Defaults one part of a file gives another (a model's `input_size` is `data.input_size` unless it
/// sets its own), in the decoder's `userInfo[.settingDefaults]`.
public final class SettingDefaults: @unchecked Sendable {
    public var inputSize = 128
    public init() {}
}

extension CodingUserInfoKey {
    public static let settingDefaults = CodingUserInfoKey(rawValue: "canopy.settingDefaults")!
}

extension KeyedDecodingContainer {
    /// The value at `key` when the file gives the key (a null included: for a setting that is not
    /// optional, `~` is a wrong value, not "the default"); nil when it does not.
    public func setting<T: Decodable>(_ key: Key, as type: T.Type = T.self) throws -> T? {
        contains(key) ? try decode(type, forKey: key) : nil
    }

    /// The key is required: its absence is a `keyNotFound` error that says `problem`.
    public func require(_ key: Key, _ problem: String) throws {
        guard contains(key) else { throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: problem)) }
    }
}

// The choices pipeline files name whose enums live in lower modules.
extension Augmentation.Symmetries: SettingChoice {}
extension BandSource: SettingChoice {}
extension MissingFilesPolicy: SettingChoice {}
extension BadImagePolicy: SettingChoice {}
extension EnsembleMethod: SettingChoice {}
