import Foundation
import PlanetData

/// Paths and throwaway folders for the data tests.
enum TestData {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let sample = repository.appendingPathComponent("datasets/planet-sample").path

    /// A fresh empty folder under the temporary directory; removed by the caller.
    static func temporaryFolder(_ name: String) -> String {
        let path = NSTemporaryDirectory() + "canopy-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A copy of the real sample dataset (train JPEGs, TIFFs, labels, test JPEGs, sample submission).
    static func copyOfSample(_ name: String) -> String {
        let folder = temporaryFolder(name)
        for item in ["train_v2.csv", "sample_submission_v2.csv", "train-jpg", "train-tif-v2", "test-jpg", "test-jpg-additional"] {
            try! FileManager.default.copyItem(atPath: sample + "/" + item, toPath: folder + "/" + item)
        }
        return folder
    }

    static func write(_ text: String, to path: String) {
        try! text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
