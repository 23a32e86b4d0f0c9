import Foundation
import Support
import Tensor

/// Why a checkpoint could not be read, written or applied, naming the file.
public struct CheckpointError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }

    /// A weights file's bytes, refused before reading when over `maximumBytes`; a failure names the file.
    static func bytes(of path: String, maximumBytes: Int) throws(CheckpointError) -> [UInt8] {
        do {
            return try AtomicFile.read(path, limit: maximumBytes)
        } catch {
            throw CheckpointError(path: path, reason: "cannot read: \(error.reason)")
        }
    }
}

/// A tensor as stored in a safetensors file: its dtype, shape and values (read as Float).
public struct StoredTensor: Equatable, Sendable {
    public enum DType: String, Sendable, CaseIterable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64", i64 = "I64", i32 = "I32"

        var size: Int {
            switch self {
            case .f16, .bf16: 2
            case .f32, .i32: 4
            case .f64, .i64: 8
            }
        }
    }

    public var dtype: DType
    public var tensor: Tensor

    public init(_ tensor: Tensor, dtype: DType = .f32) {
        self.dtype = dtype
        self.tensor = tensor
    }
}

/// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N, N bytes
/// of JSON (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`), then
/// the little-endian data, offsets counted from its start. The header is untrusted: every length,
/// offset and shape is checked before anything is allocated from it.
public struct SafeTensorsFile: Equatable, Sendable {
    public var tensors: [String: StoredTensor]
    public var metadata: [String: String]

    public init(tensors: [String: StoredTensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Largest header accepted (the format's own reference implementation uses 100 MB).
    public static let maximumHeaderBytes = 100_000_000

    // MARK: Writing

    /// The file's bytes: tensors in name order, the data section starting at a multiple of 8.
    public func encoded() -> [UInt8] {
        var header: [String: Any] = [:]
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let stored = tensors[name]!
            let size = stored.tensor.count * stored.dtype.size
            header[name] = ["dtype": stored.dtype.rawValue, "shape": stored.tensor.shape, "data_offsets": [offset, offset + size]]
            offset += size
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = Array((try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data("{}".utf8))
        while (8 + json.count) % 8 != 0 { json.append(0x20) }  // pad with spaces, as the format allows

        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes += $0 }
        bytes += json
        for name in names {
            let stored = tensors[name]!
            switch stored.dtype {
            case .i64:
                for value in stored.tensor.scalars { withUnsafeBytes(of: Int64(value).littleEndian) { bytes += $0 } }
            case .i32:
                for value in stored.tensor.scalars { withUnsafeBytes(of: Int32(value).littleEndian) { bytes += $0 } }
            case .f64:
                for value in stored.tensor.scalars { withUnsafeBytes(of: Double(value).bitPattern.littleEndian) { bytes += $0 } }
            case .f32:
                for value in stored.tensor.scalars { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 } }
            case .f16, .bf16:
                preconditionFailure("Canopy writes F32, F64, I32 and I64 only")
            }
        }
        return bytes
    }

    /// Writes the file through a temporary name, flushed and renamed.
    public func write(to path: String) throws(CheckpointError) {
        precondition(tensors.values.allSatisfy { ![.f16, .bf16].contains($0.dtype) }, "Canopy writes F32, F64, I32 and I64 only")
        do {
            try AtomicFile.write(encoded(), to: path)
        } catch {
            throw CheckpointError(path: path, reason: "cannot write: \(error.reason)")
        }
    }

    // MARK: Reading

    /// Reads a file; files over `maximumBytes` are refused before they are read.
    public static func read(_ path: String, maximumBytes: Int = 4 << 30) throws(CheckpointError) -> SafeTensorsFile {
        try decode(CheckpointError.bytes(of: path, maximumBytes: maximumBytes), path: path)
    }

    /// Parses the bytes of a file; `path` names it in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws(CheckpointError) -> SafeTensorsFile {
        func fail(_ reason: String) -> CheckpointError { CheckpointError(path: path, reason: reason) }
        guard bytes.count >= 8 else { throw fail("\(bytes.count) bytes: shorter than the 8-byte header length") }
        let declared = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard declared <= UInt64(maximumHeaderBytes) else { throw fail("header length \(declared) over the \(maximumHeaderBytes)-byte limit") }
        let headerLength = Int(declared)
        guard headerLength <= bytes.count - 8 else {
            throw fail("header length \(headerLength) runs past the end of the \(bytes.count)-byte file")
        }
        let dataStart = 8 + headerLength, dataLength = bytes.count - dataStart
        guard let json = try? JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart])),
              let header = json as? [String: Any] else {
            throw fail("header is not a JSON object")
        }

        var file = SafeTensorsFile()
        var ranges: [(range: Range<Int>, name: String)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let metadata = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (key, item) in metadata {
                    guard let text = item as? String else { throw fail("__metadata__.\(key) is not a string") }
                    file.metadata[key] = text
                }
                continue
            }
            guard let entry = value as? [String: Any] else { throw fail("tensor '\(name)' is not an object") }
            guard let dtypeName = entry["dtype"] as? String else { throw fail("tensor '\(name)' has no dtype") }
            guard let dtype = StoredTensor.DType(rawValue: dtypeName) else {
                throw fail("tensor '\(name)' has dtype \(dtypeName); readable: \(StoredTensor.DType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let shapeValues = entry["shape"] as? [Any] else { throw fail("tensor '\(name)' has no shape") }
            var shape: [Int] = []
            var elements = 1
            for item in shapeValues {
                guard let dimension = integer(item), dimension >= 0 else { throw fail("tensor '\(name)' has shape entry \(item)") }
                let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
                guard !overflow, product <= dataLength else { throw fail("tensor '\(name)' shape \(shapeValues) is larger than the file") }
                shape.append(dimension)
                elements = product
            }
            guard let offsets = entry["data_offsets"] as? [Any], offsets.count == 2,
                  let begin = integer(offsets[0]), let end = integer(offsets[1]) else {
                throw fail("tensor '\(name)' has no [begin, end] data_offsets")
            }
            guard begin >= 0, begin <= end, end <= dataLength else {
                throw fail("tensor '\(name)' data_offsets [\(begin), \(end)] outside the \(dataLength)-byte data section")
            }
            guard end - begin == elements * dtype.size else {
                throw fail("tensor '\(name)' holds \(end - begin) bytes, but \(dtype.rawValue) shape \(shape) needs \(elements * dtype.size)")
            }
            ranges.append((begin..<end, name))
            let values = bytes.withUnsafeBytes { raw in
                convert(UnsafeRawBufferPointer(rebasing: raw[(dataStart + begin)..<(dataStart + end)]), dtype: dtype, count: elements)
            }
            file.tensors[name] = StoredTensor(Tensor(shape: shape, scalars: values), dtype: dtype)
        }
        ranges.sort { $0.range.lowerBound < $1.range.lowerBound }
        for (a, b) in zip(ranges, ranges.dropFirst()) where a.range.overlaps(b.range) {
            throw fail("tensors '\(a.name)' and '\(b.name)' overlap in the data section")
        }
        return file
    }

    /// True when a float tensor holds a NaN or an infinity.
    public var containsNonFinite: Bool {
        tensors.values.contains { $0.tensor.scalars.contains { !$0.isFinite } }
    }

    private static func integer(_ value: Any) -> Int? {
        // JSON true/false also arrive as NSNumber (objCType "c"); a shape or offset is never one.
        guard let number = value as? NSNumber, String(cString: number.objCType) != "c" else { return nil }
        let double = number.doubleValue
        guard double == double.rounded(), abs(double) < 9e15 else { return nil }
        return number.intValue
    }

    static func convert(_ raw: UnsafeRawBufferPointer, dtype: StoredTensor.DType, count: Int) -> [Float] {
        (0..<count).map { scalar(raw, at: $0, dtype: dtype) }
    }

    /// Element `i` of little-endian `dtype` data, as Float.
    static func scalar(_ raw: UnsafeRawBufferPointer, at i: Int, dtype: StoredTensor.DType) -> Float {
        switch dtype {
        case .f32: Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        case .f64: Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
        case .i64: Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
        case .i32: Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
        case .f16: Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
        case .bf16: Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
        }
    }
}
