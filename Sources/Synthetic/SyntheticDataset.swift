import Dispatch
import Foundation
import ImageIO
import PlanetData
import Support
import Tensor

/// What `canopy synth` makes: how many chips, from which seed, at which size, with or without TIFFs.
public struct SyntheticDatasetSpec: Sendable, Equatable {
    public var train: Int
    public var test: Int
    public var seed: UInt64
    /// Chip width and height in pixels (the competition's are 256).
    public var size: Int
    /// Also write 16-bit BGRN TIFFs (`train-tif-v2`, `test-tif-v2`).
    public var writeTIFF: Bool
    public var jpegQuality: Int
    /// Share of JPEGs written as the real files are (4 components, R, G, B, 255); the rest are YCbCr.
    public var fourComponentShare: Float
    /// Worker threads; the files are the same whatever the count.
    public var threads: Int

    public init(train: Int, test: Int, seed: UInt64, size: Int = 256, writeTIFF: Bool = false, jpegQuality: Int = 90,
                fourComponentShare: Float = 0.5, threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.train = train
        self.test = test
        self.seed = seed
        self.size = size
        self.writeTIFF = writeTIFF
        self.jpegQuality = jpegQuality
        self.fourComponentShare = fourComponentShare
        self.threads = max(1, threads)
    }
}

/// One chip of a synthetic dataset: its name, where it goes, its labels and how it is encoded.
public struct SyntheticChip: Sendable, Equatable {
    public enum Split: UInt64, Sendable { case train = 1, test = 2 }

    public let split: Split
    /// Position within its split: with the seed, all the chip's randomness derives from it.
    public let index: Int
    /// `train_7`, `test_3`, `file_12`.
    public let name: String
    /// `train-jpg`, `test-jpg` or `test-jpg-additional`.
    public let jpegFolder: String
    /// `train-tif-v2` or `test-tif-v2`.
    public let tiffFolder: String
    public let labels: LabelSet
    public let fourComponent: Bool
    /// Seeds the painter.
    public let paintSeed: UInt64
}

/// A folder, file or encoder that failed while writing a synthetic dataset: the data layer's
/// `DataError`, whose `file` names it.
public typealias SyntheticDatasetError = DataError

extension DataError {
    init(path: String, reason: String) { self.init(file: path, problem: reason) }
}

/// What a write produced.
public struct SyntheticDatasetSummary: Sendable {
    public var chips: Int
    public var files: Int
    public var bytes: Int
    /// Wall-clock seconds painting, encoding and writing (CSV files included).
    public var seconds: Double
    public var chipsPerSecond: Double { seconds > 0 ? Double(chips) / seconds : 0 }
}

/// Planet-like datasets in the competition's layout, at any scale.
public enum SyntheticDataset {
    /// The real test set's share of `test-jpg` (40,669 of 61,191 chips); the rest is `test-jpg-additional`.
    public static let testJPGShare = 40_669.0 / 61_191.0
    /// What every row of the real sample submission carries.
    public static let placeholderTags = "primary clear agriculture road water"

    /// The random source of one chip: a function of (seed, split, index) only, so output never depends
    /// on the thread count or on which chips were made before.
    public static func chipRandom(seed: UInt64, split: SyntheticChip.Split, index: Int) -> SeededRandom {
        var random = SeededRandom(seed: mixHash(seed, split.rawValue, UInt64(index)))
        _ = random.next()
        return random
    }

    /// Every chip of `spec`: train in index order, then test in the sample submission's order
    /// (test_0...test_K numerically, then file_* in string order).
    public static func plan(_ spec: SyntheticDatasetSpec, distribution: LabelSetDistribution = .real) -> [SyntheticChip] {
        func chip(_ split: SyntheticChip.Split, _ index: Int, _ name: String, _ jpegFolder: String, _ tiffFolder: String) -> SyntheticChip {
            var random = chipRandom(seed: spec.seed, split: split, index: index)
            let labels = distribution.draw(&random)
            let fourComponent = random.nextUniform() < spec.fourComponentShare
            return SyntheticChip(split: split, index: index, name: name, jpegFolder: jpegFolder, tiffFolder: tiffFolder,
                                 labels: labels, fourComponent: fourComponent, paintSeed: random.next())
        }
        var chips = (0..<spec.train).map { chip(.train, $0, "train_\($0)", "train-jpg", "train-tif-v2") }
        let testJPG = Int((Double(spec.test) * testJPGShare).rounded())
        chips += (0..<testJPG).map { chip(.test, $0, "test_\($0)", "test-jpg", "test-tif-v2") }
        let additional = (testJPG..<spec.test).map { chip(.test, $0, "file_\($0 - testJPG)", "test-jpg-additional", "test-tif-v2") }
        chips += additional.sorted { $0.name < $1.name }
        return chips
    }

    /// The chip's painted planes (no file I/O).
    public static func paint(_ chip: SyntheticChip, size: Int) -> PaintedChip {
        var random = SeededRandom(seed: chip.paintSeed)
        return ChipPainter(size: size).paint(chip.labels, random: &random)
    }

    /// Writes the dataset into `folder` (created if missing): JPEGs (and TIFFs), `train_v2.csv`,
    /// `sample_submission_v2.csv` and `test_labels.csv`. Chips are made on `spec.threads` threads, each
    /// writing its own files; the CSVs are written last, crash-safely.
    @discardableResult
    public static func write(_ spec: SyntheticDatasetSpec, to folder: String) throws(SyntheticDatasetError) -> SyntheticDatasetSummary {
        precondition(spec.train >= 0 && spec.test >= 0 && spec.size > 0)
        let start = DispatchTime.now().uptimeNanoseconds
        let chips = plan(spec)
        var folders = [folder]
        if spec.train > 0 { folders.append(folder + "/train-jpg") }
        if chips.contains(where: { $0.jpegFolder == "test-jpg" }) { folders.append(folder + "/test-jpg") }
        if chips.contains(where: { $0.jpegFolder == "test-jpg-additional" }) { folders.append(folder + "/test-jpg-additional") }
        if spec.writeTIFF && spec.train > 0 { folders.append(folder + "/train-tif-v2") }
        if spec.writeTIFF && spec.test > 0 { folders.append(folder + "/test-tif-v2") }
        for path in folders { try makeFolder(path) }

        let outcome = Outcome()
        let threads = min(spec.threads, max(1, chips.count))
        let block = 4
        let work: @Sendable (Int) -> Void = { worker in
            var first = worker * block
            while first < chips.count {
                for i in first..<min(first + block, chips.count) {
                    if outcome.failed { return }
                    do throws(SyntheticDatasetError) {
                        let bytes = try make(chips[i], spec: spec, folder: folder)
                        outcome.add(bytes: bytes, files: spec.writeTIFF ? 2 : 1)
                    } catch {
                        outcome.fail(index: i, error)
                    }
                }
                first += threads * block
            }
        }
        if threads == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: threads, execute: work) }
        if let error = outcome.firstError { throw error }

        let train = chips.filter { $0.split == .train }, test = chips.filter { $0.split == .test }
        var csvBytes = 0
        func writeCSV(_ name: String, _ rows: [SyntheticChip], tags: (SyntheticChip) -> String) throws(SyntheticDatasetError) {
            var text = "image_name,tags\n"
            for chip in rows { text += chip.name + "," + tags(chip) + "\n" }
            let path = folder + "/" + name
            do { try AtomicFile.write(Array(text.utf8), to: path) } catch {
                throw SyntheticDatasetError(path: path, reason: "cannot write: \(error.reason)")
            }
            csvBytes += text.utf8.count
        }
        try writeCSV("train_v2.csv", train) { $0.labels.tags }
        try writeCSV("sample_submission_v2.csv", test) { _ in placeholderTags }
        try writeCSV("test_labels.csv", test) { $0.labels.tags }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return SyntheticDatasetSummary(chips: chips.count, files: outcome.files + 3, bytes: outcome.bytes + csvBytes, seconds: seconds)
    }

    /// Paints, encodes and writes one chip; returns the bytes written.
    private static func make(_ chip: SyntheticChip, spec: SyntheticDatasetSpec, folder: String) throws(SyntheticDatasetError) -> Int {
        let planes = paint(chip, size: spec.size)
        let jpegPath = "\(folder)/\(chip.jpegFolder)/\(chip.name).jpg"
        let jpeg: [UInt8]
        do {
            jpeg = try JPEGEncoder.encode(planes.rgbImage(), quality: spec.jpegQuality,
                                          layout: chip.fourComponent ? .planetFourComponent : .ycbcr, file: jpegPath)
        } catch { throw SyntheticDatasetError(path: jpegPath, reason: error.description) }
        try writeFile(jpeg, to: jpegPath)
        var bytes = jpeg.count
        if spec.writeTIFF {
            let tiffPath = "\(folder)/\(chip.tiffFolder)/\(chip.name).tif"
            let tiff: [UInt8]
            do { tiff = try TIFFEncoder.encode(planes.bgrnImage(), file: tiffPath) } catch {
                throw SyntheticDatasetError(path: tiffPath, reason: error.description)
            }
            try writeFile(tiff, to: tiffPath)
            bytes += tiff.count
        }
        return bytes
    }

    /// A plain write (no fsync: thousands of chips would wait on the disk; the CSVs, written last and
    /// crash-safely, say the dataset is complete).
    private static func writeFile(_ bytes: [UInt8], to path: String) throws(SyntheticDatasetError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SyntheticDatasetError(path: path, reason: "cannot write: \(String(cString: strerror(errno)))") }
        var failure: String?
        bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = Foundation.write(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { failure = String(cString: strerror(errno)); return }
                done += n
            }
        }
        if close(fd) != 0 && failure == nil { failure = String(cString: strerror(errno)) }
        if let failure { throw SyntheticDatasetError(path: path, reason: "cannot write: \(failure)") }
    }

    /// `mkdir -p`: creates `path` and any missing parents; the error names the folder and the system's reason.
    public static func makeFolder(_ path: String) throws(SyntheticDatasetError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) == 0 || errno == EEXIST {
                var status = stat()
                if stat(prefix, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR { continue }
                throw SyntheticDatasetError(path: path, reason: "cannot create folder: \(prefix) is not a folder")
            }
            throw SyntheticDatasetError(path: path, reason: "cannot create folder: \(String(cString: strerror(errno)))")
        }
    }
}

/// Totals and the first failure (by chip order, so the error reported does not depend on timing).
private final class Outcome: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var bytes = 0
    private(set) var files = 0
    private var failure: (index: Int, error: SyntheticDatasetError)?
    private var _failed = false


    var failed: Bool { lock.lock(); defer { lock.unlock() }; return _failed }
    var firstError: SyntheticDatasetError? { lock.lock(); defer { lock.unlock() }; return failure?.error }

    func add(bytes: Int, files: Int) {
        lock.lock()
        self.bytes += bytes
        self.files += files
        lock.unlock()
    }

    func fail(index: Int, _ error: SyntheticDatasetError) {
        lock.lock()
        if failure == nil || index < failure!.index { failure = (index, error) }
        _failed = true
        lock.unlock()
    }
}
