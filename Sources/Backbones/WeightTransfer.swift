import NN
import Tensor

/// Starting a backbone from weights trained elsewhere (torchvision's ImageNet weights, or an earlier
/// Canopy run), as a pipeline's `init: path.safetensors` (or a PyTorch `.pth`) asks.
///
/// Every tensor whose name and shape match is loaded. A first convolution trained on 3 bands (R, G, B)
/// is adapted to a 4-band model (R, G, B, NIR): the three filters are copied and the NIR filter is
/// initialised from the red filter (the band next to NIR in wavelength, so edges of fields, roads and
/// water tend to show in both) or from the mean of the three (no band preferred). Fine-tuning then
/// learns the NIR filter proper. A 7-band model (`rgb+rgbn`: JPEG R, G, B, then TIFF R, G, B, N) gets
/// each colour filter halved over its JPEG and TIFF copies (the two carry the same scene, so the
/// response to a chip is the pretrained one) and the NIR filter as above. Whatever does not fit — the
/// 17-label head replacing ImageNet's 1000 classes, say — keeps its fresh initialisation; the report
/// says so, tensor by tensor (and a pipeline refuses anything but the head unless `init_strict: false`).
public enum WeightTransfer {
    public enum NearInfraredFilter: String, Sendable { case red, mean }

    public struct Report: Sendable, CustomStringConvertible {
        public var loaded: [String] = []
        public var adapted: [(name: String, how: String)] = []
        /// In the model, with no usable tensor in the file: left as initialised.
        public var fresh: [(name: String, why: String)] = []
        /// In the file, not in the model.
        public var ignored: [String] = []

        public var description: String {
            var lines = ["loaded \(loaded.count) tensors"]
            for item in adapted { lines.append("adapted \(item.name): \(item.how)") }
            for item in fresh { lines.append("fresh \(item.name): \(item.why)") }
            if !ignored.isEmpty { lines.append("ignored (not in the model): \(ignored.joined(separator: ", "))") }
            return lines.joined(separator: "\n")
        }
    }

    /// `path` is safetensors or a `torch.save` checkpoint (`.pth`, `.pt`), told apart by its first bytes.
    public static func load(_ path: String, into model: Layer, nearInfrared: NearInfraredFilter = .red) throws(CheckpointError) -> Report {
        let file = try SafeTensorsFile.readWeights(path)
        var report = Report()
        var used = Set<String>()
        for (name, entry) in model.state(prefix: "") {
            let target = entry.value
            guard let stored = file.tensors[name]?.tensor else {
                report.fresh.append((name, "not in \(path)"))
                continue
            }
            used.insert(name)
            let value: Tensor
            if stored.shape == target.shape || (stored.count == 1 && target.count == 1) {
                value = Tensor(shape: target.shape, scalars: stored.scalars)
                report.loaded.append(name)
            } else if let adapted = addNearInfrared(to: stored, shape: target.shape, from: nearInfrared) {
                value = adapted
                let nir = "NIR filter from the \(nearInfrared == .red ? "red filter" : "mean of R, G, B")"
                report.adapted.append((name, target.shape[1] == 7 ? "3 bands → 7, R, G, B halved over the JPEG and TIFF copies, \(nir)"
                                                                  : "3 bands → 4, \(nir)"))
            } else {
                report.fresh.append((name, "shape \(stored.shape) in the file, \(target.shape) in the model"))
                continue
            }
            switch entry {
            case .parameter(let parameter): parameter.value = value
            case .buffer(let buffer): buffer.value = value
            }
        }
        report.ignored = file.tensors.keys.filter { !used.contains($0) }.sorted()
        return report
    }

    /// [Co, 3, kh, kw] → [Co, 4, kh, kw] with the fourth input channel derived from the first three,
    /// or → [Co, 7, kh, kw] (R, G, B, R, G, B, N) with the colour filters halved over both copies;
    /// nil for any other pair of shapes.
    public static func addNearInfrared(to weight: Tensor, shape: [Int], from source: NearInfraredFilter) -> Tensor? {
        guard weight.rank == 4, shape.count == 4, weight.shape[1] == 3, shape[1] == 4 || shape[1] == 7, weight.shape[0] == shape[0],
              weight.shape[2...] == shape[2...] else { return nil }
        let outputs = shape[0], plane = shape[2] * shape[3]
        if shape[1] == 7 {
            let four = addNearInfrared(to: weight, shape: [outputs, 4, shape[2], shape[3]], from: source)!
            var adapted = Tensor(shape: shape)
            for o in 0..<outputs {
                for k in 0..<plane {
                    for c in 0..<3 {
                        let half = four.scalars[(o * 4 + c) * plane + k] / 2
                        adapted.scalars[(o * 7 + c) * plane + k] = half
                        adapted.scalars[(o * 7 + 3 + c) * plane + k] = half
                    }
                    adapted.scalars[(o * 7 + 6) * plane + k] = four.scalars[(o * 4 + 3) * plane + k]
                }
            }
            return adapted
        }
        var adapted = Tensor(shape: shape)
        for o in 0..<outputs {
            for c in 0..<3 {
                for k in 0..<plane { adapted.scalars[(o * 4 + c) * plane + k] = weight.scalars[(o * 3 + c) * plane + k] }
            }
            for k in 0..<plane {
                let red = weight.scalars[(o * 3) * plane + k]
                let mean = (red + weight.scalars[(o * 3 + 1) * plane + k] + weight.scalars[(o * 3 + 2) * plane + k]) / 3
                adapted.scalars[(o * 4 + 3) * plane + k] = source == .red ? red : mean
            }
        }
        return adapted
    }
}
