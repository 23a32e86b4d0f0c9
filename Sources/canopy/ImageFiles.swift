import Foundation
import ImageIO

/// Turns command-line paths into the image files they name.
enum ImageFiles {
    static let extensions: Set<String> = ["jpg", "jpeg", "png", "tif", "tiff"]

    /// Files stay as given (whatever their name: the format is sniffed); folders expand to the image
    /// files under them, sorted. A path that does not exist stays too: reading it fails with an error
    /// that names it, in its place among the others.
    static func expand(_ paths: [String]) throws -> [String] {
        var files: [String] = []
        let manager = FileManager.default
        for path in paths {
            var isFolder: ObjCBool = false
            guard manager.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
                files.append(path)
                continue
            }
            guard let walker = manager.enumerator(atPath: path) else {
                throw ValidationErrorMessage("\(path): cannot list the folder")
            }
            var found: [String] = []
            for case let relative as String in walker
            where extensions.contains((relative as NSString).pathExtension.lowercased()) {
                found.append((path as NSString).appendingPathComponent(relative))
            }
            files += found.sorted { $0.localizedStandardCompare($1) == .orderedAscending }
        }
        return files
    }
}

/// An error whose message is printed as it is.
struct ValidationErrorMessage: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
