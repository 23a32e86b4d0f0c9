/// Protocol Buffers' wire format, write side only: what an ONNX file needs (varints, fixed32 floats,
/// length-delimited strings, bytes and nested messages, packed repeated scalars). See
/// https://protobuf.dev/programming-guides/encoding/.
///
/// A field is a key (field number << 3 | wire type, as a varint) and a value. Nested messages are
/// length-delimited, so their size must be known before their bytes: `message(_:_:)` runs the
/// message's encoder once on a counting writer, then again on this one. Counting a raw byte blob
/// costs nothing, so a 400 MB initializer is copied once, into the file's buffer.
public struct ProtobufWriter {
    public enum WireType: UInt8, Sendable {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5
    }

    /// The encoded bytes (empty while counting).
    public private(set) var bytes: [UInt8] = []
    /// Bytes written (or, counting, that would have been).
    public private(set) var count = 0
    private let counting: Bool

    public init() { counting = false }

    private init(counting: Bool) { self.counting = counting }

    private mutating func append(_ byte: UInt8) {
        count += 1
        if !counting { bytes.append(byte) }
    }

    private mutating func append<C: Collection>(contentsOf data: C) where C.Element == UInt8 {
        count += data.count
        if !counting { bytes.append(contentsOf: data) }
    }

    /// Base-128, least significant group first, high bit set on every byte but the last.
    public mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        append(UInt8(rest))
    }

    public mutating func key(_ field: Int, _ wireType: WireType) {
        precondition(field > 0 && field < 1 << 29, "protobuf field number \(field)")
        varint(UInt64(field) << 3 | UInt64(wireType.rawValue))
    }

    /// An `int32`, `int64` or enum field: a negative value is its 64-bit two's complement (ten
    /// bytes), as protobuf's int types (not sint's zigzag) are encoded.
    public mutating func int(_ field: Int, _ value: Int) {
        key(field, .varint)
        varint(UInt64(bitPattern: Int64(value)))
    }

    /// A `float` field: four bytes, IEEE 754, little-endian.
    public mutating func float(_ field: Int, _ value: Float) {
        key(field, .fixed32)
        littleEndian32(value.bitPattern)
    }

    private mutating func littleEndian32(_ bits: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { append(UInt8(truncatingIfNeeded: bits >> UInt32(shift))) }
    }

    /// A `bytes` field.
    public mutating func bytes<C: Collection>(_ field: Int, _ data: C) where C.Element == UInt8 {
        key(field, .lengthDelimited)
        varint(UInt64(data.count))
        append(contentsOf: data)
    }

    /// A `string` field (UTF-8).
    public mutating func string(_ field: Int, _ text: String) { bytes(field, Array(text.utf8)) }

    /// A nested message, written by `body`: measured first, then written.
    public mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        var measure = ProtobufWriter(counting: true)
        body(&measure)
        key(field, .lengthDelimited)
        varint(UInt64(measure.count))
        let before = count
        body(&self)
        precondition(count - before == measure.count, "a message wrote \(count - before) bytes, measured \(measure.count)")
    }

    // Packed repeated fields: ONNX declares some (`TensorProto.float_data`, `int64_data`); the export
    // itself writes every tensor as `raw_data`, so these serve other messages and the tests.

    /// A packed repeated `float` field (`[packed = true]`): one key, the length, the values as fixed32.
    public mutating func packedFloats(_ field: Int, _ values: [Float]) {
        key(field, .lengthDelimited)
        varint(UInt64(values.count * 4))
        for value in values { littleEndian32(value.bitPattern) }
    }

    /// A packed repeated `int64` field: one key, the length, the values as varints.
    public mutating func packedInts(_ field: Int, _ values: [Int]) {
        var measure = ProtobufWriter(counting: true)
        for value in values { measure.varint(UInt64(bitPattern: Int64(value))) }
        key(field, .lengthDelimited)
        varint(UInt64(measure.count))
        for value in values { varint(UInt64(bitPattern: Int64(value))) }
    }
}

/// `values` as IEEE 754 little-endian bytes (ONNX's `raw_data`).
public func littleEndianBytes(_ values: [Float]) -> [UInt8] {
    #if _endian(little)
    return values.withUnsafeBytes { Array($0) }
    #else
    return values.flatMap { value in (0..<4).map { UInt8(truncatingIfNeeded: value.bitPattern >> UInt32($0 * 8)) } }
    #endif
}
