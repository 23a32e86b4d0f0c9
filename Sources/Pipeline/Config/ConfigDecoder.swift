import Training
import Yams

/// A `Decoder` over a YAML node tree: the pipeline's `Codable` settings read from a file, every
/// problem a `ConfigError` with the file, the line and the key's path (`models.0.epochs`).
///
/// - A mapping decoded with `SettingKeys` coding keys refuses any other key, suggesting the nearest
///   ("did you mean") and listing those it knows.
/// - A `SettingChoice` that names none of its cases lists them.
/// - Every value that is `ValidatedSettings` is validated as soon as it is decoded; the keys of a
///   `SettingError` lead from that value's node to the line reported.
/// - A `DecodingError` a type throws itself (`dataCorruptedError(forKey:in:)`, `keyNotFound`) is
///   reported at the node its coding path leads to (`ConfigDecoder.decode(_:from:)`).
struct ConfigDecoder: Decoder {
    let node: ConfigNode
    let codingPath: [any CodingKey]
    let userInfo: [CodingUserInfoKey: Any]

    /// Decodes the whole tree at `root` as `T`, with every error as a `ConfigError`.
    static func decode<T: Decodable>(_ type: T.Type, from root: ConfigNode, userInfo: [CodingUserInfoKey: Any]) throws(ConfigError) -> T {
        let decoder = ConfigDecoder(node: root, codingPath: [], userInfo: userInfo)
        do {
            return try decoder.decodeValue(type)
        } catch let error as ConfigError {
            throw error
        } catch let error as DecodingError {
            switch error {
            case .dataCorrupted(let context), .keyNotFound(_, let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
                throw root.descendant(context.codingPath.map(\.stringValue)).error(context.debugDescription)
            @unknown default:
                throw root.error("\(error)")
            }
        } catch {
            throw root.error("\(error)")
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(try KeyedContainer<Key>(self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { try UnkeyedContainer(self) }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleValueContainer(decoder: self) }

    func child(_ key: any CodingKey, _ node: ConfigNode) -> ConfigDecoder {
        ConfigDecoder(node: node, codingPath: codingPath + [key], userInfo: userInfo)
    }

    /// This node as `T`: a scalar read as text, whole number, number or true/false; a choice checked
    /// against its cases; anything else by its own `init(from:)`; then validated.
    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        let value: T
        switch type {
        case is String.Type: value = try node.string() as! T
        case is Bool.Type: value = try node.bool() as! T
        case is Int.Type: value = try node.int() as! T
        case is UInt64.Type: value = UInt64(try node.int(in: 0...Int.max)) as! T
        case is Float.Type: value = try node.float() as! T
        case is Double.Type: value = Double(try node.float()) as! T
        case is any BinaryInteger.Type, is any BinaryFloatingPoint.Type: throw node.error("no setting has the type \(type)")
        default:
            if let choice = type as? any SettingChoice.Type {
                let text = try node.string()
                guard choice.choiceNames.contains(text) else {
                    throw node.error("\"\(text)\" is not one of \(choice.choiceNames.joined(separator: ", "))")
                }
            }
            value = try T(from: self)
        }
        if let settings = value as? any ValidatedSettings {
            do { try settings.validate() } catch { throw node.descendant(error.keys).error(error.problem) }
        }
        return value
    }
}

/// A list item's key in a coding path: its index.
private struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { String(intValue ?? 0) }
    init(_ index: Int) { intValue = index }
    init?(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { guard let index = Int(stringValue) else { return nil }; intValue = index }
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: ConfigDecoder
    let entries: [(key: String, node: ConfigNode)]

    init(_ decoder: ConfigDecoder) throws {
        self.decoder = decoder
        entries = try decoder.node.mapping(allowed: (Key.self as? any SettingKeys.Type)?.names)
    }

    var codingPath: [any CodingKey] { decoder.codingPath }
    var allKeys: [Key] { entries.compactMap { Key(stringValue: $0.key) } }

    func contains(_ key: Key) -> Bool { entries.contains { $0.key == key.stringValue } }

    private func child(_ key: Key) throws -> ConfigDecoder {
        guard let entry = entries.first(where: { $0.key == key.stringValue }) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing \(key.stringValue)"))
        }
        return decoder.child(key, entry.node)
    }

    func decodeNil(forKey key: Key) throws -> Bool { try child(key).node.isNull }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try child(key).decodeValue(type) }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try child(key).decodeValue(type) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try child(key).decodeValue(type) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try child(key).decodeValue(type) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try child(key).decodeValue(type) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try child(key).decodeValue(type) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try child(key).decodeValue(type) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try child(key).decodeValue(type) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try child(key).decodeValue(type) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try child(key).decodeValue(type) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try child(key).decodeValue(type) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try child(key).decodeValue(type) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try child(key).decodeValue(type) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try child(key).decodeValue(type) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try child(key).decodeValue(type) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try child(key).unkeyedContainer() }
    func superDecoder() throws -> any Decoder { decoder }
    func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let decoder: ConfigDecoder
    let items: [ConfigNode]
    var currentIndex = 0

    init(_ decoder: ConfigDecoder) throws {
        self.decoder = decoder
        items = try decoder.node.sequence()
    }

    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private mutating func next() throws -> ConfigDecoder {
        guard !isAtEnd else { throw decoder.node.error("the list has only \(items.count) items") }
        defer { currentIndex += 1 }
        return decoder.child(IndexKey(currentIndex), items[currentIndex])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex].isNull else { return false }
        currentIndex += 1
        return true
    }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decodeValue(type) }
    mutating func decode(_ type: Bool.Type) throws -> Bool { try next().decodeValue(type) }
    mutating func decode(_ type: String.Type) throws -> String { try next().decodeValue(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try next().decodeValue(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try next().decodeValue(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try next().decodeValue(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next().decodeValue(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next().decodeValue(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next().decodeValue(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next().decodeValue(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next().decodeValue(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next().decodeValue(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next().decodeValue(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next().decodeValue(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next().decodeValue(type) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}

private struct SingleValueContainer: SingleValueDecodingContainer {
    let decoder: ConfigDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }

    func decodeNil() -> Bool { decoder.node.isNull }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decodeValue(type) }
    func decode(_ type: Bool.Type) throws -> Bool { try decoder.decodeValue(type) }
    func decode(_ type: String.Type) throws -> String { try decoder.decodeValue(type) }
    func decode(_ type: Double.Type) throws -> Double { try decoder.decodeValue(type) }
    func decode(_ type: Float.Type) throws -> Float { try decoder.decodeValue(type) }
    func decode(_ type: Int.Type) throws -> Int { try decoder.decodeValue(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try decoder.decodeValue(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try decoder.decodeValue(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try decoder.decodeValue(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try decoder.decodeValue(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try decoder.decodeValue(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decoder.decodeValue(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decoder.decodeValue(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decoder.decodeValue(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decoder.decodeValue(type) }
}
