// Gradient-Based Learning Applied to Document Recognition
// Yann LeCun, Léon Bottou, Yoshua Bengio, Patrick Haffner (1998)
// http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf
//
// LeNet-5's layout (C1 6@5x5, S2, C3 16@5x5, S4, C5 120, F6 84, output) adapted to overhead chips:
// 3 or 4 input bands, ReLU instead of scaled tanh, and an adaptive average pool to 5x5 before C5, so
// any input of 32 px or more reaches C5 as the paper's 5x5 maps.
import NN
import Tensor

public enum LeNet {
    public static func make(bands: Int = 3, classes: Int = 17, random: inout SeededRandom) -> Sequential {
        let workspace = Workspace()
        let features = Sequential([
            Convolution2D(bands, 6, kernel: 5, workspace: workspace, random: &random), ReLU(), AvgPool2D(kernel: 2),
            Convolution2D(6, 16, kernel: 5, workspace: workspace, random: &random), ReLU(), AvgPool2D(kernel: 2),
        ])
        let classifier = Sequential([
            Linear(16 * 5 * 5, 120, random: &random), ReLU(), Linear(120, 84, random: &random), ReLU(),
            Linear(84, classes, random: &random),
        ])
        return finishing(Sequential(named: [("features", features), ("avgpool", AdaptiveAvgPool2D(5, 5)),
                                                        ("flatten", Flatten()), ("classifier", classifier)]))
    }
}
