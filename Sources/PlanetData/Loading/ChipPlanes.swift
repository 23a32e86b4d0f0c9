/// One chip as the data layer works on it: `bands` planes of `height` x `width` Float32, channels
/// first (band, row, column). Values are the file's samples scaled to [0, 1] (8-bit / 255, 16-bit
/// / 65535) until normalisation maps them to zero mean and unit variance per band.
public struct ChipPlanes: Sendable, Equatable {
    public var bands: Int
    public var height: Int
    public var width: Int
    public var values: [Float]

    public init(bands: Int, height: Int, width: Int, values: [Float]) {
        precondition(values.count == bands * height * width, "\(values.count) values for \(bands)x\(height)x\(width)")
        self.bands = bands
        self.height = height
        self.width = width
        self.values = values
    }

    public init(bands: Int, height: Int, width: Int) {
        self.init(bands: bands, height: height, width: width, values: [Float](repeating: 0, count: bands * height * width))
    }

    public var planeSize: Int { height * width }

    /// The planes of `other` appended after these (same size): RGB from a JPEG stacked on RGBN from a TIFF.
    public func stacked(with other: ChipPlanes) -> ChipPlanes {
        precondition(height == other.height && width == other.width, "stacking \(width)x\(height) with \(other.width)x\(other.height)")
        return ChipPlanes(bands: bands + other.bands, height: height, width: width, values: values + other.values)
    }
}
