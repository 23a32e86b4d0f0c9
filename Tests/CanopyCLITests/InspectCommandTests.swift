import Foundation
import XCTest

/// Runs the built `canopy` binary the way a user does and reads what it prints.
final class InspectCommandTests: XCTestCase {
    private let root = CLI.repository

    func testJSONLinesForTheWholeSample() throws {
        let (status, output) = try CLI.run(["inspect", "--json", "datasets/planet-sample"])
        XCTAssertEqual(status, 0, output)
        let lines = output.split(separator: "\n")
        XCTAssertEqual(lines.count, 130)
        for line in lines {
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
            XCTAssertEqual(Set(object.keys), ["path", "format", "width", "height", "bands", "band_order", "bit_depth",
                                              "min", "mean", "max"])
            let bands = try XCTUnwrap(object["bands"] as? Int)
            XCTAssertEqual((object["mean"] as? [Double])?.count, bands)
            XCTAssertEqual((object["band_order"] as? String)?.count, bands)
        }
        let train1 = try XCTUnwrap(lines.first { $0.contains("train-jpg/train_1.jpg") })
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(train1.utf8)) as? [String: Any])
        XCTAssertEqual(object["format"] as? String, "jpeg")
        XCTAssertEqual(object["band_order"] as? String, "RGB")
        XCTAssertEqual(object["bit_depth"] as? Int, 8)
        // Per-band figures from Pillow and numpy (scripts/test-values/inspect_values.py).
        XCTAssertEqual(object["min"] as? [Int], [29, 41, 38])
        XCTAssertEqual(object["max"] as? [Int], [170, 154, 131])
        let jpegMean = try XCTUnwrap(object["mean"] as? [Double])
        for (mean, expected) in zip(jpegMean, [65.63986206054688, 76.49737548828125, 64.30158996582031]) {
            XCTAssertEqual(mean, expected, accuracy: 1e-9)
        }
        XCTAssertEqual(jpegMean.count, 3)
        let tif = try XCTUnwrap(lines.first { $0.contains("train-tif-v2/train_0.tif") })
        let tifObject = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(tif.utf8)) as? [String: Any])
        XCTAssertEqual(tifObject["band_order"] as? String, "BGRN")
        XCTAssertEqual(tifObject["bit_depth"] as? Int, 16)
        XCTAssertEqual(tifObject["min"] as? [Int], [4860, 4034, 2469, 4559])
        XCTAssertEqual(tifObject["max"] as? [Int], [5794, 4856, 3396, 8527])
        let tifMean = try XCTUnwrap(tifObject["mean"] as? [Double])
        for (mean, expected) in zip(tifMean, [5226.039260864258, 4369.5269775390625, 2823.257049560547, 6126.069625854492]) {
            XCTAssertEqual(mean, expected, accuracy: 1e-9)
        }
        XCTAssertEqual(tifMean.count, 4)
    }

    func testFailuresGetALineAndExitStatusOne() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("canopy-inspect-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = root.appendingPathComponent("datasets/planet-sample/train-jpg/train_2.jpg")
        let truncated = folder.appendingPathComponent("cut.jpg")
        try Data(try Data(contentsOf: good).prefix(5000)).write(to: truncated)
        let text = folder.appendingPathComponent("notes.png")
        try Data("not an image".utf8).write(to: text)

        let (status, output) = try CLI.run(["inspect", "--json", good.path, truncated.path, text.path, "/no/such.tif"])
        XCTAssertEqual(status, 1, output)
        let objects = try output.split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        XCTAssertEqual(objects.count, 4)
        XCTAssertNil(objects[0]["error"])
        for (object, expected) in zip(objects.dropFirst(), ["truncated JPEG", "not a JPEG, PNG or TIFF", "cannot open"]) {
            let error = try XCTUnwrap(object["error"] as? String)
            XCTAssertTrue(error.contains(expected), error)
            XCTAssertTrue(error.hasPrefix(object["path"] as! String), error)
            XCTAssertEqual(Set(object.keys), ["path", "error"])
        }

        let table = try CLI.run(["inspect", good.path, truncated.path])
        XCTAssertEqual(table.status, 1)
        XCTAssertTrue(table.output.contains("error: \(truncated.path): truncated JPEG"), table.output)
        XCTAssertTrue(table.output.contains("1 decoded, 1 failed"), table.output)
    }
}
