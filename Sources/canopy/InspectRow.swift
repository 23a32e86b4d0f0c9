import ImageIO

/// One line of `canopy inspect` output, as a table row or a JSON object.
enum InspectRow {
    case decoded(path: String, format: ImageFormat, image: Image)
    case failed(path: String, error: ImageIOError)

    static let header = "path\tformat\tsize\tbands\tbits\tmin\tmean\tmax"

    var text: String {
        switch self {
        case .decoded(let path, let format, let image):
            let stats = image.bandStatistics()
            let mins = stats.map { String($0.minimum) }.joined(separator: "/")
            let means = stats.map { formatMean($0.mean) }.joined(separator: "/")
            let maxes = stats.map { String($0.maximum) }.joined(separator: "/")
            return "\(path)\t\(format.rawValue)\t\(image.width)x\(image.height)\t\(image.bands) \(image.bandOrder)\t\(image.bitDepth)\t\(mins)\t\(means)\t\(maxes)"
        case .failed(_, let error):
            return "error: \(error)"
        }
    }

    var json: String {
        switch self {
        case .decoded(let path, let format, let image):
            let stats = image.bandStatistics()
            let fields = [
                "\"path\":\(jsonString(path))",
                "\"format\":\"\(format.rawValue)\"",
                "\"width\":\(image.width)",
                "\"height\":\(image.height)",
                "\"bands\":\(image.bands)",
                "\"band_order\":\"\(image.bandOrder)\"",
                "\"bit_depth\":\(image.bitDepth)",
                "\"min\":[\(stats.map { String($0.minimum) }.joined(separator: ","))]",
                "\"mean\":[\(stats.map { formatMean($0.mean) }.joined(separator: ","))]",
                "\"max\":[\(stats.map { String($0.maximum) }.joined(separator: ","))]",
            ]
            return "{" + fields.joined(separator: ",") + "}"
        case .failed(let path, let error):
            return "{\"path\":\(jsonString(path)),\"error\":\(jsonString(error.description))}"
        }
    }
}

private func formatMean(_ value: Double) -> String {
    let rounded = (value * 1000).rounded() / 1000
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
}

/// A JSON string literal, escaping quotes, backslashes and control characters.
func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
