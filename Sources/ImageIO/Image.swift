/// One band of a decoded image, named by what it measures.
public enum Band: Character, Sendable, CaseIterable {
    case red = "R"
    case green = "G"
    case blue = "B"
    case nearInfrared = "N"
    case alpha = "A"
    /// Luminance of a grayscale image.
    case gray = "L"
    /// A sample the file does not name (extra TIFF samples, for instance).
    case unknown = "X"
}

/// The bands of an image in the order they are stored, written as letters: `"RGB"`, `"BGRN"`, `"L"`.
public struct BandOrder: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let bands: [Band]

    public init(_ bands: [Band]) { self.bands = bands }

    /// Parses letters such as `"RGBN"`; nil when a letter names no band.
    public init?(letters: String) {
        var bands: [Band] = []
        for letter in letters {
            guard let band = Band(rawValue: letter) else { return nil }
            bands.append(band)
        }
        self.bands = bands
    }

    public init(stringLiteral value: String) {
        guard let order = BandOrder(letters: value) else { preconditionFailure("not a band order: \(value)") }
        self = order
    }

    public var count: Int { bands.count }
    public var description: String { String(bands.map(\.rawValue)) }

    public static let gray: BandOrder = "L"
    public static let grayAlpha: BandOrder = "LA"
    public static let rgb: BandOrder = "RGB"
    public static let rgba: BandOrder = "RGBA"
    /// Planet's analytic TIFFs: blue, green, red, near-infrared.
    public static let bgrn: BandOrder = "BGRN"
    /// What a 4-band model consumes: red, green, blue, near-infrared.
    public static let rgbn: BandOrder = "RGBN"
}

/// A decoded raster: `height` rows of `width` pixels, each pixel `bands` samples of 8 or 16 bits,
/// interleaved (band fastest, then x, then y), in the band order the file stored them.
public struct Image: Sendable, Equatable {
    public enum Samples: Sendable, Equatable {
        case uint8([UInt8])
        case uint16([UInt16])

        public var count: Int {
            switch self {
            case .uint8(let values): values.count
            case .uint16(let values): values.count
            }
        }
    }

    public let width: Int
    public let height: Int
    public let bandOrder: BandOrder
    public let samples: Samples

    /// Builds an image, checking that `samples` holds exactly `width * height * bandOrder.count` values.
    public init(width: Int, height: Int, bandOrder: BandOrder, samples: Samples) {
        precondition(width > 0 && height > 0 && bandOrder.count > 0, "an image has at least one pixel and band")
        precondition(samples.count == width * height * bandOrder.count,
                     "\(samples.count) samples for \(width)x\(height)x\(bandOrder.count)")
        self.width = width
        self.height = height
        self.bandOrder = bandOrder
        self.samples = samples
    }

    public var bands: Int { bandOrder.count }
    public var bitDepth: Int {
        if case .uint8 = samples { return 8 }
        return 16
    }

    /// The sample of `band` (an index into `bandOrder`) at column `x`, row `y`.
    public func sample(x: Int, y: Int, band: Int) -> Int {
        precondition(x >= 0 && x < width && y >= 0 && y < height && band >= 0 && band < bands)
        let index = (y * width + x) * bands + band
        switch samples {
        case .uint8(let values): return Int(values[index])
        case .uint16(let values): return Int(values[index])
        }
    }

    /// A copy holding only `order`'s bands, in that order (`.rgb` out of a BGRN TIFF, say).
    /// Throws when a band is missing; the file name in the error is `file`.
    public func selecting(_ order: BandOrder, file: String = "<image>") throws(ImageIOError) -> Image {
        if order == bandOrder { return self }
        var sources: [Int] = []
        for band in order.bands {
            guard let source = bandOrder.bands.firstIndex(of: band) else {
                throw ImageIOError(file: file, reason: .missingBand(requested: order.description,
                                                                    available: bandOrder.description))
            }
            sources.append(source)
        }
        switch samples {
        case .uint8(let values):
            return Image(width: width, height: height, bandOrder: order,
                         samples: .uint8(Self.gather(values, from: bands, sources: sources)))
        case .uint16(let values):
            return Image(width: width, height: height, bandOrder: order,
                         samples: .uint16(Self.gather(values, from: bands, sources: sources)))
        }
    }

    private static func gather<T: FixedWidthInteger>(_ values: [T], from stride: Int, sources: [Int]) -> [T] {
        let pixels = values.count / stride
        let outBands = sources.count
        return [T](unsafeUninitializedCapacity: pixels * outBands) { out, initialized in
            values.withUnsafeBufferPointer { input in
                for pixel in 0..<pixels {
                    let base = pixel * stride
                    for (k, source) in sources.enumerated() { out[pixel * outBands + k] = input[base + source] }
                }
            }
            initialized = pixels * outBands
        }
    }
}

extension Image {
    /// An image whose samples a C decoder writes: a zeroed buffer of `width·height·bands` samples of
    /// `bitDepth` bits is handed to `fill` as raw bytes; `fill` returns the decoder's status, which
    /// comes back beside the image (the caller throws on failure and drops the image).
    static func decoded(width: Int, height: Int, bandOrder: BandOrder, bitDepth: Int,
                        fill: (UnsafeMutablePointer<UInt8>, Int) -> Int32) -> (image: Image, status: Int32) {
        let count = width * height * bandOrder.count
        var status: Int32 = 0
        // Zeroed first: interlaced PNG passes read rows back, and nothing uninitialised may ever show.
        if bitDepth == 8 {
            let values = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                buffer.initialize(repeating: 0)
                status = fill(buffer.baseAddress!, count)
                initialized = count
            }
            return (Image(width: width, height: height, bandOrder: bandOrder, samples: .uint8(values)), status)
        }
        let values = [UInt16](unsafeUninitializedCapacity: count) { buffer, initialized in
            buffer.initialize(repeating: 0)
            status = UnsafeMutableRawBufferPointer(buffer).withMemoryRebound(to: UInt8.self) { fill($0.baseAddress!, count * 2) }
            initialized = count
        }
        return (Image(width: width, height: height, bandOrder: bandOrder, samples: .uint16(values)), status)
    }
}
