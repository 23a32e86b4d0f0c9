import Tensor

/// A PyTorch checkpoint written by `torch.save`, read without Python: the zip format of PyTorch ≥ 1.6
/// (`ARCHIVE/data.pkl` plus one record `ARCHIVE/data/KEY` per storage) and the older stream format
/// (pickles, then the raw storages). The pickle goes through `TorchPickle`, which accepts only what a
/// state dict needs and refuses any other global or call; tensors are gathered from their storages by
/// size, stride and offset (views and shared storages included) into `StoredTensor`s, as a safetensors
/// file gives them, so everything downstream is the same.
///
/// The state dict is the dict under `state_dict`, `model_state_dict` or `model` (training checkpoints)
/// when one holds tensors, else the top-level dict; DataParallel's `module.` prefix is stripped
/// when every name has it; entries that are not tensors (an epoch, an optimiser's state) are ignored
/// and listed.
public struct TorchCheckpoint: Sendable {
    public enum Format: String, Sendable { case zip = "torch.save zip", legacy = "torch.save legacy (pre-1.6)" }

    /// The tensors, with the dtype of their storage.
    public var file: SafeTensorsFile
    public var format: Format
    public var pickleProtocol: Int
    /// The key the state dict was found under, when it was nested.
    public var nestedKey: String?
    /// The prefix removed from every tensor name (`module.`), when there was one.
    public var strippedPrefix: String?
    /// Entries that were not read: the other top-level entries of a nested checkpoint, and entries of
    /// the state dict that are not tensors.
    public var ignored: [String]

    public static let nestedKeys = ["state_dict", "model_state_dict", "model"]
    public static let maximumPickleBytes = 64 << 20

    /// True when the bytes start as a torch.save file (zip local header, or the legacy magic number).
    public static func looksLikeTorch(_ bytes: [UInt8]) -> Bool {
        bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) || bytes.starts(with: legacyMagic)
    }

    /// PROTO 2, LONG1 of 10 bytes: 0x1950a86a20f9469cfc6c, the legacy format's magic number.
    static let legacyMagic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    /// Reads a file; files over `maximumBytes` are refused before they are read.
    public static func read(_ path: String, maximumBytes: Int = 4 << 30) throws(CheckpointError) -> TorchCheckpoint {
        try decode(CheckpointError.bytes(of: path, maximumBytes: maximumBytes), path: path)
    }

    /// Parses the bytes of a file; `path` names it in errors. `verifyChecksums: false` skips the zip
    /// records' CRC-32 (the fuzzer uses it to reach the pickle).
    public static func decode(_ bytes: [UInt8], path: String, verifyChecksums: Bool = true) throws(CheckpointError) -> TorchCheckpoint {
        func fail(_ reason: String) -> CheckpointError { CheckpointError(path: path, reason: reason) }
        if bytes.starts(with: legacyMagic) { return try decodeLegacy(bytes, path: path) }
        guard bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) else {
            throw fail("not a torch.save file (it starts neither with a zip header nor with the legacy magic number)")
        }
        let archive = try TorchZip.parse(bytes, fail: fail)
        func checked(_ record: TorchZip.Record) throws(CheckpointError) -> Range<Int> {
            if verifyChecksums, TorchZip.crc32(bytes, record.range) != record.crc {
                throw fail("zip: record '\(record.name)' fails its CRC-32 check (the file is damaged)")
            }
            return record.range
        }

        let pickles = archive.records.keys.filter { name in
            name.hasSuffix("/data.pkl") && name.firstIndex(of: "/") == name.index(name.endIndex, offsetBy: -9)
        }.sorted()
        guard let pickleName = pickles.first else { throw fail("zip: no ARCHIVE/data.pkl record (not a torch.save file)") }
        guard pickles.count == 1 else { throw fail("zip: several data.pkl records: \(pickles.joined(separator: ", "))") }
        let prefix = String(pickleName.dropLast("data.pkl".count))
        if let order = archive.records[prefix + "byteorder"] {
            let range = try checked(order)
            let text = String(decoding: bytes[range], as: UTF8.self)
            guard text == "little" else {
                throw fail(text == "big" ? "storages are big-endian (byteorder 'big'); only little-endian files are read"
                                         : "byteorder record says '\(text.prefix(20))', not 'little'")
            }
        }
        let pickle = archive.records[pickleName]!
        guard pickle.range.count <= maximumPickleBytes else {
            throw fail("data.pkl has \(pickle.range.count) bytes, over the \(maximumPickleBytes)-byte limit")
        }
        let pickleRange = try checked(pickle)
        let storagePrefix = prefix + "data/"
        var storageRecords: [String: TorchZip.Record] = [:]
        for (name, record) in archive.records where name.hasPrefix(storagePrefix) {
            let key = String(name.dropFirst(storagePrefix.count))
            if !key.isEmpty, !key.contains("/") { storageRecords[key] = record }
        }
        let machine = try TorchPickle.parse(bytes, range: pickleRange, recordSizes: storageRecords.mapValues(\.range.count), path: path)
        guard machine.end == pickleRange.upperBound else {
            throw fail("data.pkl has \(pickleRange.upperBound - machine.end) bytes after STOP")
        }
        var verified = Set<String>()
        return try assemble(machine, bytes: bytes, format: .zip, path: path) { key throws(CheckpointError) in
            let record = storageRecords[key]!  // the machine checked that it exists
            if !verified.contains(key) {
                _ = try checked(record)
                verified.insert(key)
            }
            return record.range
        }
    }

    /// The legacy stream: pickles of the magic number, the protocol version (1001) and the writer's
    /// system (endianness, type sizes), the object (persistent ids with a sixth, view, item), the sorted
    /// storage keys; then each storage as an int64 element count and its raw little-endian elements.
    static func decodeLegacy(_ bytes: [UInt8], path: String) throws(CheckpointError) -> TorchCheckpoint {
        func fail(_ reason: String) -> CheckpointError { CheckpointError(path: path, reason: "legacy format: \(reason)") }
        var at = legacyMagic.count
        guard at < bytes.count, bytes[at] == 0x2E else { throw fail("no STOP after the magic number") }
        at += 1
        let version = try TorchPickle.parse(bytes, range: at..<min(bytes.count, at + maximumPickleBytes), recordSizes: nil, path: path)
        guard case .int(1001) = version.objects[version.root] else {
            throw fail("protocol version is \(version.objects[version.root].kind), not 1001")
        }
        let system = try TorchPickle.parse(bytes, range: version.end..<min(bytes.count, version.end + maximumPickleBytes), recordSizes: nil, path: path)
        if let littleEndian = system.value(forKey: "little_endian", in: system.root), case .bool(false) = system.objects[littleEndian] {
            throw fail("storages are big-endian; only little-endian files are read")
        }
        let main = try TorchPickle.parse(bytes, range: system.end..<min(bytes.count, system.end + maximumPickleBytes), recordSizes: nil, path: path)
        let keys = try TorchPickle.parse(bytes, range: main.end..<min(bytes.count, main.end + maximumPickleBytes), recordSizes: nil, path: path)
        guard case .list(let list) = keys.objects[keys.root] else { throw fail("storage keys are a \(keys.objects[keys.root].kind), not a list") }
        var records: [String: Range<Int>] = [:]
        at = keys.end
        for item in keys.sequences[list] {
            guard case .string(let key) = keys.objects[item] else { throw fail("a storage key is a \(keys.objects[item].kind)") }
            guard let storage = main.storages[key] else { throw fail("storage '\(key)' is listed but no tensor names it") }
            guard bytes.count - at >= 8 else { throw fail("storage '\(key)' at byte \(at): truncated") }
            let count = bytes[at..<(at + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard count == UInt64(storage.count) else {
                throw fail("storage '\(key)' at byte \(at) holds \(count) elements; the pickle says \(storage.count)")
            }
            at += 8
            let size = storage.count * storage.dtype.size
            guard size <= bytes.count - at else { throw fail("storage '\(key)' of \(size) bytes at byte \(at) runs past the end of the file") }
            guard records[key] == nil else { throw fail("storage '\(key)' is listed twice") }
            records[key] = at..<(at + size)
            at += size
        }
        for key in main.storages.keys where records[key] == nil {
            throw fail("storage '\(key)' is named by a tensor but not stored")
        }
        return try assemble(main, bytes: bytes, format: .legacy, path: path) { key throws(CheckpointError) in records[key]! }
    }

    /// The state dict in the unpickled object, its tensors gathered from their storages.
    private static func assemble(_ machine: TorchPickle, bytes data: [UInt8], format: Format, path: String,
                                 storage: (String) throws(CheckpointError) -> Range<Int>) throws(CheckpointError) -> TorchCheckpoint {
        func fail(_ reason: String) -> CheckpointError { CheckpointError(path: path, reason: reason) }
        let objects = machine.objects
        guard case .dict(let top) = objects[machine.root] else {
            throw fail("the checkpoint holds a \(objects[machine.root].kind), not a dict of tensors")
        }
        /// The dict's entries, later keys replacing earlier ones as in Python.
        func entries(_ dict: Int) -> [(name: String, value: Int)] {
            var order: [String] = [], values: [String: Int] = [:]
            for (key, value) in machine.dicts[dict] {
                let name = machine.describeKey(key)
                if values.updateValue(value, forKey: name) == nil { order.append(name) }
            }
            return order.map { ($0, values[$0]!) }
        }
        func isTensor(_ index: Int) -> Bool { if case .tensor = objects[index] { true } else { false } }

        // A training checkpoint's state dict first: its top level may hold a stray tensor too (the
        // ImageNet example's best_acc1), which must not pass for the weights.
        var stateDict = entries(top)
        var nestedKey: String?
        var ignored: [String] = []
        let nested = Self.nestedKeys.lazy.compactMap { key -> (String, [(name: String, value: Int)])? in
            guard let index = stateDict.first(where: { $0.name == key })?.value, case .dict(let inner) = objects[index] else { return nil }
            let innerEntries = entries(inner)
            return innerEntries.contains(where: { isTensor($0.value) }) ? (key, innerEntries) : nil
        }.first
        if let found = nested {
            nestedKey = found.0
            ignored = stateDict.map(\.name).filter { $0 != found.0 }
            stateDict = found.1
        } else if !stateDict.contains(where: { isTensor($0.value) }) {
            let names = stateDict.prefix(12).map(\.name).joined(separator: ", ")
            throw fail("no tensors in the checkpoint's dict (keys: \(names.isEmpty ? "none" : names)), nor under "
                       + Self.nestedKeys.joined(separator: ", "))
        }
        var views: [(name: String, view: TorchPickle.View)] = []
        for (name, value) in stateDict {
            if case .tensor(let view) = objects[value] { views.append((name, view)) } else { ignored.append(name) }
        }
        // DataParallel's prefix, as many times as every name has it (counted in bytes: linear in the names).
        let prefix = Array("module.".utf8)
        let repeats = views.map { item -> Int in
            let name = Array(item.name.utf8)
            var count = 0
            while name.count - count * prefix.count > prefix.count,
                  name[(count * prefix.count)..<((count + 1) * prefix.count)].elementsEqual(prefix) { count += 1 }
            return count
        }.min() ?? 0
        var strippedPrefix: String?
        if repeats > 0 {
            views = views.map { (String(decoding: Array($0.name.utf8)[(repeats * prefix.count)...], as: UTF8.self), $0.view) }
            strippedPrefix = String(repeating: "module.", count: repeats)
        }
        // A storage may back several tensors, but not so many that gathering them dwarfs the file.
        let gathered = views.reduce(0) { $0 + $1.view.count }
        guard gathered <= max(2 * data.count, 1 << 20) else {
            throw fail("the tensors would gather \(gathered) elements from a \(data.count)-byte file: storages shared that often are not read")
        }

        var file = SafeTensorsFile()
        for (name, view) in views {
            let range = try storage(view.storage.key)
            let scalars = data.withUnsafeBytes { raw in gather(view, from: UnsafeRawBufferPointer(rebasing: raw[range])) }
            file.tensors[name] = StoredTensor(Tensor(shape: view.shape, scalars: scalars), dtype: view.storage.dtype)
        }
        return TorchCheckpoint(file: file, format: format, pickleProtocol: machine.protocolVersion, nestedKey: nestedKey,
                               strippedPrefix: strippedPrefix, ignored: ignored.sorted())
    }

    /// The view's elements in row-major order (its bounds were checked when the pickle was read).
    static func gather(_ view: TorchPickle.View, from storage: UnsafeRawBufferPointer) -> [Float] {
        let size = view.storage.dtype.size
        var contiguous = true, expected = 1
        for (extent, stride) in zip(view.shape, view.strides).reversed() where extent != 1 {
            if stride != expected { contiguous = false }
            expected *= extent
        }
        if contiguous {
            let start = view.offset * size
            return SafeTensorsFile.convert(UnsafeRawBufferPointer(rebasing: storage[start..<(start + view.count * size)]),
                                           dtype: view.storage.dtype, count: view.count)
        }
        var scalars: [Float] = []
        scalars.reserveCapacity(view.count)
        let rank = view.shape.count
        var index = [Int](repeating: 0, count: rank)
        var position = view.offset
        for _ in 0..<view.count {
            scalars.append(SafeTensorsFile.scalar(storage, at: position, dtype: view.storage.dtype))
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                position += view.strides[axis]
                if index[axis] < view.shape[axis] { break }
                position -= view.strides[axis] * view.shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return scalars
    }
}

extension TorchPickle {
    /// A dict key as a name: strings as they are, numbers and the rest as Python prints them.
    func describeKey(_ index: Int) -> String {
        switch objects[index] {
        case .string(let text): text
        case .int(let value): "\(value)"
        case .bool(let value): value ? "True" : "False"
        case .float(let value): "\(value)"
        case .none: "None"
        default: "<\(objects[index].kind)>"
        }
    }

    /// The value under a string key of a dict, nil when there is none.
    func value(forKey key: String, in dictIndex: Int) -> Int? {
        guard case .dict(let d) = objects[dictIndex] else { return nil }
        return dicts[d].last { if case .string(key) = objects[$0.key] { true } else { false } }?.value
    }
}

extension SafeTensorsFile {
    /// A weights file in either format, told apart by its first bytes rather than its name: a
    /// `torch.save` checkpoint (zip or legacy, see `TorchCheckpoint`) or safetensors.
    public static func readWeights(_ path: String, maximumBytes: Int = 4 << 30) throws(CheckpointError) -> SafeTensorsFile {
        let bytes = try CheckpointError.bytes(of: path, maximumBytes: maximumBytes)
        if TorchCheckpoint.looksLikeTorch(bytes) { return try TorchCheckpoint.decode(bytes, path: path).file }
        return try decode(bytes, path: path)
    }
}
