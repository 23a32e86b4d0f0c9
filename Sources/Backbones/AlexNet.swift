// ImageNet Classification with Deep Convolutional Neural Networks
// Alex Krizhevsky, Ilya Sutskever, Geoffrey E. Hinton (2012)
// https://papers.nips.cc/paper/4824-imagenet-classification-with-deep-convolutional-neural-networks
//
// torchvision's variant (64-192-384-256-256 channels, adaptive average pool to 6x6 so any input size
// works), with the original's local response normalisation after the first two blocks as an option.
import NN
import Tensor

public enum AlexNet {
    public static func make(bands: Int = 3, classes: Int = 17, localResponseNorm: Bool = false, dropout: Float = 0.5,
                            random: inout SeededRandom) -> Sequential {
        let workspace = Workspace()
        func conv(_ input: Int, _ output: Int, _ kernel: Int, stride: Int = 1, padding: Int) -> Layer {
            Convolution2D(input, output, kernel: kernel, stride: stride, padding: padding, workspace: workspace, random: &random)
        }
        // The paper's LRN (size 5, α 1e-4, β 0.75, k 2) follows the ReLUs of the first two blocks; it has
        // no parameters, so torchvision's weight indices shift by one after each (documented in README).
        var features: [Layer] = [conv(bands, 64, 11, stride: 4, padding: 2), ReLU()]
        if localResponseNorm { features.append(LocalResponseNorm()) }
        features += [MaxPool2D(kernel: 3, stride: 2), conv(64, 192, 5, padding: 2), ReLU()]
        if localResponseNorm { features.append(LocalResponseNorm()) }
        features += [MaxPool2D(kernel: 3, stride: 2), conv(192, 384, 3, padding: 1), ReLU(), conv(384, 256, 3, padding: 1), ReLU(),
                     conv(256, 256, 3, padding: 1), ReLU(), MaxPool2D(kernel: 3, stride: 2)]
        let classifier = Sequential([
            Dropout(probability: dropout, random: &random), Linear(256 * 6 * 6, 4096, random: &random), ReLU(),
            Dropout(probability: dropout, random: &random), Linear(4096, 4096, random: &random), ReLU(),
            Linear(4096, classes, random: &random),
        ])
        return finishing(Sequential(named: [("features", Sequential(features)), ("avgpool", AdaptiveAvgPool2D(6, 6)),
                                                        ("flatten", Flatten()), ("classifier", classifier)]))
    }
}
