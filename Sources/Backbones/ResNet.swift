// Deep Residual Learning for Image Recognition
// Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun (2015)
// https://arxiv.org/abs/1512.03385
//
// As torchvision builds it (v1.5: the stride of a bottleneck sits on its 3x3 convolution), with its
// state_dict names, so torchvision weights load unchanged.
import NN
import Tensor

public enum ResNet {
    public enum Block: Sendable { case basic, bottleneck }

    /// The depths of the paper's Table 1.
    public enum Depth: Int, Sendable, CaseIterable {
        case resNet18 = 18, resNet34 = 34, resNet50 = 50, resNet101 = 101, resNet152 = 152

        public var block: Block { rawValue < 50 ? .basic : .bottleneck }
        public var blocksPerStage: [Int] {
            switch self {
            case .resNet18: [2, 2, 2, 2]
            case .resNet34, .resNet50: [3, 4, 6, 3]
            case .resNet101: [3, 4, 23, 3]
            case .resNet152: [3, 8, 36, 3]
            }
        }
    }

    /// A ResNet of `depth` for `bands` input bands and `classes` logits; `dropout` > 0 puts a dropout
    /// between the global pool and the classifier (no state, so torchvision's names are unchanged).
    public static func make(_ depth: Depth, bands: Int = 3, classes: Int = 17, dropout: Float = 0,
                            random: inout SeededRandom) -> Sequential {
        let workspace = Workspace()
        let expansion = depth.block == .basic ? 1 : 4
        var layers: [(String, Layer)] = [
            ("conv1", Convolution2D(bands, 64, kernel: 7, stride: 2, padding: 3, bias: false, workspace: workspace, random: &random)),
            ("bn1", BatchNorm(channels: 64)), ("relu", ReLU()), ("maxpool", MaxPool2D(kernel: 3, stride: 2, padding: 1)),
        ]
        var channels = 64
        for (stage, (width, blocks)) in zip([64, 128, 256, 512], depth.blocksPerStage).enumerated() {
            var stageBlocks: [Layer] = []
            for index in 0..<blocks {
                let stride = index == 0 && stage > 0 ? 2 : 1
                stageBlocks.append(block(depth.block, input: channels, width: width, stride: stride, workspace: workspace, random: &random))
                channels = width * expansion
            }
            layers.append(("layer\(stage + 1)", Sequential(stageBlocks)))
        }
        layers += [("avgpool", AdaptiveAvgPool2D(1, 1)), ("flatten", Flatten())]
        if dropout > 0 { layers.append(("dropout", Dropout(probability: dropout, random: &random))) }
        layers.append(("fc", Linear(channels, classes, random: &random)))
        let model = Sequential(named: layers)
        initialize(model, random: &random)
        return finishing(model)
    }

    /// A basic block (two 3x3) or a bottleneck (1x1, 3x3, 1x1 with 4x expansion), with a projection
    /// shortcut when the shape changes.
    static func block(_ kind: Block, input: Int, width: Int, stride: Int, workspace: Workspace,
                      random: inout SeededRandom) -> Layer {
        let output = kind == .basic ? width : width * 4
        let body: Sequential
        switch kind {
        case .basic:
            body = Sequential(named: [
                ("conv1", Convolution2D(input, width, kernel: 3, stride: stride, padding: 1, bias: false, workspace: workspace, random: &random)),
                ("bn1", BatchNorm(channels: width)), ("relu", ReLU()),
                ("conv2", Convolution2D(width, width, kernel: 3, padding: 1, bias: false, workspace: workspace, random: &random)),
                ("bn2", BatchNorm(channels: width)),
            ])
        case .bottleneck:
            body = Sequential(named: [
                ("conv1", Convolution2D(input, width, kernel: 1, bias: false, workspace: workspace, random: &random)),
                ("bn1", BatchNorm(channels: width)), ("relu1", ReLU()),
                ("conv2", Convolution2D(width, width, kernel: 3, stride: stride, padding: 1, bias: false, workspace: workspace, random: &random)),
                ("bn2", BatchNorm(channels: width)), ("relu2", ReLU()),
                ("conv3", Convolution2D(width, output, kernel: 1, bias: false, workspace: workspace, random: &random)),
                ("bn3", BatchNorm(channels: output)),
            ])
        }
        var shortcut: Layer?
        if stride != 1 || input != output {
            shortcut = Sequential([Convolution2D(input, output, kernel: 1, stride: stride, bias: false, workspace: workspace, random: &random),
                                   BatchNorm(channels: output)])
        }
        return Residual(body: body, shortcut: shortcut, activation: ReLU())
    }

    /// torchvision's initialisation: Kaiming normal (fan_out, ReLU) for convolutions; batch norm
    /// weights 1 and biases 0 (already so); the classifier keeps Linear's default.
    static func initialize(_ model: Layer, random: inout SeededRandom) {
        for (name, entry) in model.state(prefix: "") {
            guard case .parameter(let parameter) = entry, parameter.value.rank == 4, name.hasSuffix("weight") else { continue }
            Initializer.heNormal(.fanOut).fill(&parameter.value, random: &random)
        }
    }
}
