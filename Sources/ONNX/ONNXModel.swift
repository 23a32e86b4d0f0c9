/// The subset of ONNX's messages (onnx/onnx.proto, proto2) that an exported Canopy network uses, each
/// with its encoder. Field numbers are onnx.proto's, cited beside each field; nothing else is written.
/// Opset 17 (with IR version 8, the IR that opset 17 shipped with): every operator used here exists
/// there unchanged since opset 13 or earlier, and onnxruntime, TensorRT and OpenVINO read it.

/// `TensorProto.DataType` (only the one used: every initializer and value is float32).
public enum ONNXDataType: Int, Sendable {
    case float = 1
}

/// `TensorProto`: an initializer, its values as little-endian `raw_data`.
public struct ONNXTensor: Sendable, Equatable {
    public var name: String
    public var dims: [Int]
    public var dataType: ONNXDataType
    public var rawData: [UInt8]

    public init(name: String, dims: [Int], dataType: ONNXDataType, rawData: [UInt8]) {
        self.name = name
        self.dims = dims
        self.dataType = dataType
        self.rawData = rawData
    }

    public static func float(_ name: String, dims: [Int], _ values: [Float]) -> ONNXTensor {
        precondition(dims.reduce(1, *) == values.count, "\(name): \(values.count) values for dims \(dims)")
        return ONNXTensor(name: name, dims: dims, dataType: .float, rawData: littleEndianBytes(values))
    }

    func encode(_ w: inout ProtobufWriter) {
        for dim in dims { w.int(1, dim) }          // repeated int64 dims = 1 (not packed in proto2)
        w.int(2, dataType.rawValue)                // optional int32 data_type = 2
        w.string(8, name)                          // optional string name = 8
        w.bytes(9, rawData)                        // optional bytes raw_data = 9
    }
}

/// `AttributeProto`: a node's named setting, with its `type` discriminator (field 20).
public struct ONNXAttribute: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case float(Float), int(Int), string(String), floats([Float]), ints([Int])
    }

    public var name: String
    public var value: Value

    public init(_ name: String, _ value: Value) {
        self.name = name
        self.value = value
    }

    public static func int(_ name: String, _ value: Int) -> ONNXAttribute { ONNXAttribute(name, .int(value)) }
    public static func ints(_ name: String, _ values: [Int]) -> ONNXAttribute { ONNXAttribute(name, .ints(values)) }
    public static func float(_ name: String, _ value: Float) -> ONNXAttribute { ONNXAttribute(name, .float(value)) }

    func encode(_ w: inout ProtobufWriter) {
        w.string(1, name)                          // optional string name = 1
        switch value {                             // AttributeType: FLOAT 1, INT 2, STRING 3, FLOATS 6, INTS 7
        case .float(let f):
            w.int(20, 1)                           // optional AttributeType type = 20
            w.float(2, f)                          // optional float f = 2
        case .int(let i):
            w.int(20, 2)
            w.int(3, i)                            // optional int64 i = 3
        case .string(let s):
            w.int(20, 3)
            w.string(4, s)                         // optional bytes s = 4
        case .floats(let fs):
            w.int(20, 6)
            for f in fs { w.float(7, f) }          // repeated float floats = 7 (not packed in proto2)
        case .ints(let ints):
            w.int(20, 7)
            for i in ints { w.int(8, i) }          // repeated int64 ints = 8 (not packed in proto2)
        }
    }
}

/// `NodeProto`: one operator application (default domain, ai.onnx).
public struct ONNXNode: Sendable, Equatable {
    public var opType: String
    public var inputs: [String]
    public var outputs: [String]
    public var name: String
    public var attributes: [ONNXAttribute]

    public init(_ opType: String, inputs: [String], outputs: [String], name: String, attributes: [ONNXAttribute] = []) {
        self.opType = opType
        self.inputs = inputs
        self.outputs = outputs
        self.name = name
        self.attributes = attributes
    }

    func encode(_ w: inout ProtobufWriter) {
        for input in inputs { w.string(1, input) }     // repeated string input = 1
        for output in outputs { w.string(2, output) }  // repeated string output = 2
        w.string(3, name)                              // optional string name = 3
        w.string(4, opType)                            // optional string op_type = 4
        for attribute in attributes {                  // repeated AttributeProto attribute = 5
            w.message(5) { attribute.encode(&$0) }
        }
    }
}

/// `ValueInfoProto` of a float tensor: a graph input or output with its shape, each dimension a
/// number or a name (a symbolic dimension: the batch, `N`).
public struct ONNXValueInfo: Sendable, Equatable {
    public enum Dimension: Sendable, Equatable {
        case value(Int)
        case parameter(String)
    }

    public var name: String
    public var dimensions: [Dimension]

    public init(name: String, dimensions: [Dimension]) {
        self.name = name
        self.dimensions = dimensions
    }

    func encode(_ w: inout ProtobufWriter) {
        w.string(1, name)                                  // ValueInfoProto: optional string name = 1
        w.message(2) { type in                             // optional TypeProto type = 2
            type.message(1) { tensor in                    // TypeProto: Tensor tensor_type = 1
                tensor.int(1, ONNXDataType.float.rawValue) // TypeProto.Tensor: optional int32 elem_type = 1
                tensor.message(2) { shape in               // optional TensorShapeProto shape = 2
                    for dimension in dimensions {
                        shape.message(1) { dim in          // TensorShapeProto: repeated Dimension dim = 1
                            switch dimension {
                            case .value(let v): dim.int(1, v)          // int64 dim_value = 1
                            case .parameter(let p): dim.string(2, p)   // string dim_param = 2
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GraphProto`: nodes in topological order, initializers, inputs and outputs.
public struct ONNXGraph: Sendable, Equatable {
    public var name: String
    public var nodes: [ONNXNode]
    public var initializers: [ONNXTensor]
    public var inputs: [ONNXValueInfo]
    public var outputs: [ONNXValueInfo]
    public var docString: String

    public init(name: String, nodes: [ONNXNode], initializers: [ONNXTensor], inputs: [ONNXValueInfo], outputs: [ONNXValueInfo],
                docString: String = "") {
        self.name = name
        self.nodes = nodes
        self.initializers = initializers
        self.inputs = inputs
        self.outputs = outputs
        self.docString = docString
    }

    func encode(_ w: inout ProtobufWriter) {
        for node in nodes { w.message(1) { node.encode(&$0) } }                    // repeated NodeProto node = 1
        w.string(2, name)                                                          // optional string name = 2
        for tensor in initializers { w.message(5) { tensor.encode(&$0) } }         // repeated TensorProto initializer = 5
        if !docString.isEmpty { w.string(10, docString) }                          // optional string doc_string = 10
        for input in inputs { w.message(11) { input.encode(&$0) } }                // repeated ValueInfoProto input = 11
        for output in outputs { w.message(12) { output.encode(&$0) } }             // repeated ValueInfoProto output = 12
    }
}

/// `ModelProto`: the file.
public struct ONNXModel: Sendable, Equatable {
    public static let irVersion = 8
    public static let opsetVersion = 17

    public var producerName: String
    public var producerVersion: String
    public var graph: ONNXGraph
    public var docString: String
    /// `metadata_props`, in order.
    public var metadata: [(key: String, value: String)]

    public init(producerName: String = "canopy", producerVersion: String, graph: ONNXGraph, docString: String = "",
                metadata: [(key: String, value: String)] = []) {
        self.producerName = producerName
        self.producerVersion = producerVersion
        self.graph = graph
        self.docString = docString
        self.metadata = metadata
    }

    public static func == (a: ONNXModel, b: ONNXModel) -> Bool {
        a.producerName == b.producerName && a.producerVersion == b.producerVersion && a.graph == b.graph && a.docString == b.docString
            && a.metadata.map(\.key) == b.metadata.map(\.key) && a.metadata.map(\.value) == b.metadata.map(\.value)
    }

    /// The file's bytes.
    public func encoded() -> [UInt8] {
        var w = ProtobufWriter()
        w.int(1, Self.irVersion)                       // optional int64 ir_version = 1
        w.string(2, producerName)                      // optional string producer_name = 2
        w.string(3, producerVersion)                   // optional string producer_version = 3
        if !docString.isEmpty { w.string(6, docString) } // optional string doc_string = 6
        w.message(7) { graph.encode(&$0) }             // optional GraphProto graph = 7
        w.message(8) { opset in                        // repeated OperatorSetIdProto opset_import = 8
            opset.string(1, "")                        // optional string domain = 1 ("": ai.onnx)
            opset.int(2, Self.opsetVersion)            // optional int64 version = 2
        }
        for entry in metadata {                        // repeated StringStringEntryProto metadata_props = 14
            w.message(14) { pair in
                pair.string(1, entry.key)              // optional string key = 1
                pair.string(2, entry.value)            // optional string value = 2
            }
        }
        return w.bytes
    }
}
