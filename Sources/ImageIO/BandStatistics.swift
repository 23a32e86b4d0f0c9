/// Minimum, mean and maximum of one band's samples.
public struct BandStatistics: Sendable, Equatable {
    public var minimum: Int
    public var mean: Double
    public var maximum: Int

    public init(minimum: Int, mean: Double, maximum: Int) {
        self.minimum = minimum
        self.mean = mean
        self.maximum = maximum
    }
}

extension Image {
    /// Per-band minimum, mean and maximum, in `bandOrder`.
    public func bandStatistics() -> [BandStatistics] {
        switch samples {
        case .uint8(let values): Self.statistics(values, bands: bands)
        case .uint16(let values): Self.statistics(values, bands: bands)
        }
    }

    private static func statistics<T: FixedWidthInteger & UnsignedInteger>(_ values: [T], bands: Int) -> [BandStatistics] {
        var minimum = [Int](repeating: Int.max, count: bands)
        var maximum = [Int](repeating: Int.min, count: bands)
        var sum = [UInt64](repeating: 0, count: bands)
        values.withUnsafeBufferPointer { samples in
            var index = 0
            while index < samples.count {
                for band in 0..<bands {
                    let value = Int(samples[index + band])
                    sum[band] &+= UInt64(value)
                    if value < minimum[band] { minimum[band] = value }
                    if value > maximum[band] { maximum[band] = value }
                }
                index += bands
            }
        }
        let pixels = Double(values.count / bands)
        return (0..<bands).map { BandStatistics(minimum: minimum[$0], mean: Double(sum[$0]) / pixels, maximum: maximum[$0]) }
    }
}
