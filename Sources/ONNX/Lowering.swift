import NN
import Tensor

/// A network that cannot be written as ONNX, naming the layer (its state path) and why.
public struct ONNXExportError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Lowers a Canopy network (a tree of `Layer`s) to an ONNX graph, walking the containers generically:
///
/// | Canopy | ONNX |
/// | --- | --- |
/// | `Sequential` | its children in order |
/// | `ConcatenatedBranches` | each branch on the same input, `Concat` (axis 1) |
/// | `Residual` | body and shortcut (or the input), `Add`, then the activation |
/// | `Convolution2D` | `Conv` (pads, strides, dilations 1, group 1) |
/// | `BatchNorm` | `BatchNormalization` (inference: running statistics, epsilon) |
/// | `ReLU`, `Sigmoid` | `Relu`, `Sigmoid` (a ReLU fused into its batch norm is still its own node) |
/// | `Dropout` | nothing (inference) |
/// | `LocalResponseNorm` | `LRN` (odd sizes, where both define the same window) |
/// | `MaxPool2D` | `MaxPool`, ceil mode as explicit end padding |
/// | `AvgPool2D` | `AveragePool` with `count_include_pad` (a ceil-mode window past the padding is refused) |
/// | `AdaptiveAvgPool2D` | `GlobalAveragePool` (1x1), `AveragePool` (sizes that divide), else two `MatMul`s with the bin matrices |
/// | `Flatten` | `Flatten` (axis 1) |
/// | `Linear` | `Gemm` (transB 1) |
///
/// and a final `Sigmoid`, so the output is the 17 probabilities. Any other layer type is an error
/// naming it. Canopy's tensors are feature-major ([C, N, H, W]); ONNX's are [N, C, H, W], with the
/// same per-image (c, h, w) order, so weights go over unchanged. Shapes are tracked through the walk
/// (the input size is fixed), which is what lets pools and adaptive pools be written exactly.
public enum ONNXLowering {
    /// The ONNX model of `network` for `bands` x `inputSize` x `inputSize` inputs and `outputs`
    /// logits, with a sigmoid at the end. Input `input` [N, bands, size, size], output
    /// `probabilities` [N, outputs]; initializers keep the state's names (torchvision's).
    public static func model(of network: Layer, bands: Int, inputSize: Int, outputs: Int, graphName: String,
                             producerVersion: String, docString: String = "",
                             metadata: [(key: String, value: String)] = []) throws(ONNXExportError) -> ONNXModel {
        let builder = GraphBuilder()
        builder.reserve("input")
        builder.reserve("probabilities")
        for (name, _) in network.state(prefix: "") { builder.reserve(name) }
        let input = GraphBuilder.Value(name: "input", shape: [bands, inputSize, inputSize])
        let logits = try builder.lower(network, prefix: "", input)
        guard logits.shape == [outputs] else {
            throw ONNXExportError("the network ends in shape \(logits.shape) per image, not [\(outputs)] logits")
        }
        builder.nodes.append(ONNXNode("Sigmoid", inputs: [logits.name], outputs: ["probabilities"], name: "probabilities"))
        let graph = ONNXGraph(
            name: graphName, nodes: builder.nodes, initializers: builder.initializers,
            inputs: [ONNXValueInfo(name: "input", dimensions: [.parameter("N"), .value(bands), .value(inputSize), .value(inputSize)])],
            outputs: [ONNXValueInfo(name: "probabilities", dimensions: [.parameter("N"), .value(outputs)])],
            docString: docString)
        return ONNXModel(producerVersion: producerVersion, graph: graph, metadata: metadata)
    }
}

/// The graph being built: nodes, initializers and the names in use.
final class GraphBuilder {
    /// A value of the graph and its shape per image (the batch dimension left out): [C, H, W] or [F].
    struct Value {
        var name: String
        var shape: [Int]
    }

    var nodes: [ONNXNode] = []
    var initializers: [ONNXTensor] = []
    private var names: Set<String> = []

    func reserve(_ name: String) { names.insert(name) }

    /// `base`, or `base_2`, `base_3`, ... when taken.
    func unique(_ base: String) -> String {
        var name = base, counter = 1
        while names.contains(name) {
            counter += 1
            name = "\(base)_\(counter)"
        }
        names.insert(name)
        return name
    }

    /// Adds a node with one output named after `name`; returns that output.
    func node(_ op: String, _ inputs: [String], name: String, _ attributes: [ONNXAttribute] = [], shape: [Int]) -> Value {
        let output = unique(name)
        nodes.append(ONNXNode(op, inputs: inputs, outputs: [output], name: output, attributes: attributes))
        return Value(name: output, shape: shape)
    }

    /// An initializer holding `tensor` under the state name `name` (reserved up front, so taken as is).
    func weight(_ name: String, _ tensor: Tensor) -> String {
        initializers.append(.float(name, dims: tensor.shape, tensor.scalars))
        return name
    }

    /// An initializer that is not in the network's state (pooling matrices), under a fresh name.
    func constant(_ base: String, dims: [Int], _ values: [Float]) -> String {
        let name = unique(base)
        initializers.append(.float(name, dims: dims, values))
        return name
    }

    /// Where a layer sits: its state prefix ("layer1.0.conv1.", names its initializers) and its path
    /// (the prefix without the dot, names its nodes and errors).
    struct Site {
        var prefix: String
        var path: String { prefix.hasSuffix(".") ? String(prefix.dropLast()) : (prefix.isEmpty ? "network" : prefix) }
    }

    func lower(_ layer: Layer, prefix: String, _ x: Value) throws(ONNXExportError) -> Value {
        let site = Site(prefix: prefix)
        switch layer {
        case let sequence as Sequential:
            var value = x
            for child in sequence.namedChildren { value = try lower(child.layer, prefix: prefix + child.name + ".", value) }
            return value
        case let branches as ConcatenatedBranches: return try concatenated(branches, site, x)
        case let residual as Residual: return try residualBlock(residual, site, x)
        case let convolution as Convolution2D: return try conv(convolution, site, x)
        case let batchNorm as BatchNorm: return try batchNormalization(batchNorm, site, x)
        // A ReLU fused into the batch norm before it (`fuseBatchNormReLU`) is applied by that layer in
        // Canopy; here the batch norm is plain and the ReLU its own node: the same values.
        case is ReLU: return node("Relu", [x.name], name: site.path, shape: x.shape)
        case is Sigmoid: return node("Sigmoid", [x.name], name: site.path, shape: x.shape)
        case is Dropout: return x
        case let lrn as LocalResponseNorm: return try localResponseNorm(lrn, site, x)
        case let pool as MaxPool2D: return try maxPool(pool, site, x)
        case let pool as AvgPool2D: return try averagePool(pool, site, x)
        case let pool as AdaptiveAvgPool2D: return try adaptiveAveragePool(pool, site, x)
        case is Flatten:
            if x.shape.count == 1 { return x }
            _ = try image(x, site, "Flatten")
            return node("Flatten", [x.name], name: site.path, [.int("axis", 1)], shape: [x.shape.reduce(1, *)])
        case let linear as Linear: return try gemm(linear, site, x)
        default: throw ONNXExportError("\(site.path): \(type(of: layer)) has no ONNX lowering")
        }
    }

    /// `x`'s [C, H, W] per image, or an error naming the layer.
    private func image(_ x: Value, _ site: Site, _ op: String) throws(ONNXExportError) -> (c: Int, h: Int, w: Int) {
        guard x.shape.count == 3 else { throw ONNXExportError("\(site.path) (\(op)) needs [C, H, W] maps per image, gets shape \(x.shape)") }
        return (x.shape[0], x.shape[1], x.shape[2])
    }

    // MARK: containers

    private func concatenated(_ branches: ConcatenatedBranches, _ site: Site, _ x: Value) throws(ONNXExportError) -> Value {
        var outputs: [Value] = []
        for branch in branches.branches { outputs.append(try lower(branch.layer, prefix: site.prefix + branch.name + ".", x)) }
        guard let first = outputs.first, outputs.allSatisfy({ $0.shape.count == 3 && $0.shape[1...] == first.shape[1...] }) else {
            throw ONNXExportError("\(site.path): branch outputs \(outputs.map(\.shape)) cannot be joined along channels")
        }
        return node("Concat", outputs.map(\.name), name: site.path + ".concat", [.int("axis", 1)],
                    shape: [outputs.map { $0.shape[0] }.reduce(0, +)] + Array(first.shape[1...]))
    }

    /// The body's state is named at the block's level, the shortcut's under `shortcutName`.
    private func residualBlock(_ residual: Residual, _ site: Site, _ x: Value) throws(ONNXExportError) -> Value {
        let main = try lower(residual.body, prefix: site.prefix, x)
        var side = x
        if let shortcut = residual.shortcut { side = try lower(shortcut, prefix: site.prefix + residual.shortcutName + ".", x) }
        guard main.shape == side.shape else { throw ONNXExportError("\(site.path): the body gives \(main.shape), the shortcut \(side.shape)") }
        let sum = node("Add", [main.name, side.name], name: site.path + ".add", shape: main.shape)
        guard let activation = residual.activation else { return sum }
        return try lower(activation, prefix: site.prefix + "out.", sum)
    }

    // MARK: layers with weights

    private func conv(_ convolution: Convolution2D, _ site: Site, _ x: Value) throws(ONNXExportError) -> Value {
        let (c, h, w) = try image(x, site, "Conv")
        let g = convolution.geometry
        guard c == g.inChannels else { throw ONNXExportError("\(site.path) (Conv): \(g.inChannels) input channels, gets \(c)") }
        let (ho, wo) = g.outputSize(height: h, width: w)
        guard ho > 0, wo > 0 else { throw ONNXExportError("\(site.path) (Conv): no output from a \(h)x\(w) input") }
        var inputs = [x.name, weight(site.prefix + "weight", convolution.weight.value)]
        if let bias = convolution.bias { inputs.append(weight(site.prefix + "bias", bias.value)) }
        return node("Conv", inputs, name: site.path, [
            .ints("kernel_shape", [g.kernel.height, g.kernel.width]), .ints("strides", [g.stride.height, g.stride.width]),
            .ints("pads", [g.padding.height, g.padding.width, g.padding.height, g.padding.width]),
            .ints("dilations", [1, 1]), .int("group", 1),
        ], shape: [g.outChannels, ho, wo])
    }

    /// ONNX's BatchNormalization takes [N, C, ...]: maps, or features (BatchNorm1d). Inference mode
    /// (training_mode 0, the default): the running statistics, as Canopy's inference.
    private func batchNormalization(_ batchNorm: BatchNorm, _ site: Site, _ x: Value) throws(ONNXExportError) -> Value {
        guard x.shape.count == 3 || x.shape.count == 1, x.shape[0] == batchNorm.weight.value.count else {
            throw ONNXExportError("\(site.path) (BatchNormalization): \(batchNorm.weight.value.count) channels, gets shape \(x.shape)")
        }
        let p = site.prefix
        let inputs = [x.name, weight(p + "weight", batchNorm.weight.value), weight(p + "bias", batchNorm.bias.value),
                      weight(p + "running_mean", batchNorm.runningMean.value), weight(p + "running_var", batchNorm.runningVariance.value)]
        return node("BatchNormalization", inputs, name: site.path, [.float("epsilon", batchNorm.epsilon)], shape: x.shape)
    }

    /// y = x · Wᵀ + b on [N, In], W stored [Out, In] as PyTorch's Linear.
    private func gemm(_ linear: Linear, _ site: Site, _ x: Value) throws(ONNXExportError) -> Value {
        let (outputs, inputs) = (linear.weight.value.shape[0], linear.weight.value.shape[1])
        guard x.shape == [inputs] else { throw ONNXExportError("\(site.path) (Gemm): \(inputs) input features, gets shape \(x.shape)") }
        var operands = [x.name, weight(site.prefix + "weight", linear.weight.value)]
        if let bias = linear.bias { operands.append(weight(site.prefix + "bias", bias.value)) }
        return node("Gemm", operands, name: site.path, [.int("transB", 1)], shape: [outputs])
    }

    // MARK: normalisation and pooling

    /// Canopy (PyTorch) sums channels [c − ⌊size/2⌋, c + ⌊(size−1)/2⌋], ONNX [c − ⌊(size−1)/2⌋,
    /// c + ⌈(size−1)/2⌉]: the same window for odd sizes only. Both scale α by 1/size.
    private func localResponseNorm(_ lrn: LocalResponseNorm, _ site: Site, _ x: Value) throws(ONNXExportError) -> Value {
        let p = lrn.parameters
        guard p.size % 2 == 1 else {
            throw ONNXExportError("\(site.path) (LRN): size \(p.size) is even; ONNX's LRN centres an even window differently")
        }
        _ = try image(x, site, "LRN")
        return node("LRN", [x.name], name: site.path, [.float("alpha", p.alpha), .float("beta", p.beta), .float("bias", p.k),
                                                       .int("size", p.size)], shape: x.shape)
    }

    /// Ceil mode as explicit end padding (padded cells never win a max in ONNX), so every runtime gets
    /// Canopy's (PyTorch's) output size, with its rule on the last window, without ceil_mode.
    private func maxPool(_ pool: MaxPool2D, _ site: Site, _ x: Value) throws(ONNXExportError) -> Value {
        let (c, h, w) = try image(x, site, "MaxPool")
        let g = pool.geometry
        let (ho, wo) = (g.outputLength(h), g.outputLength(w))
        guard ho > 0, wo > 0 else { throw ONNXExportError("\(site.path) (MaxPool): no output from a \(h)x\(w) input") }
        let endH = max(g.padding, (ho - 1) * g.stride + g.kernel - h - g.padding)
        let endW = max(g.padding, (wo - 1) * g.stride + g.kernel - w - g.padding)
        try checkFloorSize(site.path, "MaxPool", h, g, begin: g.padding, end: endH, expected: ho)
        try checkFloorSize(site.path, "MaxPool", w, g, begin: g.padding, end: endW, expected: wo)
        return node("MaxPool", [x.name], name: site.path, [
            .ints("kernel_shape", [g.kernel, g.kernel]), .ints("strides", [g.stride, g.stride]),
            .ints("pads", [g.padding, g.padding, endH, endW]), .int("ceil_mode", 0),
        ], shape: [c, ho, wo])
    }

    /// Canopy divides by the window clipped to the padded input (count_include_pad) or to the input;
    /// with no window past the padding, ONNX's AveragePool divides alike.
    private func averagePool(_ pool: AvgPool2D, _ site: Site, _ x: Value) throws(ONNXExportError) -> Value {
        let (c, h, w) = try image(x, site, "AveragePool")
        let g = pool.geometry
        let (ho, wo) = (g.outputLength(h), g.outputLength(w))
        guard ho > 0, wo > 0 else { throw ONNXExportError("\(site.path) (AveragePool): no output from a \(h)x\(w) input") }
        guard (ho - 1) * g.stride + g.kernel <= h + 2 * g.padding, (wo - 1) * g.stride + g.kernel <= w + 2 * g.padding else {
            throw ONNXExportError("\(site.path) (AveragePool): a ceil-mode window reaches past the padding on a \(h)x\(w) input; "
                                  + "runtimes divide such windows differently, so it is not exported")
        }
        try checkFloorSize(site.path, "AveragePool", h, g, begin: g.padding, end: g.padding, expected: ho)
        try checkFloorSize(site.path, "AveragePool", w, g, begin: g.padding, end: g.padding, expected: wo)
        return node("AveragePool", [x.name], name: site.path, [
            .ints("kernel_shape", [g.kernel, g.kernel]), .ints("strides", [g.stride, g.stride]),
            .ints("pads", [g.padding, g.padding, g.padding, g.padding]), .int("ceil_mode", 0),
            .int("count_include_pad", pool.countIncludePad ? 1 : 0),
        ], shape: [c, ho, wo])
    }

    /// The same size: nothing; 1x1: GlobalAveragePool; sizes that divide: an AveragePool with kernel =
    /// stride = input / output (bins [i·k, (i+1)·k)); otherwise (overlapping bins, or repeating ones when
    /// growing) y = Ph · x · Pw, Ph [oh, h] and Pw [w, ow] holding 1/(bin length) over each bin
    /// [⌊i·n/o⌋, ⌈(i+1)·n/o⌉), Canopy's (PyTorch's) bins.
    private func adaptiveAveragePool(_ pool: AdaptiveAvgPool2D, _ site: Site, _ x: Value) throws(ONNXExportError) -> Value {
        let (c, h, w) = try image(x, site, "adaptive average pool")
        let (oh, ow) = (pool.outputHeight, pool.outputWidth)
        if (h, w) == (oh, ow) { return x }
        if (oh, ow) == (1, 1) { return node("GlobalAveragePool", [x.name], name: site.path, shape: [c, 1, 1]) }
        if h % oh == 0, w % ow == 0 {
            return node("AveragePool", [x.name], name: site.path, [
                .ints("kernel_shape", [h / oh, w / ow]), .ints("strides", [h / oh, w / ow]), .ints("pads", [0, 0, 0, 0]),
            ], shape: [c, oh, ow])
        }
        let columns = node("MatMul", [x.name, constant(site.path + ".columns", dims: [w, ow], binMatrix(w, ow, transposed: true))],
                           name: site.path + ".columns_pooled", shape: [c, h, ow])
        return node("MatMul", [constant(site.path + ".rows", dims: [oh, h], binMatrix(h, oh, transposed: false)), columns.name],
                    name: site.path, shape: [c, oh, ow])
    }

    /// ONNX's output length without ceil mode, floor((n + begin + end − kernel) / stride) + 1, must be Canopy's.
    private func checkFloorSize(_ path: String, _ op: String, _ n: Int, _ g: PoolingGeometry, begin: Int, end: Int,
                                expected: Int) throws(ONNXExportError) {
        let size = (n + begin + end - g.kernel) / g.stride + 1
        guard size == expected, begin < g.kernel, end < g.kernel else {
            throw ONNXExportError("\(path) (\(op)): pads \(begin), \(end) on \(n) give \(size) cells, Canopy \(expected)")
        }
    }

    /// The averaging matrix of adaptive pooling from `n` cells to `o` bins: [o, n] (bin-major), or
    /// transposed [n, o].
    private func binMatrix(_ n: Int, _ o: Int, transposed: Bool) -> [Float] {
        var matrix = [Float](repeating: 0, count: n * o)
        for bin in 0..<o {
            let start = bin * n / o, end = ((bin + 1) * n + o - 1) / o
            for cell in start..<end { matrix[transposed ? cell * o + bin : bin * n + cell] = 1 / Float(end - start) }
        }
        return matrix
    }
}
