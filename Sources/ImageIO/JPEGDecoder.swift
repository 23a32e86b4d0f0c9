internal import CShims

/// Decodes JPEG through libjpeg-turbo. Holds one libjpeg decompressor and reuses it across images,
/// so a worker thread keeps one decoder; an instance must not be shared between threads.
///
/// Colour: grayscale files come out as one `L` band; YCbCr and RGB files as `RGB`; 4-component files
/// (CMYK, YCCK, and Planet's R,G,B,255 with no Adobe marker) as `RGB` the way djpeg writes them,
/// r = c·k/255, which is exact for Planet's constant fourth component and handles Adobe's inverted CMYK.
public final class JPEGDecoder {
    private let context: OpaquePointer

    public init() {
        guard let context = canopy_jpeg_create() else { fatalError("libjpeg: out of memory creating a decompressor") }
        self.context = context
    }

    deinit { canopy_jpeg_destroy(context) }

    /// The header of `bytes`: width, height and components, without decoding pixels.
    public func header(_ bytes: UnsafeRawBufferPointer, file: String) throws(ImageIOError) -> JPEGHeader {
        var info = canopy_jpeg_info()
        try check(canopy_jpeg_read_header(context, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                          bytes.count, &info), file: file)
        canopy_jpeg_abort(context)
        return JPEGHeader(info)
    }

    /// Decodes `bytes` at `options.jpegScale`. `file` names the source in errors.
    public func decode(_ bytes: UnsafeRawBufferPointer, file: String, options: DecodeOptions = DecodeOptions()) throws(ImageIOError) -> Image {
        var info = canopy_jpeg_info()
        let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        try check(canopy_jpeg_read_header(context, base, bytes.count, &info), file: file)
        let header = JPEGHeader(info)
        let bands = header.colorSpace == .gray ? 1 : 3
        if let limit = options.limits.violation(width: header.width, height: header.height, bands: bands, bytesPerSample: 1) {
            canopy_jpeg_abort(context)
            throw ImageIOError(file: file, reason: .tooLarge(format: .jpeg, detail: limit))
        }
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0
        try check(canopy_jpeg_start(context, Int32(options.jpegScale.rawValue), &width, &height, &channels), file: file)
        let w = Int(width), h = Int(height), c = Int(channels)
        var status = CANOPY_OK
        let pixels = [UInt8](unsafeUninitializedCapacity: w * h * c) { buffer, initialized in
            status = Int(canopy_jpeg_read_image(context, buffer.baseAddress, w * c))
            // On failure the buffer is dropped; zero it so no uninitialised byte is ever exposed.
            if status != CANOPY_OK { buffer.initialize(repeating: 0) }
            initialized = w * h * c
        }
        try check(Int32(status), file: file)
        reportWarnings(to: options.warningHandler)
        return Image(width: w, height: h, bandOrder: c == 1 ? .gray : .rgb, samples: .uint8(pixels))
    }

    private func check(_ status: Int32, file: String) throws(ImageIOError) {
        guard status != CANOPY_OK else { return }
        let detail = String(cString: canopy_jpeg_error_message(context))
        throw ImageIOError(file: file, reason: shimReason(status, format: .jpeg, detail: detail))
    }

    private func reportWarnings(to handler: (@Sendable (String) -> Void)?) {
        let count = canopy_jpeg_warning_count(context)
        guard let handler, count > 0 else { return }
        let first = String(cString: canopy_jpeg_first_warning(context))
        handler(count == 1 ? "libjpeg: \(first)" : "libjpeg: \(first) (and \(count - 1) more warnings)")
    }
}

/// What a JPEG declares about itself.
public struct JPEGHeader: Sendable, Equatable {
    public enum ColorSpace: Sendable, Equatable { case gray, rgb, yCbCr, cmyk, ycck, unknown }
    public var width: Int
    public var height: Int
    public var components: Int
    public var colorSpace: ColorSpace
    public var hasAdobeMarker: Bool
    public var isProgressive: Bool

    init(_ info: canopy_jpeg_info) {
        width = Int(info.width)
        height = Int(info.height)
        components = Int(info.components)
        colorSpace = switch Int(info.color_space) {
        case CANOPY_JPEG_GRAY: .gray
        case CANOPY_JPEG_RGB: .rgb
        case CANOPY_JPEG_YCBCR: .yCbCr
        case CANOPY_JPEG_CMYK: .cmyk
        case CANOPY_JPEG_YCCK: .ycck
        default: .unknown
        }
        hasAdobeMarker = info.saw_adobe != 0
        isProgressive = info.progressive != 0
    }
}

/// Maps a shim status code to the typed reason.
func shimReason(_ status: Int32, format: ImageFormat, detail: String) -> ImageIOError.Reason {
    switch Int(status) {
    case CANOPY_ERR_TRUNCATED: .truncated(format: format, detail: detail)
    case CANOPY_ERR_UNSUPPORTED: .unsupportedLayout(format: format, detail: detail)
    case CANOPY_ERR_NO_MEMORY: .outOfMemory(format: format, detail: detail)
    case CANOPY_ERR_TOO_LARGE: .tooLarge(format: format, detail: detail)
    default: .corrupt(format: format, detail: detail)
    }
}
