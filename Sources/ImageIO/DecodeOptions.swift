/// Bounds on what a decoder will allocate, checked against the file's declared size before decoding.
public struct DecodeLimits: Sendable, Equatable {
    /// Largest width or height accepted.
    public var maximumDimension: Int
    /// Largest decoded image, in bytes (width x height x bands x bytes per sample).
    public var maximumBytes: Int

    public init(maximumDimension: Int = 16_384, maximumBytes: Int = 1 << 30) {
        self.maximumDimension = maximumDimension
        self.maximumBytes = maximumBytes
    }

    public static let `default` = DecodeLimits()

    /// Nil when the declared size fits, otherwise what breaks which limit, in words.
    func violation(width: Int, height: Int, bands: Int, bytesPerSample: Int) -> String? {
        let declared = "declares \(width)x\(height) with \(bands) band\(bands == 1 ? "" : "s") of \(bytesPerSample * 8) bits"
        if width > maximumDimension || height > maximumDimension {
            return "\(declared), over the maximum dimension \(maximumDimension)"
        }
        let (pixels, o1) = width.multipliedReportingOverflow(by: height)
        let (samples, o2) = pixels.multipliedReportingOverflow(by: max(bands, 1))
        let (bytes, o3) = samples.multipliedReportingOverflow(by: bytesPerSample)
        if o1 || o2 || o3 || bytes > maximumBytes { return "\(declared), over the \(maximumBytes)-byte decode limit" }
        return nil
    }
}

/// JPEG's DCT-domain downscaling: the decoder skips the work for pixels it would throw away.
public enum JPEGScale: Int, Sendable, CaseIterable {
    case full = 1, half = 2, quarter = 4, eighth = 8

    /// The largest reduction that still leaves at least `target` pixels on each side of a
    /// `width` x `height` image (so a 128 px model decodes a 256 px chip at half scale).
    public static func largest(keepingAtLeast target: Int, width: Int, height: Int) -> JPEGScale {
        let side = min(width, height)
        return allCases.reversed().first { (side + $0.rawValue - 1) / $0.rawValue >= target } ?? .full
    }
}

/// How a 16-bit TIFF with 4 samples and PhotometricInterpretation=RGB is labelled.
public enum TIFFBandConvention: Sendable, Equatable {
    /// Planet's analytic product: the file says RGB but stores blue, green, red, near-infrared.
    case planetAnalytic
    /// As the file declares: RGB plus an extra sample (alpha when the file says so).
    case asDeclared
}

public struct DecodeOptions: Sendable {
    public var limits: DecodeLimits
    /// JPEG only; other formats always decode at full size.
    public var jpegScale: JPEGScale
    public var tiffBandConvention: TIFFBandConvention
    /// Receives the library's non-fatal warnings (nothing is ever printed).
    public var warningHandler: (@Sendable (String) -> Void)?

    public init(limits: DecodeLimits = .default, jpegScale: JPEGScale = .full,
                tiffBandConvention: TIFFBandConvention = .planetAnalytic,
                warningHandler: (@Sendable (String) -> Void)? = nil) {
        self.limits = limits
        self.jpegScale = jpegScale
        self.tiffBandConvention = tiffBandConvention
        self.warningHandler = warningHandler
    }
}
