import NN

/// What every backbone gets once built, for speed without changing a number:
/// - the first convolution reads the image, whose gradient is never used, so its backward skips it
///   (half that layer's backward GEMMs and its whole fold);
/// - each batch norm directly followed by a ReLU applies it in its own pass (`fuseBatchNormReLU`);
/// - in inference, batch norms (with their ReLU) and residual sums are applied by the convolution
///   before them as it writes its output (`fuseInferenceEpilogues`).
@discardableResult
func finishing<Model: Layer>(_ model: Model) -> Model {
    var first: Convolution2D?
    model.forEachLayer { layer in
        if first == nil, let convolution = layer as? Convolution2D { first = convolution }
    }
    first?.computesInputGradient = false
    fuseBatchNormReLU(in: model)
    fuseInferenceEpilogues(in: model)
    return model
}
