import Foundation
import ImageIO

/// Paths the tests read, found from this file's location so `swift test` works from any folder.
enum TestPaths {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let planetSample = packageRoot.appendingPathComponent("datasets/planet-sample")
    static let fixtures = packageRoot.appendingPathComponent("Tests/ImageIOTests/Fixtures/images")

    static func sample(_ relative: String) -> String { planetSample.appendingPathComponent(relative).path }

    /// Every file under `folder` with one of `extensions`, sorted by name.
    static func files(in folder: URL, extensions: Set<String>) -> [String] {
        let walker = FileManager.default.enumerator(atPath: folder.path)
        var found: [String] = []
        while let relative = walker?.nextObject() as? String {
            if extensions.contains((relative as NSString).pathExtension.lowercased()) {
                found.append(folder.appendingPathComponent(relative).path)
            }
        }
        return found.sorted()
    }
}

extension Image {
    /// All samples as Int, interleaved, for comparisons.
    var intSamples: [Int] {
        switch samples {
        case .uint8(let values): values.map(Int.init)
        case .uint16(let values): values.map(Int.init)
        }
    }

    /// One band's samples as Double, row-major.
    func band(_ index: Int) -> [Double] {
        let all = intSamples
        return stride(from: index, to: all.count, by: bands).map { Double(all[$0]) }
    }
}

/// Pearson's correlation of two equally long series.
func pearson(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count && !a.isEmpty)
    let n = Double(a.count)
    let meanA = a.reduce(0, +) / n, meanB = b.reduce(0, +) / n
    var covariance = 0.0, varianceA = 0.0, varianceB = 0.0
    for i in a.indices {
        let da = a[i] - meanA, db = b[i] - meanB
        covariance += da * db
        varianceA += da * da
        varianceB += db * db
    }
    return covariance / (varianceA * varianceB).squareRoot()
}
