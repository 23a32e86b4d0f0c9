/// Why an image could not be read or written, always naming the file.
public struct ImageIOError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        /// The file could not be opened or read (missing, a directory, no permission).
        case cannotOpen(String)
        /// The first bytes match no format Canopy reads.
        case unknownFormat
        /// The stream ends before the image does.
        case truncated(format: ImageFormat, detail: String)
        /// The stream is malformed.
        case corrupt(format: ImageFormat, detail: String)
        /// A valid file in a layout Canopy does not decode (12-bit JPEG, 32-bit float TIFF, ...).
        case unsupportedLayout(format: ImageFormat, detail: String)
        /// The declared size (of the image, or of one strip or tile) exceeds the decode limits;
        /// refused before the allocation.
        case tooLarge(format: ImageFormat, detail: String)
        /// The library ran out of memory.
        case outOfMemory(format: ImageFormat, detail: String)
        /// A band the caller asked for is not in the image.
        case missingBand(requested: String, available: String)
        /// The file could not be written.
        case cannotWrite(String)
    }

    public var file: String
    public var reason: Reason

    public init(file: String, reason: Reason) {
        self.file = file
        self.reason = reason
    }

    public var description: String {
        switch reason {
        case .cannotOpen(let detail): "\(file): cannot open: \(detail)"
        case .unknownFormat: "\(file): not a JPEG, PNG or TIFF file (unrecognised first bytes)"
        case .truncated(let format, let detail): "\(file): truncated \(format.name): \(detail)"
        case .corrupt(let format, let detail): "\(file): corrupt \(format.name): \(detail)"
        case .unsupportedLayout(let format, let detail): "\(file): unsupported \(format.name) layout: \(detail)"
        case .tooLarge(let format, let detail): "\(file): \(format.name) too large: \(detail)"
        case .outOfMemory(let format, let detail): "\(file): out of memory decoding \(format.name): \(detail)"
        case .missingBand(let requested, let available): "\(file): bands \(requested) requested, image has \(available)"
        case .cannotWrite(let detail): "\(file): cannot write: \(detail)"
        }
    }
}
