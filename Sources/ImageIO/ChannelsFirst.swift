/// How samples become network inputs: `(sample * scale - mean) / std`, per band.
public struct BandNormalization: Sendable, Equatable {
    public var scale: [Float]
    public var mean: [Float]
    public var std: [Float]

    /// Checks that the three arrays have one entry per band and no zero standard deviation.
    public init(scale: [Float], mean: [Float], std: [Float]) {
        precondition(scale.count == mean.count && mean.count == std.count, "one scale, mean and std per band")
        precondition(std.allSatisfy { $0 != 0 }, "a standard deviation of zero")
        self.scale = scale
        self.mean = mean
        self.std = std
    }

    /// Samples mapped to [0, 1] by the image's bit depth, nothing more.
    public static func unit(bands: Int, bitDepth: Int) -> BandNormalization {
        let scale = 1 / Float((1 << bitDepth) - 1)
        return BandNormalization(scale: Array(repeating: scale, count: bands),
                                 mean: Array(repeating: 0, count: bands),
                                 std: Array(repeating: 1, count: bands))
    }
}

extension Image {
    /// The image as Float32 in channels-first order (band, row, column), each band normalised.
    /// `normalization` defaults to mapping samples to [0, 1].
    public func channelsFirst(normalization: BandNormalization? = nil) -> [Float] {
        let norm = normalization ?? .unit(bands: bands, bitDepth: bitDepth)
        precondition(norm.scale.count == bands, "normalization has \(norm.scale.count) bands, image \(bands)")
        var out = [Float](repeating: 0, count: width * height * bands)
        switch samples {
        case .uint8(let values): Self.planarize(values, bands: bands, norm: norm, into: &out)
        case .uint16(let values): Self.planarize(values, bands: bands, norm: norm, into: &out)
        }
        return out
    }

    private static func planarize<T: FixedWidthInteger & UnsignedInteger>(
        _ values: [T], bands: Int, norm: BandNormalization, into out: inout [Float]
    ) {
        let pixels = values.count / bands
        values.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                for band in 0..<bands {
                    // (v * scale - mean) / std == v * a + b
                    let a = norm.scale[band] / norm.std[band]
                    let b = -norm.mean[band] / norm.std[band]
                    let plane = band * pixels
                    for pixel in 0..<pixels {
                        output[plane + pixel] = Float(input[pixel * bands + band]) * a + b
                    }
                }
            }
        }
    }
}
