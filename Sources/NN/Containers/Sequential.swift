import Tensor

/// Layers applied in order. Children are named as in torchvision (`features.0`, `layer1`, `conv1`):
/// a child's state appears under `<prefix><name>.`.
public final class Sequential: Layer {
    public var isContainer: Bool { true }
    public let namedChildren: [(name: String, layer: Layer)]
    public var children: [Layer] { namedChildren.map(\.layer) }

    /// Children named by their position, as nn.Sequential does ("0", "1", ...).
    public init(_ layers: [Layer]) {
        namedChildren = layers.enumerated().map { (String($0.offset), $0.element) }
    }

    public init(named children: [(String, Layer)]) {
        namedChildren = children.map { (name: $0.0, layer: $0.1) }
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        namedChildren.reduce(x) { input, child in
            let output = LayerProfiler.forward(child.layer, input, mode: mode)
            CostMeter.recordOutput(output, of: child.layer)
            return output
        }
    }

    public func backward(_ dy: Tensor) -> Tensor {
        namedChildren.reversed().reduce(dy) { LayerProfiler.backward($1.layer, $0) }
    }

    public func state(prefix: String) -> [(name: String, entry: StateEntry)] {
        namedChildren.flatMap { $0.layer.state(prefix: prefix + $0.name + ".") }
    }
}
