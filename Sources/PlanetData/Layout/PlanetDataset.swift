import Foundation

/// Which bands a model sees, and so which files a chip needs.
public enum BandSource: String, Codable, Sendable, CaseIterable {
    /// Red, green, blue from the JPEG.
    case rgb
    /// Red, green, blue, near-infrared from the 16-bit TIFF (stored B,G,R,N; reordered).
    case rgbn
    /// Both stacked: the JPEG's R,G,B then the TIFF's R,G,B,N (7 bands).
    case rgbAndRGBN = "rgb+rgbn"

    public var bandCount: Int {
        switch self {
        case .rgb: 3
        case .rgbn: 4
        case .rgbAndRGBN: 7
        }
    }

    var needsJPEG: Bool { self != .rgbn }
    var needsTIFF: Bool { self != .rgb }
}

/// What to do when a label row has no image, or an image has no label row.
public enum MissingFilesPolicy: String, Codable, Sendable, CaseIterable {
    /// Stop with an error naming the first few.
    case fail
    /// Leave those chips out, count them and list them in the run's report.
    case report
}

/// One chip of the dataset: its name, its files (only those its bands need are checked), and its
/// labels when they are known (training chips, and test chips of synthetic data).
///
/// Paths are kept as a folder shared by every chip plus a short file name (stored inline by Swift's
/// small strings), so the index of 40,000 chips costs little more than the structs themselves.
public struct DatasetChip: Hashable, Sendable {
    public var name: String
    var jpegFolder: String?, jpegFile: String?
    var tiffFolder: String?, tiffFile: String?
    public var labels: LabelSet?

    init(name: String, jpeg: (folder: String, file: String)?, tiff: (folder: String, file: String)?, labels: LabelSet?) {
        self.name = name
        (jpegFolder, jpegFile) = (jpeg?.folder, jpeg?.file)
        (tiffFolder, tiffFile) = (tiff?.folder, tiff?.file)
        self.labels = labels
    }

    public var jpegPath: String? { jpegFile.map { jpegFolder! + "/" + $0 } }
    public var tiffPath: String? { tiffFile.map { tiffFolder! + "/" + $0 } }
}

/// Mismatches between the label files and the image folders, found when the dataset is opened.
public struct DatasetProblems: Sendable, Equatable {
    /// Rows of `train_v2.csv` whose image (for the chosen bands) is not there.
    public var labelRowsWithoutImage: [String] = []
    /// Images in the training folders that no row of `train_v2.csv` names.
    public var imagesWithoutLabelRow: [String] = []
    /// Rows of the sample submission whose image is not there.
    public var testRowsWithoutImage: [String] = []

    public var isEmpty: Bool { labelRowsWithoutImage.isEmpty && imagesWithoutLabelRow.isEmpty && testRowsWithoutImage.isEmpty }

    /// One line per kind of problem, with counts and the first few names.
    public var summary: [String] {
        func line(_ names: [String], _ what: String) -> String? {
            guard !names.isEmpty else { return nil }
            let shown = names.prefix(5).joined(separator: ", ")
            return "\(names.count) \(what): \(shown)\(names.count > 5 ? ", ..." : "")"
        }
        return [line(labelRowsWithoutImage, "label rows with no image"),
                line(imagesWithoutLabelRow, "images with no label row"),
                line(testRowsWithoutImage, "sample-submission rows with no image")].compactMap { $0 }
    }
}

/// The competition's layout on disk (what a user downloads, and what `canopy synth` writes):
///
///     train_v2.csv                 image_name,tags
///     train-jpg/train_N.jpg        RGB chips (4-component JPEGs in the real data)
///     train-tif-v2/train_N.tif     16-bit B,G,R,NIR chips
///     sample_submission_v2.csv     the test chips, in submission order
///     test-jpg/test_N.jpg, test-jpg-additional/file_N.jpg, test-tif-v2/NAME.tif
///     test_labels.csv              (synthetic data only) the test chips' true tags
public struct PlanetDataset: Sendable {
    public static let trainLabelsFile = "train_v2.csv"
    public static let sampleSubmissionFile = "sample_submission_v2.csv"
    public static let testLabelsFile = "test_labels.csv"
    static let trainJPEGFolder = "train-jpg", trainTIFFFolder = "train-tif-v2"
    static let testJPEGFolders = ["test-jpg", "test-jpg-additional"], testTIFFFolder = "test-tif-v2"

    public let root: String
    public let bands: BandSource
    /// Labelled chips with every file their bands need, in `train_v2.csv` order.
    public let train: [DatasetChip]
    /// Test chips in the sample submission's order (empty when there is no sample submission).
    public let test: [DatasetChip]
    /// Every name of the sample submission, in order, including any whose image is missing.
    public let submissionNames: [String]
    public let problems: DatasetProblems

    /// Opens the dataset at `root` for `bands`. Label files are checked row by row (`DataError` with
    /// file and line); label rows and images that do not pair are counted, and are fatal when
    /// `missingFiles` is `.fail`.
    public static func open(root: String, bands: BandSource = .rgb, missingFiles: MissingFilesPolicy = .fail) throws(DataError) -> PlanetDataset {
        let rootURL = URL(fileURLWithPath: root)
        func path(_ parts: String...) -> String { parts.reduce(rootURL) { $0.appendingPathComponent($1) }.path }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isFolder), isFolder.boolValue else {
            throw DataError(file: root, problem: "no such dataset folder")
        }

        let labelled = try LabelFile.read(path(trainLabelsFile))
        var problems = DatasetProblems()
        let trainJPEGs = bands.needsJPEG ? try imageNames(in: path(trainJPEGFolder), extensions: ["jpg", "jpeg"]) : [:]
        let trainTIFFs = bands.needsTIFF ? try imageNames(in: path(trainTIFFFolder), extensions: ["tif", "tiff"]) : [:]

        var train: [DatasetChip] = []
        train.reserveCapacity(labelled.count)
        let jpegFolder = path(trainJPEGFolder), tiffFolder = path(trainTIFFFolder)
        for chip in labelled {
            let jpeg = trainJPEGs[chip.name].map { (jpegFolder, $0) }
            let tiff = trainTIFFs[chip.name].map { (tiffFolder, $0) }
            if (bands.needsJPEG && jpeg == nil) || (bands.needsTIFF && tiff == nil) {
                problems.labelRowsWithoutImage.append(chip.name)
            } else {
                train.append(DatasetChip(name: chip.name, jpeg: jpeg, tiff: tiff, labels: chip.labels))
            }
        }
        let labelledNames = Set(labelled.map(\.name))
        problems.imagesWithoutLabelRow = Set(trainJPEGs.keys).union(trainTIFFs.keys).subtracting(labelledNames).sorted(by: naturalOrder)

        var test: [DatasetChip] = []
        var submissionNames: [String] = []
        if FileManager.default.fileExists(atPath: path(sampleSubmissionFile)) {
            submissionNames = try LabelFile.readSampleSubmission(path(sampleSubmissionFile))
            var testJPEGs: [String: (folder: String, file: String)] = [:]
            if bands.needsJPEG {
                for folder in testJPEGFolders where FileManager.default.fileExists(atPath: path(folder)) {
                    let folderPath = path(folder)
                    for (name, file) in try imageNames(in: folderPath, extensions: ["jpg", "jpeg"]) where testJPEGs[name] == nil {
                        testJPEGs[name] = (folderPath, file)
                    }
                }
            }
            let testTIFFs = bands.needsTIFF && FileManager.default.fileExists(atPath: path(testTIFFFolder))
                ? try imageNames(in: path(testTIFFFolder), extensions: ["tif", "tiff"]) : [:]
            var testLabels: [String: LabelSet] = [:]
            if FileManager.default.fileExists(atPath: path(testLabelsFile)) {
                for chip in try LabelFile.read(path(testLabelsFile)) { testLabels[chip.name] = chip.labels }
            }
            let testTIFFFolderPath = path(testTIFFFolder)
            for name in submissionNames {
                let jpeg = testJPEGs[name], tiff = testTIFFs[name].map { (testTIFFFolderPath, $0) }
                if (bands.needsJPEG && jpeg == nil) || (bands.needsTIFF && tiff == nil) {
                    problems.testRowsWithoutImage.append(name)
                } else {
                    test.append(DatasetChip(name: name, jpeg: jpeg, tiff: tiff, labels: testLabels[name]))
                }
            }
        }

        if missingFiles == .fail, !problems.isEmpty {
            throw DataError(file: root, problem: problems.summary.joined(separator: "; ")
                            + " (set missing_files: report to leave them out)")
        }
        guard !train.isEmpty || labelled.isEmpty else {
            throw DataError(file: path(trainLabelsFile), problem: "none of its \(labelled.count) chips has its \(bands.rawValue) image")
        }
        return PlanetDataset(root: root, bands: bands, train: train, test: test, submissionNames: submissionNames, problems: problems)
    }

    /// The first `train` training chips and the first `test` test chips (nil keeps all): quick trials.
    public func limited(train: Int?, test: Int?) -> PlanetDataset {
        PlanetDataset(root: root, bands: bands, train: Array(self.train.prefix(train ?? .max)),
                      test: Array(self.test.prefix(test ?? .max)), submissionNames: submissionNames, problems: problems)
    }

    /// Image files in `folder` keyed by name without extension; a missing folder is an error.
    static func imageNames(in folder: String, extensions: Set<String>) throws(DataError) -> [String: String] {
        let files: [String]
        do { files = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw DataError(file: folder, problem: "cannot list the folder (\((error as NSError).localizedDescription))")
        }
        var names: [String: String] = [:]
        for file in files {
            guard let dot = file.lastIndex(of: "."), extensions.contains(file[file.index(after: dot)...].lowercased()) else { continue }
            names[String(file[..<dot])] = file
        }
        return names
    }
}

/// `train_2` before `train_10`: names compared by their text, with runs of digits compared as numbers.
public func naturalOrder(_ a: String, _ b: String) -> Bool {
    a.compare(b, options: [.numeric]) == .orderedAscending
}
