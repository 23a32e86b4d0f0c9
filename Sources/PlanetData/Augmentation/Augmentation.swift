import Foundation
import Tensor

/// Training-time augmentation, composed from a pipeline file's `augmentation:` section. Stages run in
/// this order on each chip: random resized crop or plain resize to the input size, small translation
/// (both in one resampling), a random symmetry of the square, then brightness, contrast and gamma
/// jitter per band. Normalisation follows, outside this type. Every draw comes from the chip's own
/// seeded generator, so a chip is augmented the same way whatever thread handles it.
public struct Augmentation: Codable, Sendable, Equatable {
    /// Which symmetries of the square a chip may be given at random.
    public enum Symmetries: String, Codable, Sendable, CaseIterable {
        case none
        /// Identity, horizontal, vertical, both.
        case flips
        /// All 8: flips, 90° rotations, transposes.
        case d4

        public var members: [Symmetry] {
            switch self {
            case .none: [.identity]
            case .flips: Symmetry.flips
            case .d4: Symmetry.allCases
            }
        }
    }

    /// A random rectangle covering `scale` of the chip's area with width:height in `ratio`
    /// (log-uniform), resized to the input size: torchvision's RandomResizedCrop.
    public struct RandomResizedCrop: Codable, Sendable, Equatable {
        public var scale: ClosedRange<Float>
        public var ratio: ClosedRange<Float>

        public init(scale: ClosedRange<Float> = 0.5...1, ratio: ClosedRange<Float> = 0.75...(4.0 / 3)) {
            self.scale = scale
            self.ratio = ratio
        }
    }

    public var symmetries: Symmetries
    public var crop: RandomResizedCrop?
    /// Largest shift, in output pixels, along each axis (edges repeat).
    public var translate: Int
    /// Multiplicative brightness per band, drawn from 1 ± brightness.
    public var brightness: Float
    /// Contrast about the band's mean, drawn from 1 ± contrast.
    public var contrast: Float
    /// Gamma per band, drawn from 1 ± gamma, on values relative to the band's maximum.
    public var gamma: Float

    public init(symmetries: Symmetries = .none, crop: RandomResizedCrop? = nil, translate: Int = 0,
                brightness: Float = 0, contrast: Float = 0, gamma: Float = 0) {
        self.symmetries = symmetries
        self.crop = crop
        self.translate = translate
        self.brightness = brightness
        self.contrast = contrast
        self.gamma = gamma
    }

    /// Nothing random: resize to the input size only (validation, prediction).
    public static let none = Augmentation()

    /// What the competition's winners used on these chips: the 8 symmetries, a mild crop, small shifts
    /// and gentle per-band jitter.
    public static let planetDefault = Augmentation(symmetries: .d4, crop: RandomResizedCrop(scale: 0.75...1, ratio: 0.9...1.1),
                                                   translate: 4, brightness: 0.1, contrast: 0.1, gamma: 0.1)

    /// The chip resampled to `size` x `size` with this augmentation, drawing from `random`.
    public func apply(_ planes: ChipPlanes, size: Int, random: inout SeededRandom) -> ChipPlanes {
        // Geometry: one source rectangle, one resampling.
        var x: Float = 0, y: Float = 0, width = Float(planes.width), height = Float(planes.height)
        if let crop {
            (x, y, width, height) = Self.cropRectangle(crop, width: planes.width, height: planes.height, random: &random)
        }
        if translate > 0 {
            let perPixel = width / Float(size)
            x += Float(Self.uniformInt(-translate...translate, &random)) * perPixel
            y += Float(Self.uniformInt(-translate...translate, &random)) * perPixel
        }
        var out = Resample.region(of: planes, x: x, y: y, width: width, height: height, toWidth: size, height: size)
        let members = symmetries.members
        if members.count > 1 { out = members[Int(random.next() % UInt64(members.count))].apply(out) }
        if brightness > 0 || contrast > 0 || gamma > 0 { jitter(&out, random: &random) }
        return out
    }

    private func jitter(_ planes: inout ChipPlanes, random: inout SeededRandom) {
        let plane = planes.planeSize
        for band in 0..<planes.bands {
            let factor = 1 + brightness * (2 * random.nextUniform() - 1)
            let contrastFactor = 1 + contrast * (2 * random.nextUniform() - 1)
            let exponent = 1 + gamma * (2 * random.nextUniform() - 1)
            planes.values.withUnsafeMutableBufferPointer { values in
                let v = UnsafeMutableBufferPointer(rebasing: values[(band * plane)..<((band + 1) * plane)])
                var sum: Float = 0, maximum: Float = 0
                for i in 0..<plane { sum += v[i]; maximum = max(maximum, v[i]) }
                let mean = sum / Float(plane)
                for i in 0..<plane { v[i] = max(0, (mean + (v[i] - mean) * contrastFactor) * factor) }
                if exponent != 1 && maximum > 0 {
                    // reference · (v / reference)^γ through a 1,024-segment table of u^γ on [0, 1]
                    // (every v is at most the reference): powf per pixel cost more than decoding.
                    let reference = maximum * factor
                    let table = Self.powerTable(exponent)
                    let scale = Float(Self.powerTableSegments) / reference
                    table.withUnsafeBufferPointer { t in
                        for i in 0..<plane {
                            let x = min(max(v[i] * scale, 0), Float(Self.powerTableSegments))
                            let j = min(Int(x), Self.powerTableSegments - 1)
                            let fraction = x - Float(j)
                            v[i] = reference * (t[j] + (t[j + 1] - t[j]) * fraction)
                        }
                    }
                }
            }
        }
    }

    static let powerTableSegments = 1024

    /// u^γ at u = 0, 1/1024, ..., 1.
    static func powerTable(_ exponent: Float) -> [Float] {
        (0...powerTableSegments).map { powf(Float($0) / Float(powerTableSegments), exponent) }
    }

    /// torchvision's RandomResizedCrop rectangle: 10 tries at a random area and aspect ratio, then the
    /// largest centred rectangle within the ratio range.
    static func cropRectangle(_ crop: RandomResizedCrop, width: Int, height: Int,
                              random: inout SeededRandom) -> (Float, Float, Float, Float) {
        let area = Float(width * height)
        let logRatio = log(crop.ratio.lowerBound)...log(crop.ratio.upperBound)
        for _ in 0..<10 {
            let target = area * (crop.scale.lowerBound + (crop.scale.upperBound - crop.scale.lowerBound) * random.nextUniform())
            let ratio = exp(logRatio.lowerBound + (logRatio.upperBound - logRatio.lowerBound) * random.nextUniform())
            let w = (target * ratio).squareRoot(), h = (target / ratio).squareRoot()
            if w <= Float(width) && h <= Float(height) && w >= 1 && h >= 1 {
                return ((Float(width) - w) * random.nextUniform(), (Float(height) - h) * random.nextUniform(), w, h)
            }
        }
        let aspect = Float(width) / Float(height)
        var w = Float(width), h = Float(height)
        if aspect < crop.ratio.lowerBound { h = w / crop.ratio.lowerBound } else if aspect > crop.ratio.upperBound { w = h * crop.ratio.upperBound }
        return ((Float(width) - w) / 2, (Float(height) - h) / 2, w, h)
    }

    static func uniformInt(_ range: ClosedRange<Int>, _ random: inout SeededRandom) -> Int {
        range.lowerBound + Int(random.next() % UInt64(range.upperBound - range.lowerBound + 1))
    }
}

