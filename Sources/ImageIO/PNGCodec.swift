internal import CShims

/// Decodes and encodes PNG through libpng: 8- and 16-bit, gray, gray+alpha, RGB, RGBA and palette
/// (palettes expand to RGB, or RGBA when the file has transparency).
public enum PNGCodec {
    /// Decodes `bytes`; `file` names the source in errors.
    public static func decode(_ bytes: UnsafeRawBufferPointer, file: String, options: DecodeOptions = DecodeOptions()) throws(ImageIOError) -> Image {
        var info = canopy_png_info()
        let maxDimension = UInt32(clamping: options.limits.maximumDimension)
        guard let context = canopy_png_open(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count,
                                            maxDimension, &info) else {
            throw ImageIOError(file: file, reason: .outOfMemory(format: .png, detail: "cannot allocate a PNG reader"))
        }
        defer { canopy_png_close(context) }
        try check(canopy_png_status(context), context, file: file)

        let width = Int(info.width), height = Int(info.height), channels = Int(info.channels)
        let bytesPerSample = info.bit_depth == 16 ? 2 : 1
        if let limit = options.limits.violation(width: width, height: height, bands: channels, bytesPerSample: bytesPerSample) {
            throw ImageIOError(file: file, reason: .tooLarge(format: .png, detail: limit))
        }
        let order: BandOrder = switch channels {
        case 1: .gray
        case 2: .grayAlpha
        case 3: .rgb
        default: .rgba
        }
        let (image, status) = Image.decoded(width: width, height: height, bandOrder: order, bitDepth: bytesPerSample * 8) { buffer, _ in
            canopy_png_read_image(context, buffer, width * channels * bytesPerSample)
        }
        try check(status, context, file: file)
        if let handler = options.warningHandler, canopy_png_warning_count(context) > 0 {
            handler("libpng: " + String(cString: canopy_png_first_warning(context)))
        }
        return image
    }

    /// Encodes an image of 1 to 4 bands (L, LA, RGB or RGBA as its band count says) as PNG bytes.
    public static func encode(_ image: Image, file: String = "<png>") throws(ImageIOError) -> [UInt8] {
        guard (1...4).contains(image.bands) else {
            throw ImageIOError(file: file, reason: .unsupportedLayout(format: .png, detail: "PNG holds 1 to 4 bands, not \(image.bands)"))
        }
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let status: Int32 = switch image.samples {
        case .uint8(let values):
            values.withUnsafeBytes { pixels in
                canopy_png_encode(pixels.baseAddress, Int32(image.width), Int32(image.height), Int32(image.bands), 8,
                                  image.width * image.bands, &out, &size, &message, message.count)
            }
        case .uint16(let values):
            values.withUnsafeBytes { pixels in
                canopy_png_encode(pixels.baseAddress, Int32(image.width), Int32(image.height), Int32(image.bands), 16,
                                  image.width * image.bands * 2, &out, &size, &message, message.count)
            }
        }
        defer { canopy_free(out) }
        guard status == CANOPY_OK, let out else {
            let detail = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw ImageIOError(file: file, reason: .cannotWrite("PNG encoding failed: \(detail)"))
        }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }

    private static func check(_ status: Int32, _ context: OpaquePointer, file: String) throws(ImageIOError) {
        guard status != CANOPY_OK else { return }
        let detail = String(cString: canopy_png_error_message(context))
        throw ImageIOError(file: file, reason: shimReason(status, format: .png, detail: detail))
    }
}
