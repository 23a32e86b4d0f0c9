import ArgumentParser
import PlanetData

extension BandSource: ExpressibleByArgument {}
extension BadImagePolicy: ExpressibleByArgument {}
extension MissingFilesPolicy: ExpressibleByArgument {}

/// The dataset flags shared by the data commands.
struct DatasetOptions: ParsableArguments {
    @Argument(help: "Dataset folder in the competition layout (train_v2.csv, train-jpg/, ...).") var root: String
    @Option(help: "Bands: rgb (JPEG), rgbn (TIFF), rgb+rgbn (both stacked).") var bands: BandSource = .rgb
    @Option(help: "Label rows without image or images without label row: fail or report.") var missingFiles: MissingFilesPolicy = .fail

    func open() throws -> PlanetDataset {
        let dataset = try PlanetDataset.open(root: root, bands: bands, missingFiles: missingFiles)
        for line in dataset.problems.summary { print("note: \(line)") }
        return dataset
    }
}
