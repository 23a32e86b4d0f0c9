import NN

/// Marks a network's first convolution as reading the image: its input gradient is never used, so
/// backward skips it (half that layer's backward GEMMs and its whole fold).
@discardableResult
func skippingImageGradient<Model: Layer>(_ model: Model) -> Model {
    var first: Convolution2D?
    model.forEachLayer { layer in
        if first == nil, let convolution = layer as? Convolution2D { first = convolution }
    }
    first?.computesInputGradient = false
    return model
}
