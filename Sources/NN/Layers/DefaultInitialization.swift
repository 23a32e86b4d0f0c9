import Tensor

/// PyTorch's default for Conv2d and Linear (kaiming_uniform with a = √5, which reduces to
/// uniform(−1/√fan_in, 1/√fan_in)), for weights and biases alike.
func torchDefaultUniform(shape: [Int], fanIn: Int, random: inout SeededRandom) -> Tensor {
    let bound = 1 / Float(max(fanIn, 1)).squareRoot()
    var tensor = Tensor(shape: shape)
    for i in 0..<tensor.count { tensor.scalars[i] = (random.nextUniform() * 2 - 1) * bound }
    return tensor
}
