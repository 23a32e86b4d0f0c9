import Foundation
import PlanetData
import XCTest

final class FoldTests: XCTestCase {
    /// The competition's whole label file, kept in the repository (datasets/planet-labels/, CC BY-SA 4.0).
    static let realLabels = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("datasets/planet-labels/train_v2.csv").path

    /// The bar: on the real label file (40,479 chips), every label with at least K chips has
    /// per-fold counts within ±2 of the mean, for K = 5.
    func testFiveFoldsOfTheRealLabelsAreBalancedWithinTwo() throws {
        let chips = try LabelFile.read(Self.realLabels)
        XCTAssertEqual(chips.count, 40_479)
        let folds = FoldAssignment.stratified(chips, folds: 5, seed: 1)
        let sets = chips.map(\.labels)
        let assignment = chips.map { folds.foldOf[$0.name]! }
        let counts = IterativeStratification.labelCounts(sets, assignment: assignment, folds: 5)
        var worst = 0.0
        for (label, perFold) in counts.enumerated() where perFold.reduce(0, +) >= 5 {
            let mean = Double(perFold.reduce(0, +)) / 5
            let deviation = perFold.map { abs(Double($0) - mean) }.max()!
            worst = max(worst, deviation)
            XCTAssertLessThanOrEqual(deviation, 2, "\(PlanetLabels.names[label]): \(perFold)")
        }
        let sizes = (0..<5).map { fold in assignment.filter { $0 == fold }.count }
        XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 2, "fold sizes \(sizes)")
        print("5 folds of the real labels: worst label deviation from the mean \(worst); fold sizes \(sizes)")
    }

    func testTheSameSeedGivesTheSameFoldsAndAnotherSeedOthers() throws {
        let chips = try LabelFile.read(Self.realLabels).prefix(3000).map { $0 }
        let a = FoldAssignment.stratified(chips, folds: 5, seed: 7)
        XCTAssertEqual(a, FoldAssignment.stratified(chips, folds: 5, seed: 7))
        XCTAssertNotEqual(a, FoldAssignment.stratified(chips, folds: 5, seed: 8))
    }

    func testFoldFileRoundTripsAndRefusesBadRows() throws {
        let chips = (0..<10).map { LabeledChip(name: "train_\($0)", labels: $0 % 2 == 0 ? ["clear", "primary"] : ["haze"]) }
        let folds = FoldAssignment.stratified(chips, folds: 2, seed: 3)
        let path = NSTemporaryDirectory() + "canopy-folds-\(getpid()).csv"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try folds.write(to: path)
        XCTAssertEqual(try FoldAssignment.read(path, expectedFolds: 2), folds)
        let (train, validation) = folds.split(holdingOut: 0)
        XCTAssertEqual(train.count + validation.count, 10)
        XCTAssertEqual(validation.count, 5)

        func error(_ text: String, folds: Int? = nil) -> String {
            do { _ = try FoldAssignment.parse(Array(text.utf8), file: "folds.csv", expectedFolds: folds); return "no error" } catch { return error.description }
        }
        XCTAssertEqual(error("image_name,fold\na,0\nb,x\n"), "folds.csv:3: fold \"x\" is not a fold number")
        XCTAssertEqual(error("image_name,fold\na,0\nb,5\n", folds: 2), "folds.csv:3: fold \"5\" is not a fold number in 0..<2")
        XCTAssertEqual(error("image_name,fold\na,0\na,1\n"), "folds.csv:3: duplicate image name \"a\" (first on line 2)")
        XCTAssertEqual(error("image_name,fold\na,0\nb,0,1\n"), "folds.csv:3: malformed row \"b,0,1\": 3 fields, expected 2")
        XCTAssertEqual(error("name,fold\n"), "folds.csv:1: header is \"name,fold\", expected \"image_name,fold\"")
        XCTAssertEqual(error("image_name,fold\na,0\nb,2\n", folds: 3), "folds.csv: fold 1 has no chip (3 folds expected)")
    }
}
