/// Reads images of any supported format from files or memory, telling the format from the first
/// bytes. Keeps one JPEG decompressor for reuse: give each thread its own reader.
public final class ImageReader {
    public var options: DecodeOptions
    private let jpeg = JPEGDecoder()

    public init(options: DecodeOptions = DecodeOptions()) {
        self.options = options
    }

    /// Decodes the file at `path`.
    public func read(_ path: String) throws(ImageIOError) -> Image {
        let bytes = try FileBytes.read(path)
        return try decode(bytes, file: path)
    }

    /// Decodes `bytes`; `file` names the source in errors.
    public func decode(_ bytes: [UInt8], file: String = "<memory>") throws(ImageIOError) -> Image {
        // withUnsafeBytes rethrows untyped errors: carry the typed one out in a Result.
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(ImageIOError) -> Image in try decode(buffer, file: file) }
        }
        return try result.get()
    }

    /// Decodes `bytes`; `file` names the source in errors.
    public func decode(_ bytes: UnsafeRawBufferPointer, file: String = "<memory>") throws(ImageIOError) -> Image {
        guard let format = ImageFormat.sniff(bytes) else { throw ImageIOError(file: file, reason: .unknownFormat) }
        switch format {
        case .jpeg: return try jpeg.decode(bytes, file: file, options: options)
        case .png: return try PNGCodec.decode(bytes, file: file, options: options)
        case .tiff: return try TIFFDecoder.decode(bytes, file: file, options: options)
        }
    }
}
