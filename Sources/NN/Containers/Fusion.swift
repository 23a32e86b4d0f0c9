import Tensor

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

/// Sets up inference's fused epilogues (`ConvolutionEpilogue`) everywhere in `model`: each batch norm
/// right after a convolution in a `Sequential` is applied in that convolution's output pass (with the
/// ReLU fused into it), and a residual block whose body ends in such a pair (its batch norm with no
/// ReLU of its own) has that convolution add the shortcut and apply the block's ReLU too. Training is
/// unchanged; so are the layers, the state names and the graph. Inference outputs are the same to
/// float rounding (the batch norm's scale multiplies the convolution's sums before they are written).
/// A max pool right after such a pair (or after its fused ReLU), as in a ResNet's stem, is applied by
/// the convolution too, to each image while it is in cache (`ConvolutionEpilogue.pooling`).
/// `EngineSettings.fusedInferenceEpilogues` off runs every layer's own pass instead.
public func fuseInferenceEpilogues(in model: Layer) {
    model.forEachLayer { layer in
        guard let sequence = layer as? Sequential else { return }
        let children = sequence.children
        for (index, (first, second)) in zip(children, children.dropFirst()).enumerated() {
            guard let convolution = first as? Convolution2D, let batchNorm = second as? BatchNorm,
                  batchNorm.weight.value.count == convolution.geometry.outChannels else { continue }
            convolution.foldedBatchNorm = batchNorm
            batchNorm.isFoldedIntoConvolution = true
            var next = index + 2
            if next < children.count, let relu = children[next] as? ReLU, relu.isFused { next += 1 }
            if next < children.count, let pool = children[next] as? MaxPool2D {
                convolution.foldedMaxPool = pool
                pool.isFoldedIntoConvolution = true
            }
        }
    }
    model.forEachLayer { layer in
        guard let residual = layer as? Residual, residual.activation == nil || residual.activation is ReLU,
              let body = residual.body as? Sequential, body.children.count >= 2,
              let batchNorm = body.children.last as? BatchNorm, !batchNorm.appliesReLU,
              let convolution = body.children[body.children.count - 2] as? Convolution2D,
              convolution.foldedBatchNorm === batchNorm else { return }
        residual.fusedTail = convolution
    }
}
