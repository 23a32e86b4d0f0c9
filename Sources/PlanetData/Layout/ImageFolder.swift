import Foundation

extension PlanetDataset {
    /// The chips of a loose folder of images, for predicting chips outside the competition layout:
    /// `NAME.jpg` for RGB bands, `NAME.tif` for the TIFF bands, both side by side for `rgbn`-style
    /// sources that need the two. Sorted in natural order (`x_2` before `x_10`). A folder without a
    /// single usable image is an error, and so is a chip with one of the two files it needs missing.
    public static func chips(inFolder folder: String, bands: BandSource) throws(DataError) -> [DatasetChip] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw DataError(file: folder, problem: "no such image folder")
        }
        let jpegs = bands.needsJPEG ? try imageNames(in: folder, extensions: ["jpg", "jpeg"]) : [:]
        let tiffs = bands.needsTIFF ? try imageNames(in: folder, extensions: ["tif", "tiff"]) : [:]
        let names = Set(jpegs.keys).union(tiffs.keys).sorted(by: naturalOrder)
        var chips: [DatasetChip] = []
        chips.reserveCapacity(names.count)
        for name in names {
            let jpeg = jpegs[name].map { (folder, $0) }, tiff = tiffs[name].map { (folder, $0) }
            if bands.needsJPEG && jpeg == nil || bands.needsTIFF && tiff == nil {
                throw DataError(file: folder, problem: "\(name) has no \(jpeg == nil ? ".jpg" : ".tif") beside it (bands \(bands.rawValue) need both)")
            }
            chips.append(DatasetChip(name: name, jpeg: jpeg, tiff: tiff, labels: nil))
        }
        guard !chips.isEmpty else {
            throw DataError(file: folder, problem: "no \(bands.needsJPEG ? ".jpg" : ".tif") images in it (bands \(bands.rawValue))")
        }
        return chips
    }
}
