internal import CShims

/// Decodes TIFF through libtiff: 8- or 16-bit unsigned samples, any number of them, strips or
/// tiles, contiguous or separate planes, any compression this libtiff was built with.
///
/// Bands are labelled from the PhotometricInterpretation: gray files give `L` (`LA` with alpha), RGB
/// files `RGB` (`RGBA` with alpha), and unnamed extra samples `X`. Planet's analytic TIFFs say RGB
/// but store blue, green, red, near-infrared in 16 bits: under `.planetAnalytic` (the default) a
/// 16-bit RGB file of exactly 4 samples is labelled `BGRN`.
public enum TIFFDecoder {
    public static func decode(_ bytes: UnsafeRawBufferPointer, file: String, options: DecodeOptions = DecodeOptions()) throws(ImageIOError) -> Image {
        // libtiff's own cap on one allocation: the decode budget, but never so small that reading the
        // directory itself fails (the declared size is then refused below, by name, as tooLarge).
        let libraryCap = max(options.limits.maximumBytes, 16 << 20)
        guard let context = canopy_tiff_open(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count,
                                             libraryCap) else {
            throw ImageIOError(file: file, reason: .outOfMemory(format: .tiff, detail: "cannot allocate a TIFF reader"))
        }
        defer { canopy_tiff_close(context) }
        try check(canopy_tiff_status(context), context, file: file)
        var info = canopy_tiff_info()
        try check(canopy_tiff_describe(context, &info), context, file: file)

        let width = Int(info.width), height = Int(info.height), samples = Int(info.samples_per_pixel)
        func unsupported(_ detail: String) -> ImageIOError {
            ImageIOError(file: file, reason: .unsupportedLayout(format: .tiff, detail: detail))
        }
        guard width > 0, height > 0, samples > 0 else {
            throw ImageIOError(file: file, reason: .corrupt(format: .tiff, detail: "declares \(width)x\(height) with \(samples) samples"))
        }
        guard info.bits_per_sample == 8 || info.bits_per_sample == 16 else { throw unsupported("\(info.bits_per_sample)-bit samples") }
        guard info.sample_format == 1 else { throw unsupported("sample format \(info.sample_format) (only unsigned integers are read)") }
        guard info.codec_configured != 0 else { throw unsupported("compression \(info.compression) is not built into libtiff here") }
        let bytesPerSample = Int(info.bits_per_sample) / 8
        if let limit = options.limits.violation(width: width, height: height, bands: samples, bytesPerSample: bytesPerSample) {
            throw ImageIOError(file: file, reason: .tooLarge(format: .tiff, detail: limit))
        }
        guard let order = bandOrder(info, convention: options.tiffBandConvention) else {
            throw unsupported("photometric interpretation \(info.photometric) with \(samples) samples")
        }

        let (image, status) = Image.decoded(width: width, height: height, bandOrder: order, bitDepth: bytesPerSample * 8) { buffer, bytes in
            canopy_tiff_read(context, buffer, bytes)
        }
        try check(status, context, file: file)
        if let handler = options.warningHandler, canopy_tiff_warning_count(context) > 0 {
            handler("libtiff: " + String(cString: canopy_tiff_first_warning(context)))
        }
        return image
    }

    /// The band labels for a described file, or nil when its photometric model is not read.
    static func bandOrder(_ info: canopy_tiff_info, convention: TIFFBandConvention) -> BandOrder? {
        let samples = Int(info.samples_per_pixel)
        let alpha = info.first_extra_is_alpha != 0
        func named(_ base: [Band]) -> BandOrder? {
            guard samples >= base.count else { return nil }
            var bands = base
            if samples > base.count { bands.append(alpha ? .alpha : .unknown) }
            while bands.count < samples { bands.append(.unknown) }
            return BandOrder(bands)
        }
        switch Int(info.band_model) {
        case CANOPY_TIFF_GRAY:
            return named([.gray])
        case CANOPY_TIFF_RGB:
            if convention == .planetAnalytic && samples == 4 && info.bits_per_sample == 16 { return .bgrn }
            return named([.red, .green, .blue])
        default:
            return nil
        }
    }

    private static func check(_ status: Int32, _ context: OpaquePointer, file: String) throws(ImageIOError) {
        guard status != CANOPY_OK else { return }
        let detail = String(cString: canopy_tiff_error_message(context))
        throw ImageIOError(file: file, reason: shimReason(status, format: .tiff, detail: detail))
    }
}
