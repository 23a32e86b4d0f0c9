@testable import ONNX
import XCTest

/// The protobuf writer against bytes worked out by hand from the encoding guide
/// (https://protobuf.dev/programming-guides/encoding/), whose own examples are among them.
final class ProtobufWriterTests: XCTestCase {
    private func written(_ body: (inout ProtobufWriter) -> Void) -> [UInt8] {
        var writer = ProtobufWriter()
        body(&writer)
        XCTAssertEqual(writer.count, writer.bytes.count)
        return writer.bytes
    }

    func testVarintsAtTheirEdges() {
        XCTAssertEqual(written { $0.varint(0) }, [0x00])
        XCTAssertEqual(written { $0.varint(1) }, [0x01])
        XCTAssertEqual(written { $0.varint(127) }, [0x7F])
        XCTAssertEqual(written { $0.varint(128) }, [0x80, 0x01])
        XCTAssertEqual(written { $0.varint(150) }, [0x96, 0x01])
        XCTAssertEqual(written { $0.varint(300) }, [0xAC, 0x02])
        XCTAssertEqual(written { $0.varint(16_383) }, [0xFF, 0x7F])
        XCTAssertEqual(written { $0.varint(16_384) }, [0x80, 0x80, 0x01])
        XCTAssertEqual(written { $0.varint(UInt64(UInt32.max)) }, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
        XCTAssertEqual(written { $0.varint(UInt64.max) }, [UInt8](repeating: 0xFF, count: 9) + [0x01])
    }

    func testKeysAndIntegerFields() {
        // Field 1 varint: key 0x08; the guide's 150.
        XCTAssertEqual(written { $0.int(1, 150) }, [0x08, 0x96, 0x01])
        // Field 20 (AttributeProto.type): key 20 << 3 = 160, two bytes.
        XCTAssertEqual(written { $0.int(20, 7) }, [0xA0, 0x01, 0x07])
        // int64 −1: ten bytes of two's complement, not zigzag.
        XCTAssertEqual(written { $0.int(3, -1) }, [0x18] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
        XCTAssertEqual(written { $0.int(2, 0) }, [0x10, 0x00])
    }

    func testFloatsStringsAndBytes() {
        // fixed32, little-endian IEEE 754: 1.0 = 0x3F800000, −2.5 = 0xC0200000.
        XCTAssertEqual(written { $0.float(2, 1) }, [0x15, 0x00, 0x00, 0x80, 0x3F])
        XCTAssertEqual(written { $0.float(2, -2.5) }, [0x15, 0x00, 0x00, 0x20, 0xC0])
        // The guide's string example.
        XCTAssertEqual(written { $0.string(2, "testing") }, [0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6E, 0x67])
        XCTAssertEqual(written { $0.string(4, "") }, [0x22, 0x00])
        XCTAssertEqual(written { $0.bytes(9, [UInt8](repeating: 7, count: 200)) }, [0x4A, 0xC8, 0x01] + [UInt8](repeating: 7, count: 200))
    }

    func testNestedMessagesCarryTheirLength() {
        // The guide's nested example: field 3 holding {1: 150}.
        XCTAssertEqual(written { $0.message(3) { $0.int(1, 150) } }, [0x1A, 0x03, 0x08, 0x96, 0x01])
        // Two levels, the inner longer than 127 bytes: its length takes two bytes.
        let inner = String(repeating: "x", count: 130)
        let bytes = written { outer in outer.message(7) { middle in middle.message(1) { $0.string(2, inner) } } }
        // inner field: key 0x12, length 130 = [0x82, 0x01], 130 bytes → 133; middle: key 0x0A, [0x85, 0x01], 133 → 136.
        XCTAssertEqual(Array(bytes.prefix(7)), [0x3A, 0x88, 0x01, 0x0A, 0x85, 0x01, 0x12])
        XCTAssertEqual(bytes.count, 3 + 136)
        XCTAssertEqual(written { $0.message(5) { _ in } }, [0x2A, 0x00])
    }

    func testPackedRepeatedFields() {
        XCTAssertEqual(written { $0.packedFloats(4, [1, -2]) }, [0x22, 0x08, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0])
        XCTAssertEqual(written { $0.packedFloats(4, []) }, [0x22, 0x00])
        // The guide's packed example: 3, 270, 86942.
        XCTAssertEqual(written { $0.packedInts(4, [3, 270, 86942]) }, [0x22, 0x06, 0x03, 0x8E, 0x02, 0x9E, 0xA7, 0x05])
    }

    func testAnAttributeAndATensorAsONNXDefinesThem() {
        // AttributeProto {name "strides" (1), type INTS = 7 (20), ints 2, 2 (8, unpacked as proto2 declares it)}.
        var attribute = ProtobufWriter()
        ONNXAttribute.ints("strides", [2, 2]).encode(&attribute)
        XCTAssertEqual(attribute.bytes, [0x0A, 0x07] + Array("strides".utf8) + [0xA0, 0x01, 0x07, 0x40, 0x02, 0x40, 0x02])
        // {name "epsilon", type FLOAT = 1, f (2) 0.5}.
        var epsilon = ProtobufWriter()
        ONNXAttribute.float("epsilon", 0.5).encode(&epsilon)
        XCTAssertEqual(epsilon.bytes, [0x0A, 0x07] + Array("epsilon".utf8) + [0xA0, 0x01, 0x01, 0x15, 0x00, 0x00, 0x00, 0x3F])
        // TensorProto {dims (1) 2, data_type (2) FLOAT = 1, name (8) "w", raw_data (9) 1.0, 0.5 little-endian}.
        var tensor = ProtobufWriter()
        ONNXTensor.float("w", dims: [2], [1, 0.5]).encode(&tensor)
        XCTAssertEqual(tensor.bytes, [0x08, 0x02, 0x10, 0x01, 0x42, 0x01, 0x77, 0x4A, 0x08, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x3F])
    }
}
