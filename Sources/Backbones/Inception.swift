// Going Deeper with Convolutions
// Christian Szegedy, Wei Liu, Yangqing Jia, Pierre Sermanet, Scott Reed, Dragomir Anguelov, Dumitru Erhan,
// Vincent Vanhoucke, Andrew Rabinovich (2014)
// https://arxiv.org/abs/1409.4842
//
// GoogLeNet (Inception v1) as torchvision builds it: every convolution batch-normed (BasicConv2d:
// conv without bias, BN with ε = 0.001, ReLU), ceil-mode max pools, and torchvision's 3x3 (not 5x5)
// convolution in the third branch, so its weights load unchanged. The two auxiliary classifiers
// (torchvision's aux_logits, a training-time loss after inception4a and inception4d) are not built.
import NN
import Tensor

public enum GoogLeNet {
    /// One Inception module's widths: 1x1; 3x3 reduce, 3x3; "5x5" reduce, "5x5"; pool projection.
    struct Module {
        var input: Int, ones: Int, threeReduce: Int, three: Int, fiveReduce: Int, five: Int, pool: Int
        var output: Int { ones + three + five + pool }
    }

    static let modules: [(String, Module)] = [
        ("inception3a", Module(input: 192, ones: 64, threeReduce: 96, three: 128, fiveReduce: 16, five: 32, pool: 32)),
        ("inception3b", Module(input: 256, ones: 128, threeReduce: 128, three: 192, fiveReduce: 32, five: 96, pool: 64)),
        ("inception4a", Module(input: 480, ones: 192, threeReduce: 96, three: 208, fiveReduce: 16, five: 48, pool: 64)),
        ("inception4b", Module(input: 512, ones: 160, threeReduce: 112, three: 224, fiveReduce: 24, five: 64, pool: 64)),
        ("inception4c", Module(input: 512, ones: 128, threeReduce: 128, three: 256, fiveReduce: 24, five: 64, pool: 64)),
        ("inception4d", Module(input: 512, ones: 112, threeReduce: 144, three: 288, fiveReduce: 32, five: 64, pool: 64)),
        ("inception4e", Module(input: 528, ones: 256, threeReduce: 160, three: 320, fiveReduce: 32, five: 128, pool: 128)),
        ("inception5a", Module(input: 832, ones: 256, threeReduce: 160, three: 320, fiveReduce: 32, five: 128, pool: 128)),
        ("inception5b", Module(input: 832, ones: 384, threeReduce: 192, three: 384, fiveReduce: 48, five: 128, pool: 128)),
    ]

    /// GoogLeNet without auxiliary classifiers (torchvision's `aux_logits=False`): one `Sequential`,
    /// named as torchvision's state_dict.
    public static func make(bands: Int = 3, classes: Int = 17, dropout: Float = 0.2, random: inout SeededRandom) -> Sequential {
        let workspace = Workspace()
        func conv(_ input: Int, _ output: Int, _ kernel: Int, stride: Int = 1, padding: Int = 0) -> Layer {
            basicConvolution(input, output, kernel: kernel, stride: stride, padding: padding, workspace: workspace, random: &random)
        }
        var layers: [(String, Layer)] = [
            ("conv1", conv(bands, 64, 7, stride: 2, padding: 3)), ("maxpool1", MaxPool2D(kernel: 3, stride: 2, ceilMode: true)),
            ("conv2", conv(64, 64, 1)), ("conv3", conv(64, 192, 3, padding: 1)),
            ("maxpool2", MaxPool2D(kernel: 3, stride: 2, ceilMode: true)),
        ]
        for (name, m) in modules {
            layers.append((name, ConcatenatedBranches(named: [
                ("branch1", conv(m.input, m.ones, 1)),
                ("branch2", Sequential([conv(m.input, m.threeReduce, 1), conv(m.threeReduce, m.three, 3, padding: 1)])),
                ("branch3", Sequential([conv(m.input, m.fiveReduce, 1), conv(m.fiveReduce, m.five, 3, padding: 1)])),
                ("branch4", Sequential([MaxPool2D(kernel: 3, stride: 1, padding: 1, ceilMode: true), conv(m.input, m.pool, 1)])),
            ])))
            if name == "inception3b" { layers.append(("maxpool3", MaxPool2D(kernel: 3, stride: 2, ceilMode: true))) }
            if name == "inception4e" { layers.append(("maxpool4", MaxPool2D(kernel: 2, stride: 2, ceilMode: true))) }
        }
        layers += [("avgpool", AdaptiveAvgPool2D(1, 1)), ("flatten", Flatten()),
                   ("dropout", Dropout(probability: dropout, random: &random)), ("fc", Linear(1024, classes, random: &random))]
        return finishing(Sequential(named: layers))
    }

    /// torchvision's BasicConv2d: `conv` (no bias) → `bn` (ε = 0.001) → ReLU.
    static func basicConvolution(_ input: Int, _ output: Int, kernel: Int, stride: Int, padding: Int, workspace: Workspace,
                                 random: inout SeededRandom) -> Layer {
        Sequential(named: [
            ("conv", Convolution2D(input, output, kernel: kernel, stride: stride, padding: padding, bias: false,
                                   workspace: workspace, random: &random)),
            ("bn", BatchNorm(channels: output, epsilon: 1e-3)), ("relu", ReLU()),
        ])
    }
}
