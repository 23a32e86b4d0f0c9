import Foundation
import ImageIO

/// Small 8-bit RGB PNG pictures of chips for the report: JPEGs decoded at a quarter of their size in
/// the DCT domain, TIFFs decoded whole, put in R,G,B order, stretched (16-bit: each band's 2nd..98th
/// percentile to 0...255) and box-shrunk to the same size.
public enum Thumbnails {
    /// PNG bytes of the chip at `path`, at most `maximumSide` pixels on a side.
    public static func png(path: String, maximumSide: Int = 64) throws(ImageIOError) -> [UInt8] {
        let reader = ImageReader(options: DecodeOptions(jpegScale: .quarter))
        let decoded = try reader.read(path)
        let image = try displayable(decoded, file: path)
        return try PNGCodec.encode(shrink(image, maximumSide: maximumSide), file: path)
    }

    /// An 8-bit RGB view of any decoded image: bands put in R,G,B order when the image names them
    /// (a BGRN TIFF gives its R, G, B), a gray band repeated, otherwise the first three bands; 16-bit
    /// bands stretched from their 2nd..98th percentile to 0...255.
    public static func displayable(_ image: Image, file: String = "<image>") throws(ImageIOError) -> Image {
        let names = Set(image.bandOrder.bands)
        var picked: Image
        if names.isSuperset(of: [.red, .green, .blue]) {
            picked = try image.selecting(.rgb, file: file)
        } else if names.contains(.gray) {
            picked = try image.selecting(.gray, file: file)
        } else {
            picked = image
        }
        let bands = picked.bands
        let pixels = picked.width * picked.height
        // The three source bands of each output channel.
        let sources: [Int] = bands >= 3 ? [0, 1, 2] : [0, 0, 0]
        var out = [UInt8](repeating: 0, count: pixels * 3)
        switch picked.samples {
        case .uint8(let values):
            for p in 0..<pixels {
                for (k, s) in sources.enumerated() { out[p * 3 + k] = values[p * bands + s] }
            }
        case .uint16(let values):
            for (k, s) in sources.enumerated() {
                let (low, high) = percentiles(values, band: s, of: bands, low: 0.02, high: 0.98)
                let span = Double(max(high - low, 1))
                for p in 0..<pixels {
                    let v = (Double(Int(values[p * bands + s]) - low) / span * 255).rounded()
                    out[p * 3 + k] = UInt8(min(max(v, 0), 255))
                }
            }
        }
        return Image(width: picked.width, height: picked.height, bandOrder: .rgb, samples: .uint8(out))
    }

    /// The `low` and `high` quantiles of one band of 16-bit samples, from a full histogram.
    static func percentiles(_ values: [UInt16], band: Int, of bands: Int, low: Double, high: Double) -> (Int, Int) {
        var histogram = [Int](repeating: 0, count: 65_536)
        var count = 0
        var i = band
        while i < values.count {
            histogram[Int(values[i])] += 1
            count += 1
            i += bands
        }
        func quantile(_ q: Double) -> Int {
            let target = max(1, Int((q * Double(count)).rounded(.up)))
            var seen = 0
            for (value, n) in histogram.enumerated() {
                seen += n
                if seen >= target { return value }
            }
            return 65_535
        }
        return (quantile(low), quantile(high))
    }

    /// Shrinks an 8-bit image by the smallest whole factor that brings both sides to `maximumSide`
    /// or less, averaging each factor x factor box.
    public static func shrink(_ image: Image, maximumSide: Int) -> Image {
        let factor = max(1, (max(image.width, image.height) + maximumSide - 1) / max(maximumSide, 1))
        guard factor > 1, case .uint8(let values) = image.samples else { return image }
        let w = max(1, image.width / factor), h = max(1, image.height / factor), bands = image.bands
        var out = [UInt8](repeating: 0, count: w * h * bands)
        for y in 0..<h {
            for x in 0..<w {
                for b in 0..<bands {
                    var sum = 0
                    for dy in 0..<factor {
                        let row = (y * factor + dy) * image.width
                        for dx in 0..<factor { sum += Int(values[(row + x * factor + dx) * bands + b]) }
                    }
                    out[(y * w + x) * bands + b] = UInt8(sum / (factor * factor))
                }
            }
        }
        return Image(width: w, height: h, bandOrder: image.bandOrder, samples: .uint8(out))
    }

    /// Standard base64 (RFC 4648, with padding), for `data:` URLs.
    public static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
}
