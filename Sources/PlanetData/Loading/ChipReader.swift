import ImageIO

/// Decodes a chip's files into `ChipPlanes` in the model's band order: R,G,B from the JPEG, R,G,B,N
/// from the TIFF (stored B,G,R,N), or both stacked. JPEGs are decoded with DCT scaling at the smallest
/// size that still covers `minimumSide`, so a 128 px model never decodes a 256 px chip at full size.
/// Holds a JPEG decompressor: one reader per thread.
public final class ChipReader {
    public let bands: BandSource
    public var limits: DecodeLimits
    private let jpeg = JPEGDecoder()

    public init(bands: BandSource, limits: DecodeLimits = .default) {
        self.bands = bands
        self.limits = limits
    }

    /// The chip's planes, at least `minimumSide` on each side where the JPEG's DCT scaling allows
    /// (TIFFs always decode at full size). With both sources the TIFF planes are resampled to the JPEG's size.
    public func read(_ chip: DatasetChip, minimumSide: Int) throws(ImageIOError) -> ChipPlanes {
        switch bands {
        case .rgb:
            return try readJPEG(required(chip.jpegPath, chip), minimumSide: minimumSide)
        case .rgbn:
            return try readTIFF(required(chip.tiffPath, chip))
        case .rgbAndRGBN:
            let rgb = try readJPEG(required(chip.jpegPath, chip), minimumSide: minimumSide)
            var rgbn = try readTIFF(required(chip.tiffPath, chip))
            if rgbn.width != rgb.width || rgbn.height != rgb.height {
                rgbn = Resample.region(of: rgbn, x: 0, y: 0, width: Float(rgbn.width), height: Float(rgbn.height),
                                       toWidth: rgb.width, height: rgb.height)
            }
            return rgb.stacked(with: rgbn)
        }
    }

    private func required(_ path: String?, _ chip: DatasetChip) throws(ImageIOError) -> String {
        guard let path else { throw ImageIOError(file: chip.name, reason: .cannotOpen("no \(bands.rawValue) file for this chip")) }
        return path
    }

    func readJPEG(_ path: String, minimumSide: Int) throws(ImageIOError) -> ChipPlanes {
        let bytes = try FileBytes.read(path, limit: 1 << 28)
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(ImageIOError) -> Image in
                let header = try jpeg.header(buffer, file: path)
                let scale = JPEGScale.largest(keepingAtLeast: minimumSide, width: header.width, height: header.height)
                return try jpeg.decode(buffer, file: path, options: DecodeOptions(limits: limits, jpegScale: scale))
            }
        }
        return try Self.planes(of: result.get(), bands: .rgb, file: path)
    }

    func readTIFF(_ path: String) throws(ImageIOError) -> ChipPlanes {
        let bytes = try FileBytes.read(path, limit: 1 << 28)
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(ImageIOError) -> Image in
                try TIFFDecoder.decode(buffer, file: path, options: DecodeOptions(limits: limits))
            }
        }
        return try Self.planes(of: result.get(), bands: .rgbn, file: path)
    }

    /// `image`'s `bands` (a BGRN TIFF gives R,G,B,N) as planes scaled to [0, 1] by its bit depth.
    static func planes(of image: Image, bands: BandOrder, file: String) throws(ImageIOError) -> ChipPlanes {
        let selected = try image.selecting(bands, file: file)
        return ChipPlanes(bands: bands.count, height: image.height, width: image.width, values: selected.channelsFirst())
    }
}
