/// Fuses every batch norm that a ReLU directly follows in a `Sequential`, anywhere in `model`: the batch
/// norm applies the ReLU in its own pass over memory (forward and backward), and the ReLU layer passes
/// values through. The layers stay where they are, so state names and the graph are unchanged; outputs
/// and gradients are the same as unfused (max(y, 0) either way).
public func fuseBatchNormReLU(in model: Layer) {
    model.forEachLayer { layer in
        // Only a Sequential's children run one after the other (branches run side by side).
        guard let sequence = layer as? Sequential else { return }
        let children = sequence.children
        for (first, second) in zip(children, children.dropFirst()) {
            guard let batchNorm = first as? BatchNorm, let relu = second as? ReLU else { continue }
            batchNorm.appliesReLU = true
            relu.isFused = true
        }
    }
}
