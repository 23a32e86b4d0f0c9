internal import CShims

/// How a JPEG's components are laid out in the stream.
public enum JPEGLayout: Sendable {
    /// The usual: YCbCr (or one gray component), with a JFIF header.
    case ycbcr
    /// Planet's quirk: four components R, G, B and a constant 255, stored without colour transform, with no Adobe and no JFIF marker (libjpeg sees CMYK). Canopy's decoder reads these back as RGB.
    case planetFourComponent
}

/// Encodes JPEG through libjpeg-turbo, one compressor per call: safe from any number of threads.
///
/// `.ycbcr` is libjpeg's default: 8-bit gray as one component, RGB as YCbCr with 2x2 chroma
/// subsampling, baseline Huffman tables, a JFIF header. `.planetFourComponent` writes what Planet's
/// competition chips hold (see docs/IMAGEIO.md): components numbered 0 to 3, all 1x1 on quantisation
/// table 0 and optimised Huffman tables 0, no JFIF or Adobe marker; Planet's own files are quality 75.
public enum JPEGEncoder {
    /// Encodes an 8-bit image with 1 (gray) or 3 (RGB) bands. Throws ImageIOError (.unsupportedLayout for other band counts or 16-bit, .cannotWrite when libjpeg fails).
    ///
    /// Three bands are written as R, G, B: an image whose bands are R, G and B in another order
    /// (`BGR`) is reordered first; any other three bands are written in their stored order.
    /// `.planetFourComponent` takes three bands only. `quality` is libjpeg's 1...100 (outside it: `.cannotWrite`).
    public static func encode(_ image: Image, quality: Int = 95, layout: JPEGLayout = .ycbcr, file: String = "<jpeg>") throws(ImageIOError) -> [UInt8] {
        func unsupported(_ detail: String) -> ImageIOError {
            ImageIOError(file: file, reason: .unsupportedLayout(format: .jpeg, detail: detail))
        }
        guard image.bitDepth == 8 else { throw unsupported("JPEG holds 8-bit samples, not \(image.bitDepth)-bit") }
        switch layout {
        case .ycbcr:
            guard image.bands == 1 || image.bands == 3 else {
                throw unsupported("JPEG holds 1 (gray) or 3 (RGB) bands, not \(image.bands) (\(image.bandOrder))")
            }
        case .planetFourComponent:
            guard image.bands == 3 else {
                throw unsupported("Planet's 4-component layout is written from 3 bands (RGB), not \(image.bands) (\(image.bandOrder))")
            }
        }
        guard image.width <= 65500, image.height <= 65500 else {
            throw unsupported("JPEG holds at most 65500 pixels a side, not \(image.width)x\(image.height)")
        }
        guard (1...100).contains(quality) else {
            throw ImageIOError(file: file, reason: .cannotWrite("JPEG quality \(quality) is outside 1...100"))
        }
        let source = image.bands == 3 ? try rgbOrdered(image, file: file) : image
        guard case .uint8(let values) = source.samples else { throw unsupported("JPEG holds 8-bit samples") }

        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let layoutCode = layout == .ycbcr ? CANOPY_JPEG_LAYOUT_YCBCR : CANOPY_JPEG_LAYOUT_PLANET4
        let status = values.withUnsafeBufferPointer { pixels in
            canopy_jpeg_encode(pixels.baseAddress, Int32(source.width), Int32(source.height), Int32(source.bands),
                               source.width * source.bands, Int32(quality), Int32(layoutCode), &out, &size,
                               &message, message.count)
        }
        defer { canopy_free(out) }
        guard status == CANOPY_OK, let out else {
            let detail = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if status == CANOPY_ERR_UNSUPPORTED {
                throw unsupported(detail)
            }
            throw ImageIOError(file: file, reason: .cannotWrite("JPEG encoding failed: \(detail)"))
        }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }

    /// `image` with its bands as R, G, B when they are those three in another order; otherwise unchanged.
    private static func rgbOrdered(_ image: Image, file: String) throws(ImageIOError) -> Image {
        let bands = image.bandOrder.bands
        guard image.bandOrder != .rgb, Set(bands) == [.red, .green, .blue] else { return image }
        return try image.selecting(.rgb, file: file)
    }
}
