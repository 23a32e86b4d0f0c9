/// A restricted reader of the pickle in a `torch.save` file (`data.pkl`): a small stack machine that
/// knows the opcodes of protocols 2–5 a state dict is written with and the few globals it names
/// (`collections.OrderedDict`, torch's tensor rebuilders and storage types), and refuses anything else
/// with the opcode or global and its byte offset. Nothing is imported, called or trusted: a REDUCE of
/// an allowed global is interpreted here (a new dict, a tensor view checked against its storage).
///
/// Objects live in one flat arena and containers hold arena indices, so memoised containers mutate as
/// in Python, cycles are harmless, and freeing never recurses. Every opcode does constant work apart
/// from those that pop to a mark (each item popped once) and string reads (each byte read once), and
/// the arena, stack and memo are capped, so a file of N bytes costs O(N) time and memory.
struct TorchPickle {
    enum Global: String, CaseIterable {
        case orderedDict = "collections.OrderedDict"
        case rebuildTensor = "torch._utils._rebuild_tensor_v2"
        /// PyTorch 0.3's (storage, offset, size, stride), in old legacy-format files.
        case rebuildTensorV1 = "torch._utils._rebuild_tensor"
        case rebuildParameter = "torch._utils._rebuild_parameter"
        case rebuildParameterWithState = "torch._utils._rebuild_parameter_with_state"
        case floatStorage = "torch.FloatStorage", halfStorage = "torch.HalfStorage", bfloat16Storage = "torch.BFloat16Storage"
        case doubleStorage = "torch.DoubleStorage", longStorage = "torch.LongStorage", intStorage = "torch.IntStorage"

        var storageType: StoredTensor.DType? {
            switch self {
            case .floatStorage: .f32
            case .halfStorage: .f16
            case .bfloat16Storage: .bf16
            case .doubleStorage: .f64
            case .longStorage: .i64
            case .intStorage: .i32
            default: nil
            }
        }
    }

    /// A storage as a persistent id names it: its record `data/KEY`, element type and element count.
    struct Storage: Equatable {
        var key: String
        var dtype: StoredTensor.DType
        var count: Int
    }

    /// A tensor: a strided view of a storage, already checked to lie inside it.
    struct View {
        var storage: Storage
        var offset: Int
        var shape: [Int]
        var strides: [Int]
        var count: Int
    }

    enum Object {
        case none, bool(Bool), int(Int), bigInt, float(Double), string(String), bytes
        case tuple(Int), list(Int), dict(Int)
        case global(Global), storage(Storage), tensor(View)

        var kind: String {
            switch self {
            case .none: "None"
            case .bool: "bool"
            case .int, .bigInt: "int"
            case .float: "float"
            case .string: "str"
            case .bytes: "bytes"
            case .tuple: "tuple"
            case .list: "list"
            case .dict: "dict"
            case .global(let global): global.rawValue
            case .storage: "storage"
            case .tensor: "tensor"
            }
        }
    }

    static let maximumObjects = 16_000_000
    static let maximumRank = 32

    private(set) var objects: [Object] = []
    private(set) var sequences: [[Int]] = []
    private(set) var dicts: [[(key: Int, value: Int)]] = []
    private(set) var protocolVersion = 0
    /// Index of the unpickled object.
    private(set) var root = 0
    /// Where STOP ended the pickle.
    private(set) var end = 0

    private let path: String
    private let bytes: [UInt8]
    private let base: Int
    private var opcodeStart = 0
    /// The storages the persistent ids named, by key.
    private(set) var storages: [String: Storage] = [:]
    private let recordSizes: [String: Int]?

    /// Runs the pickle in `bytes[range]` up to its STOP; `recordSizes` gives the byte count of each
    /// storage record by key (nil: the storages come after the pickle, as in the legacy format).
    static func parse(_ bytes: [UInt8], range: Range<Int>, recordSizes: [String: Int]?, path: String) throws(CheckpointError) -> TorchPickle {
        var machine = TorchPickle(path: path, bytes: bytes, base: range.lowerBound, recordSizes: recordSizes)
        try machine.run(range)
        return machine
    }

    private init(path: String, bytes: [UInt8], base: Int, recordSizes: [String: Int]?) {
        self.path = path
        self.bytes = bytes
        self.base = base
        self.recordSizes = recordSizes
    }

    private func fail(_ reason: String) -> CheckpointError {
        CheckpointError(path: path, reason: "data.pkl byte \(opcodeStart - base): \(reason)")
    }

    // MARK: The machine

    private var stack: [Int] = []
    private var marks: [Int] = []
    private var memo: [Int: Int] = [:]

    private mutating func new(_ object: Object) throws(CheckpointError) -> Int {
        guard objects.count < Self.maximumObjects else { throw fail("more than \(Self.maximumObjects) objects") }
        objects.append(object)
        return objects.count - 1
    }

    private mutating func push(_ object: Object) throws(CheckpointError) { stack.append(try new(object)) }

    private mutating func pop() throws(CheckpointError) -> Int {
        guard stack.count > (marks.last ?? 0) else { throw fail("stack underflow") }
        return stack.removeLast()
    }

    private func top() throws(CheckpointError) -> Int {
        guard stack.count > (marks.last ?? 0), let last = stack.last else { throw fail("stack underflow") }
        return last
    }

    private mutating func popMark() throws(CheckpointError) -> [Int] {
        guard let mark = marks.popLast() else { throw fail("no MARK to pop to") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private mutating func sequence(_ items: [Int]) -> Int {
        sequences.append(items)
        return sequences.count - 1
    }

    private mutating func newDict() -> Int {
        dicts.append([])
        return dicts.count - 1
    }

    private mutating func globalLine(_ limit: Int) throws(CheckpointError) -> String {
        guard let newline = bytes[position..<min(limit, position + 256)].firstIndex(of: 0x0A) else {
            throw fail("GLOBAL without a newline-terminated name")
        }
        let line = try text(newline - position, limit, "GLOBAL name")
        position += 1
        return line
    }

    private mutating func setItems(_ items: [Int]) throws(CheckpointError) {
        let target = try top()
        guard case .dict(let d) = objects[target] else { throw fail("SETITEM(S) on a \(objects[target].kind), not a dict") }
        guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number of items") }
        for pair in stride(from: 0, to: items.count, by: 2) {
            switch objects[items[pair]] {
            case .string, .int, .bigInt, .bool, .none, .float: break
            default: throw fail("a dict key is a \(objects[items[pair]].kind)")
            }
            dicts[d].append((items[pair], items[pair + 1]))
        }
    }

    private mutating func appendItems(_ items: [Int]) throws(CheckpointError) {
        let target = try top()
        guard case .list(let l) = objects[target] else { throw fail("APPEND(S) on a \(objects[target].kind), not a list") }
        sequences[l].append(contentsOf: items)
    }

    private mutating func take(_ count: Int, _ limit: Int, _ what: String) throws(CheckpointError) -> Range<Int> {
        guard count >= 0, count <= limit - position else {
            throw fail("\(what) needs \(count) bytes, \(limit - position) are left (truncated?)")
        }
        defer { position += count }
        return position..<(position + count)
    }

    private var position = 0

    private mutating func unsigned(_ width: Int, _ limit: Int, _ what: String) throws(CheckpointError) -> UInt64 {
        let range = try take(width, limit, what)
        var value: UInt64 = 0
        for (i, byte) in bytes[range].enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
        return value
    }

    private mutating func length(_ width: Int, _ limit: Int, _ what: String) throws(CheckpointError) -> Int {
        let value = try unsigned(width, limit, "\(what)'s length")
        guard value <= UInt64(limit - position) else { throw fail("\(what) of \(value) bytes runs past the end of data.pkl") }
        return Int(value)
    }

    private mutating func text(_ count: Int, _ limit: Int, _ what: String, latin1: Bool = false) throws(CheckpointError) -> String {
        let range = try take(count, limit, what)
        if latin1 { return String(String.UnicodeScalarView(bytes[range].map { Unicode.Scalar($0) })) }
        guard let string = Self.utf8(bytes[range]) else { throw fail("\(what) is not UTF-8") }
        return string
    }

    private mutating func run(_ range: Range<Int>) throws(CheckpointError) {
        position = range.lowerBound
        let limit = range.upperBound
        while true {
            opcodeStart = position
            guard position < limit else { throw fail("data.pkl ends without STOP (truncated?)") }
            let opcode = bytes[position]
            position += 1
            switch opcode {
            case 0x80:  // PROTO
                let version = Int(try unsigned(1, limit, "PROTO"))
                guard (2...5).contains(version) else { throw fail("pickle protocol \(version); torch.save writes 2 to 5") }
                protocolVersion = version
            case 0x95:  // FRAME: a length hint; the opcodes inside are read as they come
                _ = try unsigned(8, limit, "FRAME")
            case 0x7D: try push(.dict(newDict()))  // EMPTY_DICT
            case 0x5D: try push(.list(sequence([])))  // EMPTY_LIST
            case 0x29: try push(.tuple(sequence([])))  // EMPTY_TUPLE
            case 0x28:  // MARK
                marks.append(stack.count)
            case 0x85, 0x86, 0x87:  // TUPLE1, TUPLE2, TUPLE3
                let count = Int(opcode) - 0x84
                guard stack.count - count >= (marks.last ?? 0) else { throw fail("stack underflow") }
                let items = Array(stack.suffix(count))
                stack.removeLast(count)
                try push(.tuple(sequence(items)))
            case 0x74:  // TUPLE
                let items = try popMark()
                try push(.tuple(sequence(items)))
            case 0x73:  // SETITEM
                let value = try pop(), key = try pop()
                try setItems([key, value])
            case 0x75: try setItems(try popMark())  // SETITEMS
            case 0x61: try appendItems([try pop()])  // APPEND
            case 0x65: try appendItems(try popMark())  // APPENDS
            case 0x4A: try push(.int(Int(Int32(truncatingIfNeeded: try unsigned(4, limit, "BININT")))))
            case 0x4B: try push(.int(Int(try unsigned(1, limit, "BININT1"))))
            case 0x4D: try push(.int(Int(try unsigned(2, limit, "BININT2"))))
            case 0x8A, 0x8B:  // LONG1, LONG4: little-endian two's complement
                let count = opcode == 0x8A ? Int(try unsigned(1, limit, "LONG1")) : try length(4, limit, "LONG4")
                let range = try take(count, limit, "LONG")
                if count == 0 {
                    try push(.int(0))
                } else if count <= 8 {
                    var value: UInt64 = bytes[range.upperBound - 1] & 0x80 != 0 ? ~0 : 0
                    for (i, byte) in bytes[range].enumerated() {
                        value &= ~(0xFF << (8 * UInt64(i)))
                        value |= UInt64(byte) << (8 * UInt64(i))
                    }
                    try push(.int(Int(Int64(bitPattern: value))))
                } else {
                    try push(.bigInt)
                }
            case 0x47:  // BINFLOAT: big-endian
                let range = try take(8, limit, "BINFLOAT")
                let bits = bytes[range].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                try push(.float(Double(bitPattern: bits)))
            case 0x58: try push(.string(try text(try length(4, limit, "BINUNICODE"), limit, "BINUNICODE")))
            case 0x8C: try push(.string(try text(try length(1, limit, "SHORT_BINUNICODE"), limit, "SHORT_BINUNICODE")))
            case 0x8D: try push(.string(try text(try length(8, limit, "BINUNICODE8"), limit, "BINUNICODE8")))
            case 0x55: try push(.string(try text(try length(1, limit, "SHORT_BINSTRING"), limit, "SHORT_BINSTRING", latin1: true)))
            case 0x54:  // BINSTRING: a signed length
                let count = try length(4, limit, "BINSTRING")
                guard count < 1 << 31 else { throw fail("BINSTRING with a negative length") }
                try push(.string(try text(count, limit, "BINSTRING", latin1: true)))
            case 0x43: _ = try take(try length(1, limit, "SHORT_BINBYTES"), limit, "SHORT_BINBYTES"); try push(.bytes)
            case 0x42: _ = try take(try length(4, limit, "BINBYTES"), limit, "BINBYTES"); try push(.bytes)
            case 0x8E: _ = try take(try length(8, limit, "BINBYTES8"), limit, "BINBYTES8"); try push(.bytes)
            case 0x71: memo[Int(try unsigned(1, limit, "BINPUT"))] = try top()
            case 0x72: memo[Int(try unsigned(4, limit, "LONG_BINPUT"))] = try top()
            case 0x94: memo[memo.count] = try top()  // MEMOIZE
            case 0x68, 0x6A:  // BINGET, LONG_BINGET
                let key = Int(try unsigned(opcode == 0x68 ? 1 : 4, limit, "BINGET"))
                guard let index = memo[key] else { throw fail("BINGET of memo entry \(key), which was never set") }
                stack.append(index)
            case 0x63:  // GLOBAL: "module\nname\n"
                let module = try globalLine(limit), name = try globalLine(limit)
                try push(.global(try global(module, name)))
            case 0x93:  // STACK_GLOBAL
                let nameIndex = try pop(), moduleIndex = try pop()
                guard case .string(let name) = objects[nameIndex], case .string(let module) = objects[moduleIndex] else {
                    throw fail("STACK_GLOBAL of a \(objects[moduleIndex].kind) and a \(objects[nameIndex].kind), not two strings")
                }
                try push(.global(try global(module, name)))
            case 0x52:  // REDUCE
                let arguments = try pop(), callable = try pop()
                try push(try reduce(callable, arguments))
            case 0x62:  // BUILD: only the attributes (`_metadata`) pickled with an OrderedDict, which are dropped
                let state = try pop(), target = try top()
                guard case .dict = objects[target], case .dict = objects[state] else {
                    throw fail("BUILD of a \(objects[target].kind) with a \(objects[state].kind)")
                }
            case 0x51:  // BINPERSID
                try push(.storage(try persistentStorage(try pop())))
            case 0x4E: try push(.none)
            case 0x88: try push(.bool(true))
            case 0x89: try push(.bool(false))
            case 0x30:  // POP: the top item, or the mark when the stack above it is empty
                if stack.count > (marks.last ?? 0) { stack.removeLast() } else if marks.popLast() == nil { throw fail("POP of an empty stack") }
            case 0x2E:  // STOP
                guard marks.isEmpty, stack.count == 1 else {
                    throw fail("STOP with \(stack.count) items and \(marks.count) marks on the stack; expected one item")
                }
                root = stack[0]
                end = position
                return
            default:
                throw fail("opcode \(Self.describe(opcode)) is not one a torch.save state dict uses")
            }
        }
    }

    private func global(_ module: String, _ name: String) throws(CheckpointError) -> Global {
        guard let global = Global(rawValue: "\(module).\(name)") else {
            throw fail("refused global \(module).\(name): only collections.OrderedDict, torch._utils._rebuild_tensor(_v2) and "
                        + "_rebuild_parameter and torch's Float/Half/BFloat16/Double/Long/Int storages are read (nothing in the file is run)")
        }
        return global
    }

    private mutating func reduce(_ callable: Int, _ argumentsIndex: Int) throws(CheckpointError) -> Object {
        guard case .global(let global) = objects[callable] else { throw fail("REDUCE calls a \(objects[callable].kind)") }
        guard case .tuple(let t) = objects[argumentsIndex] else { throw fail("REDUCE of \(global.rawValue) with a \(objects[argumentsIndex].kind) of arguments") }
        let arguments = sequences[t]
        switch global {
        case .orderedDict:
            guard arguments.isEmpty else { throw fail("collections.OrderedDict with \(arguments.count) arguments; torch.save passes none") }
            return .dict(newDict())
        case .rebuildParameter, .rebuildParameterWithState:
            guard arguments.count == (global == .rebuildParameter ? 3 : 4), case .tensor = objects[arguments[0]] else {
                throw fail("\(global.rawValue) takes a tensor and \(global == .rebuildParameter ? 2 : 3) more arguments")
            }
            return objects[arguments[0]]
        case .rebuildTensor, .rebuildTensorV1:
            guard global == .rebuildTensor ? arguments.count == 6 || arguments.count == 7 : arguments.count == 4 else {
                throw fail("\(global.rawValue) with \(arguments.count) arguments; expected (storage, offset, size, stride"
                           + (global == .rebuildTensor ? ", requires_grad, hooks[, metadata])" : ")"))
            }
            guard case .storage(let storage) = objects[arguments[0]] else { throw fail("\(global.rawValue) of a \(objects[arguments[0]].kind), not a storage") }
            guard case .int(let offset) = objects[arguments[1]], offset >= 0 else { throw fail("\(global.rawValue): storage offset is not a whole number ≥ 0") }
            let shape = try integers(arguments[2], "size"), strides = try integers(arguments[3], "stride")
            return .tensor(try view(storage, offset: offset, shape: shape, strides: strides))
        default:
            throw fail("REDUCE calls \(global.rawValue): storages come only from persistent ids")
        }
    }

    private func integers(_ index: Int, _ what: String) throws(CheckpointError) -> [Int] {
        guard case .tuple(let t) = objects[index] else { throw fail("tensor \(what) is a \(objects[index].kind), not a tuple") }
        guard sequences[t].count <= Self.maximumRank else { throw fail("tensor \(what) has \(sequences[t].count) dimensions, over \(Self.maximumRank)") }
        var values: [Int] = []
        for item in sequences[t] {
            guard case .int(let value) = objects[item], value >= 0 else { throw fail("tensor \(what) holds a \(objects[item].kind) that is not a whole number ≥ 0") }
            values.append(value)
        }
        return values
    }

    /// Checks that every element of the view lies inside its storage.
    private func view(_ storage: Storage, offset: Int, shape: [Int], strides: [Int]) throws(CheckpointError) -> View {
        guard shape.count == strides.count else { throw fail("tensor size \(shape) and stride \(strides) differ in rank") }
        var count = 1, last = offset
        for (size, stride) in zip(shape, strides) {
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { throw fail("tensor size \(shape) overflows") }
            count = product
            if size > 0 {
                let (reach, overflowReach) = (size - 1).multipliedReportingOverflow(by: stride)
                let (sum, overflowSum) = last.addingReportingOverflow(reach)
                guard !overflowReach, !overflowSum else { throw fail("tensor stride \(strides) overflows") }
                last = sum
            }
        }
        guard count <= storage.count else {
            throw fail("tensor of size \(shape) has \(count) elements, its storage '\(storage.key)' \(storage.count) (expanded views are not read)")
        }
        guard count == 0 ? offset <= storage.count : last < storage.count else {
            throw fail("tensor of size \(shape), stride \(strides), offset \(offset) reaches element \(last) of storage '\(storage.key)', which has \(storage.count)")
        }
        // The stride of an axis of extent 0 or 1 is never stepped; as 0 it cannot overflow the gather's arithmetic.
        let steps = zip(shape, strides).map { $0 <= 1 ? 0 : $1 }
        return View(storage: storage, offset: offset, shape: shape, strides: steps, count: count)
    }

    /// `('storage', torch.XStorage, key, location, numel)` (the legacy format adds a view, None), checked
    /// against its record.
    private mutating func persistentStorage(_ index: Int) throws(CheckpointError) -> Storage {
        guard case .tuple(let t) = objects[index], sequences[t].count == 5 || sequences[t].count == 6 else {
            throw fail("persistent id is a \(objects[index].kind), not ('storage', type, key, location, numel)")
        }
        let items = sequences[t].map { objects[$0] }
        guard case .string("storage") = items[0], case .global(let type) = items[1], let dtype = type.storageType,
              case .string(let key) = items[2], case .string = items[3], case .int(let count) = items[4], count >= 0 else {
            throw fail("persistent id is not ('storage', torch.XStorage, key, location, numel)")
        }
        if items.count == 6, case .none = items[5] {} else if items.count == 6 {
            throw fail("storage '\(key)' is a view of another storage (legacy view metadata), which is not read")
        }
        guard count <= Int.max / 8 else { throw fail("storage '\(key)' declares \(count) elements") }
        if let recordSizes {
            guard let size = recordSizes[key] else { throw fail("storage '\(key)' has no record data/\(key)") }
            guard size == count * dtype.size else {
                throw fail("storage '\(key)' of \(count) \(dtype.rawValue) elements needs \(count * dtype.size) bytes; its record has \(size)")
            }
        }
        let storage = Storage(key: key, dtype: dtype, count: count)
        if let earlier = storages[key], earlier != storage {
            throw fail("storage '\(key)' is named as \(earlier.count) \(earlier.dtype.rawValue) and as \(count) \(dtype.rawValue)")
        }
        storages[key] = storage
        return storage
    }

    /// The string these bytes spell in UTF-8, or nil when they are not valid UTF-8.
    static func utf8(_ bytes: ArraySlice<UInt8>) -> String? {
        var result = ""
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): result.unicodeScalars.append(scalar)
            case .emptyInput: return result
            case .error: return nil
            }
        }
    }

    private static func describe(_ opcode: UInt8) -> String {
        let names: [UInt8: String] = [
            0x81: "NEWOBJ (a call)", 0x92: "NEWOBJ_EX (a call)", 0x69: "INST (a call)", 0x6F: "OBJ (a call)",
            0x50: "PERSID", 0x8F: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 0x96: "BYTEARRAY8",
            0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4",
            0x32: "DUP", 0x31: "POP_MARK", 0x49: "INT (protocol 0)", 0x4C: "LONG (protocol 0)", 0x46: "FLOAT (protocol 0)",
            0x53: "STRING (protocol 0)", 0x56: "UNICODE (protocol 0)", 0x70: "PUT (protocol 0)", 0x67: "GET (protocol 0)",
            0x64: "DICT (protocol 0)", 0x6C: "LIST (protocol 0)",
        ]
        let hex = "0x" + String(opcode, radix: 16, uppercase: true)
        return names[opcode].map { "\(hex) \($0)" } ?? hex
    }
}
