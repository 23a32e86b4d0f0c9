internal import CShims

/// How TIFFEncoder compresses its strips.
public enum TIFFCompression: Sendable {
    /// Raw samples.
    case none
    /// Adobe Deflate (compression 8) with the horizontal-differencing predictor: lossless, read by
    /// every libtiff, GDAL and tifffile.
    case deflate
}

/// Encodes TIFF through libtiff into memory (TIFFClientOpen over a growable buffer, no temporary
/// files), one handle per call with its own error handlers: safe from any number of threads.
public enum TIFFEncoder {
    /// Encodes an 8- or 16-bit image with any band count >= 1 as a single-image, contiguous (chunky), strip-organised TIFF, uncompressed or Deflate.
    /// 1 band: MinIsBlack; 3 bands: RGB; 4 bands: PhotometricInterpretation=RGB with one ExtraSample (unspecified) — exactly Planet's analytic layout, so a BGRN image written this way reads back through TIFFDecoder (planetAnalytic convention) as BGRN; other counts: MinIsBlack with extra samples.
    ///
    /// Samples are written in the image's band order, except that bands which are R, G, B in another
    /// order are written as RGB, and four bands which are B, G, R, N in another order (`RGBN`) as BGRN,
    /// so that what the file declares (and what the decoder labels) matches the samples. The file is
    /// little-endian, with strips of up to 1 MiB (one strip for a 256x256 Planet chip).
    public static func encode(_ image: Image, compression: TIFFCompression = .none, file: String = "<tiff>") throws(ImageIOError) -> [UInt8] {
        func unsupported(_ detail: String) -> ImageIOError {
            ImageIOError(file: file, reason: .unsupportedLayout(format: .tiff, detail: detail))
        }
        guard image.bands <= 65535 else { throw unsupported("TIFF holds at most 65535 samples a pixel, not \(image.bands)") }
        guard image.width <= Int(UInt32.max), image.height <= Int(UInt32.max) else {
            throw unsupported("TIFF holds at most \(UInt32.max) pixels a side, not \(image.width)x\(image.height)")
        }
        let source = try declaredOrder(image, file: file)
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 512)
        let code = compression == .none ? CANOPY_TIFF_COMPRESS_NONE : CANOPY_TIFF_COMPRESS_DEFLATE
        let width = UInt32(source.width), height = UInt32(source.height), bands = Int32(source.bands)
        let status: Int32 = switch source.samples {
        case .uint8(let values):
            values.withUnsafeBytes { pixels in
                canopy_tiff_encode(pixels.baseAddress, width, height, bands, 8, source.width * source.bands,
                                   Int32(code), &out, &size, &message, message.count)
            }
        case .uint16(let values):
            values.withUnsafeBytes { pixels in
                canopy_tiff_encode(pixels.baseAddress, width, height, bands, 16, source.width * source.bands * 2,
                                   Int32(code), &out, &size, &message, message.count)
            }
        }
        defer { canopy_free(out) }
        guard status == CANOPY_OK, let out else {
            let detail = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if status == CANOPY_ERR_UNSUPPORTED { throw unsupported(detail) }
            throw ImageIOError(file: file, reason: .cannotWrite("TIFF encoding failed: \(detail)"))
        }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }

    /// `image` reordered to RGB or BGRN when its bands are those in another order; otherwise unchanged.
    private static func declaredOrder(_ image: Image, file: String) throws(ImageIOError) -> Image {
        let bands = Set(image.bandOrder.bands)
        guard bands.count == image.bands else { return image }  // repeated letters (XX...): as stored
        if image.bands == 3, bands == [.red, .green, .blue], image.bandOrder != .rgb {
            return try image.selecting(.rgb, file: file)
        }
        if image.bands == 4, bands == [.blue, .green, .red, .nearInfrared], image.bandOrder != .bgrn {
            return try image.selecting(.bgrn, file: file)
        }
        return image
    }
}
