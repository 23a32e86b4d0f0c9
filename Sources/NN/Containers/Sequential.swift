import Tensor

/// Layers applied in order. Children are named as in torchvision (`features.0`, `layer1`, `conv1`):
/// a child's state appears under `<prefix><name>.`.
public final class Sequential: Layer {
    public var isContainer: Bool { true }
    public private(set) var children: [(name: String, layer: Layer)]

    /// Children named by their position, as nn.Sequential does ("0", "1", ...).
    public init(_ layers: [Layer]) {
        children = layers.enumerated().map { (String($0.offset), $0.element) }
    }

    public init(named children: [(String, Layer)]) {
        self.children = children.map { (name: $0.0, layer: $0.1) }
    }

    public func append(_ name: String, _ layer: Layer) { children.append((name, layer)) }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        children.reduce(x) { input, child in
            let output = LayerProfiler.forward(child.layer, input, mode: mode)
            CostMeter.recordOutput(output, of: child.layer)
            return output
        }
    }

    public func backward(_ dy: Tensor) -> Tensor {
        children.reversed().reduce(dy) { LayerProfiler.backward($1.layer, $0) }
    }

    public func state(prefix: String) -> [(name: String, entry: StateEntry)] {
        children.flatMap { $0.layer.state(prefix: prefix + $0.name + ".") }
    }

    public func forEachLayer(_ body: (Layer) -> Void) {
        body(self)
        for child in children { child.layer.forEachLayer(body) }
    }
}
