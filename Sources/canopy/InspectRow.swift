import Foundation
import ImageIO

/// One line of `canopy inspect` output, as a table row or a JSON object.
enum InspectRow {
    case decoded(path: String, format: ImageFormat, image: Image)
    case failed(path: String, error: ImageIOError)

    /// The table header, the path column `pathWidth` characters wide.
    static func header(pathWidth: Int) -> String {
        pad("path", pathWidth) + "  " + pad("format", 6) + "  " + pad("size", 9) + "  " + pad("bands", 7) + "  "
            + pad("bits", 4) + "  min / mean / max per band"
    }

    /// A table row; failures get one line naming the file and the problem.
    func text(pathWidth: Int) -> String {
        switch self {
        case .decoded(let path, let format, let image):
            let stats = image.bandStatistics()
            let mins = stats.map { String($0.minimum) }.joined(separator: ",")
            let means = stats.map { String(format: "%.1f", $0.mean) }.joined(separator: ",")
            let maxes = stats.map { String($0.maximum) }.joined(separator: ",")
            return pad(path, pathWidth) + "  " + pad(format.rawValue, 6) + "  " + pad("\(image.width)x\(image.height)", 9)
                + "  " + pad("\(image.bands) \(image.bandOrder)", 7) + "  " + pad(String(image.bitDepth), 4)
                + "  \(mins) / \(means) / \(maxes)"
        case .failed(_, let error):
            return "error: \(error)"
        }
    }

    var json: String {
        switch self {
        case .decoded(let path, let format, let image):
            let stats = image.bandStatistics()
            return jsonLine(InspectJSON(path: path, format: format.rawValue, width: image.width, height: image.height, bands: image.bands,
                                        bandOrder: "\(image.bandOrder)", bitDepth: image.bitDepth, min: stats.map(\.minimum),
                                        mean: stats.map(\.mean), max: stats.map(\.maximum)))
        case .failed(let path, let error):
            return jsonLine(InspectJSON(path: path, error: error.description))
        }
    }
}

private func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}
