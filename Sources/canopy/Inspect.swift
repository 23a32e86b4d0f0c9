import ArgumentParser
import ImageIO

/// `canopy inspect PATH...`: what each image file holds, one row per file.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe image files: format, size, bands and their order, bit depth, per-band min/mean/max.",
        discussion: "Folders are searched recursively for .jpg, .jpeg, .png, .tif and .tiff files; the format itself is read from each file's first bytes. Exit status 1 when any file fails to decode."
    )

    @Argument(help: "Image files or folders.")
    var paths: [String]

    @Flag(help: "One JSON object per line per file.")
    var json = false

    func run() throws {
        let files = try ImageFiles.expand(paths)
        let reader = ImageReader()
        var failures = 0
        let pathWidth = files.map(\.count).max() ?? 4
        if !json { print(InspectRow.header(pathWidth: pathWidth)) }
        for file in files {
            let row: InspectRow
            do {
                let bytes = try FileBytes.read(file)
                let image = try reader.decode(bytes, file: file)
                row = .decoded(path: file, format: ImageFormat.sniff(bytes)!, image: image)
            } catch {
                failures += 1
                row = .failed(path: file, error: error)
            }
            print(json ? row.json : row.text(pathWidth: pathWidth))
        }
        if !json { print("\(files.count - failures) decoded, \(failures) failed") }
        if failures > 0 { throw ExitCode(1) }
    }
}
