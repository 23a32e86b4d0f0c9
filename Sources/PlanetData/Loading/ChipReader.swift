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
        try decode(chip, minimumSide: minimumSide).planes()
    }

    /// The chip's files decoded, not yet planes: what `DecodedChipCache` keeps (a quarter of the
    /// planes' bytes for 8-bit JPEGs).
    public func decode(_ chip: DatasetChip, minimumSide: Int) throws(ImageIOError) -> DecodedChip {
        switch bands {
        case .rgb:
            let path = try required(chip.jpegPath, chip)
            return DecodedChip(jpeg: (try decodeJPEG(path, minimumSide: minimumSide), path))
        case .rgbn:
            let path = try required(chip.tiffPath, chip)
            return DecodedChip(tiff: (try decodeTIFF(path), path))
        case .rgbAndRGBN:
            let jpeg = try required(chip.jpegPath, chip), tiff = try required(chip.tiffPath, chip)
            return DecodedChip(jpeg: (try decodeJPEG(jpeg, minimumSide: minimumSide), jpeg), tiff: (try decodeTIFF(tiff), tiff))
        }
    }

    private func required(_ path: String?, _ chip: DatasetChip) throws(ImageIOError) -> String {
        guard let path else { throw ImageIOError(file: chip.name, reason: .cannotOpen("no \(bands.rawValue) file for this chip")) }
        return path
    }

    func decodeJPEG(_ path: String, minimumSide: Int) throws(ImageIOError) -> Image {
        let bytes = try FileBytes.read(path, limit: 1 << 28)
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(ImageIOError) -> Image in
                let header = try jpeg.header(buffer, file: path)
                let scale = JPEGScale.largest(keepingAtLeast: minimumSide, width: header.width, height: header.height)
                return try jpeg.decode(buffer, file: path, options: DecodeOptions(limits: limits, jpegScale: scale))
            }
        }
        return try result.get()
    }

    func decodeTIFF(_ path: String) throws(ImageIOError) -> Image {
        let bytes = try FileBytes.read(path, limit: 1 << 28)
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(ImageIOError) -> Image in
                try TIFFDecoder.decode(buffer, file: path, options: DecodeOptions(limits: limits))
            }
        }
        return try result.get()
    }

    /// `image`'s `bands` (a BGRN TIFF gives R,G,B,N) as planes scaled to [0, 1] by its bit depth.
    static func planes(of image: Image, bands: BandOrder, file: String) throws(ImageIOError) -> ChipPlanes {
        let selected = try image.selecting(bands, file: file)
        return ChipPlanes(bands: bands.count, height: image.height, width: image.width, values: selected.channelsFirst())
    }
}

/// A chip's decoded files (each with its path, for errors): the JPEG's RGB, the TIFF's RGBN, or both.
public struct DecodedChip: Sendable {
    public var jpeg: (image: Image, path: String)?
    public var tiff: (image: Image, path: String)?

    public init(jpeg: (image: Image, path: String)? = nil, tiff: (image: Image, path: String)? = nil) {
        precondition(jpeg != nil || tiff != nil, "a decoded chip has a file")
        self.jpeg = jpeg
        self.tiff = tiff
    }

    /// Bytes of the samples held.
    public var byteCount: Int {
        [jpeg?.image, tiff?.image].reduce(0) { sum, image in
            guard let image else { return sum }
            return switch image.samples {
            case .uint8(let values): sum + values.count
            case .uint16(let values): sum + 2 * values.count
            }
        }
    }

    /// The planes in the model's band order (`ChipReader.read`): RGB, RGBN, or RGB stacked on RGBN
    /// resampled to the JPEG's size.
    public func planes() throws(ImageIOError) -> ChipPlanes {
        switch (jpeg, tiff) {
        case (let jpeg?, nil):
            return try ChipReader.planes(of: jpeg.image, bands: .rgb, file: jpeg.path)
        case (nil, let tiff?):
            return try ChipReader.planes(of: tiff.image, bands: .rgbn, file: tiff.path)
        case (let jpeg?, let tiff?):
            let rgb = try ChipReader.planes(of: jpeg.image, bands: .rgb, file: jpeg.path)
            var rgbn = try ChipReader.planes(of: tiff.image, bands: .rgbn, file: tiff.path)
            if rgbn.width != rgb.width || rgbn.height != rgb.height {
                rgbn = Resample.region(of: rgbn, x: 0, y: 0, width: Float(rgbn.width), height: Float(rgbn.height),
                                       toWidth: rgb.width, height: rgb.height)
            }
            return rgb.stacked(with: rgbn)
        case (nil, nil):
            preconditionFailure("a decoded chip has a file")
        }
    }
}
