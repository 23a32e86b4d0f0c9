import Tensor

/// PyTorch's default for Conv2d and Linear (kaiming_uniform with a = √5, which reduces to
/// uniform(−1/√fan_in, 1/√fan_in)), for weights and biases alike.
func torchDefaultUniform(shape: [Int], fanIn: Int, random: inout SeededRandom) -> Tensor {
    var tensor = Tensor(shape: shape)
    Initializer.torchDefault.fill(&tensor, fanIn: fanIn, random: &random)
    return tensor
}
