import Backbones
import Evaluation
import Foundation
import NN
import ONNX
import PlanetData
import Support
import Tensor
import Training

/// What `canopy export` is asked for.
public struct ExportRequest: Sendable {
    /// The output folder.
    public var out: String
    /// Only this model (by its pipeline name); nil: every model.
    public var model: String?
    /// Only this fold (`"0"`, `"1"`, ... or `"refit"`); nil: every trained fold and the refit.
    public var fold: String?
    /// A folder of chips whose first `checkCount` (in name order) are run through each network, their
    /// normalised inputs and Canopy's probabilities written beside it (`NAME-fold-K.check.safetensors`).
    public var checkImages: String?
    public var checkCount: Int
    /// `producer_version` in the files (Canopy's release).
    public var producerVersion: String

    public init(out: String, model: String? = nil, fold: String? = nil, checkImages: String? = nil, checkCount: Int = 16,
                producerVersion: String) {
        self.out = out
        self.model = model
        self.fold = fold
        self.checkImages = checkImages
        self.checkCount = checkCount
        self.producerVersion = producerVersion
    }
}

/// One network `canopy export` wrote.
public struct ExportedNetwork: Sendable {
    public var model: String
    /// `fold-K` or `refit`.
    public var unit: String
    public var file: String
    public var bytes: Int
    public var nodes: Int
    /// The check file, when `checkImages` was given.
    public var check: String?
}

/// `serving.json`: what someone serving the exported files needs besides them. Keys in snake case.
struct ServingDescription: Encodable {
    struct Input: Encodable {
        var name = "input"
        var layout = "NCHW"
        var elementType = "float32"
        var bands: [String]
        var bandSource: String
        var howCanopyMakesIt: [String]
        var normalization: String
        var mean: [Float]
        var std: [Float]
        var statisticsChips: Int
    }

    struct Output: Encodable {
        var name = "probabilities"
        var shape: [String] = ["N", "\(PlanetLabels.count)"]
        var meaning = "per-label probabilities (the sigmoid is in the graph), in the order of `labels`"
        var labels: [String]
    }

    struct Network: Encodable {
        var file: String
        var unit: String
        var weights: String
        var check: String?
    }

    struct Model: Encodable {
        var name: String
        var backbone: String
        var inputSize: Int
        var networks: [Network]
        var canopyPredictsWith: String
    }

    struct TestTimeAugmentation: Encodable {
        var name: String
        var symmetries: [String]
        var how: String
    }

    var format = "canopy-onnx-serving 1"
    var producer: String
    var pipeline: String
    var results: String
    var onnx: String
    var input: Input
    var output: Output
    var models: [Model]
    var tta: TestTimeAugmentation
    var ensemble: EnsembleRecord?
    var ensembleHow: String
    var decision: DecisionCandidate
    var decisionHow: String
    var weatherRule: String
    var checkFiles: String?
}

extension PipelineRunner {
    /// Writes each trained network of the pipeline (every fold's best weights and the refit's; or only
    /// `request.model`, `request.fold`) as `OUT/MODEL-fold-K.onnx` (`MODEL-refit.onnx`), and
    /// `OUT/serving.json`: input layout, bands and normalisation, labels, the tuned decision, how folds
    /// and models combine. Reads the results only (runs no stage): every file it needs is checked
    /// before anything is written, a missing one is an error naming it.
    public func exportONNX(_ request: ExportRequest) throws -> [ExportedNetwork] {
        try EngineSettings.with(engine) { try exportAll(request) }
    }

    private func exportAll(_ request: ExportRequest) throws -> [ExportedNetwork] {
        let inputs = try exportInputs(request)
        try Folders.create(request.out)
        var exported: [ExportedNetwork] = []
        var servingModels: [ServingDescription.Model] = []
        var checkInputs = CheckInputs()
        for model in inputs.models {
            var networks: [ServingDescription.Network] = []
            for unit in inputs.units {
                let (network, serving) = try exportNetwork(model, unit, inputs, request, checkInputs: &checkInputs)
                exported.append(network)
                networks.append(serving)
            }
            servingModels.append(.init(
                name: model.name, backbone: model.backbone, inputSize: model.inputSize, networks: networks,
                canopyPredictsWith: config.folds.refit
                    ? "the refit alone (\(model.name)-refit.onnx)"
                    : "the mean of the probabilities of folds \(config.folds.trained.map(String.init).joined(separator: ", ")) "
                        + "(\(config.folds.trained.map { "\(model.name)-fold-\($0).onnx" }.joined(separator: ", ")))"))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let serving = servingDescription(request, inputs, servingModels)
        try AtomicFile.write(Array(try encoder.encode(serving)) + [10], to: request.out + "/serving.json")
        return exported
    }

    /// A network to export: a trained fold (`fold-K`) or the refit, and where its weights are.
    struct ExportUnit {
        var label: String
        var folder: (ModelSpec) -> String
    }

    /// What an export reads besides the weights, read (and every weight file's presence checked)
    /// before anything is written.
    struct ExportInputs {
        var models: [ModelSpec]
        var units: [ExportUnit]
        var decision: DecisionRecord
        var ensemble: EnsembleRecord?
        var statistics: NormalizationStatistics
        var checkChips: [DatasetChip]
    }

    /// The check chips as each input size makes them, made once per size.
    typealias CheckInputs = [Int: (input: Tensor, names: [String])]

    /// The models and units asked for (every model; every trained fold, then the refit), and what
    /// they need from the results, each missing file an error naming it.
    private func exportInputs(_ request: ExportRequest) throws -> ExportInputs {
        let models = config.models.filter { request.model == nil || $0.name == request.model }
        guard !models.isEmpty else {
            throw TrainingError("--model \(request.model ?? ""): no such model in \(source) (its models: "
                                + config.models.map(\.name).joined(separator: ", ") + ")")
        }
        var units = config.folds.trained.map { fold in ExportUnit(label: "fold-\(fold)") { self.foldFolder($0, fold) } }
        if config.folds.refit { units.append(ExportUnit(label: "refit") { self.refitFolder($0) }) }
        if let fold = request.fold {
            let label = fold == "refit" ? "refit" : "fold-\(fold)"
            guard units.contains(where: { $0.label == label }) else {
                throw TrainingError("--fold \(fold): not trained by \(source) (its networks: " + units.map(\.label).joined(separator: ", ") + ")")
            }
            units = units.filter { $0.label == label }
        }

        func required(_ file: String) throws -> String {
            guard FileManager.default.fileExists(atPath: file) else {
                throw TrainingError("\(file): missing: train the pipeline first (canopy run \(source))")
            }
            return file
        }
        let decision = try readJSON(DecisionRecord.self, from: required(path("thresholds.json")))
        let ensemble = config.models.count > 1 ? try readJSON(EnsembleRecord.self, from: required(path("ensemble.json"))) : nil
        let bands = config.data.bands
        var statistics = NormalizationStatistics(bands: bands, mean: [Float](repeating: 0, count: bands.bandCount),
                                                 std: [Float](repeating: 1, count: bands.bandCount), chips: 0)
        if config.data.normalization == .dataset {
            let file = try required(statisticsCopyPath)
            statistics = try NormalizationStatistics.read(file)
            guard statistics.bands == bands, statistics.mean.count == bands.bandCount else {
                throw TrainingError("\(file): statistics of \(statistics.bands.rawValue), the pipeline reads \(bands.rawValue)")
            }
        }
        for model in models { for unit in units { _ = try required(FoldTrainer.bestPath(in: unit.folder(model))) } }
        var checkChips: [DatasetChip] = []
        if let folder = request.checkImages {
            checkChips = Array(try PlanetDataset.chips(inFolder: folder, bands: bands).prefix(request.checkCount))
            guard !checkChips.isEmpty else { throw DataError(file: folder, problem: "no chips to check with (NAME.jpg or NAME.tif)") }
        }
        return ExportInputs(models: models, units: units, decision: decision, ensemble: ensemble, statistics: statistics,
                            checkChips: checkChips)
    }

    /// One network: its best weights loaded into its backbone, written as ONNX, and its check file when asked.
    private func exportNetwork(_ model: ModelSpec, _ unit: ExportUnit, _ inputs: ExportInputs, _ request: ExportRequest,
                               checkInputs: inout CheckInputs) throws -> (ExportedNetwork, ServingDescription.Network) {
        let bands = config.data.bands
        let weights = FoldTrainer.bestPath(in: unit.folder(model))
        var fresh = model
        fresh.initWeights = nil  // the best weights replace every tensor
        let network = try FoldTrainer.makeModel(fresh, bands: bands.bandCount, observer: nil)
        do { try Checkpoint.load(into: network, from: weights) } catch { throw TrainingError(error.description) }
        let base = "\(model.name)-\(unit.label)"
        let onnx = try ONNXLowering.model(
            of: network, bands: bands.bandCount, inputSize: model.inputSize, outputs: PlanetLabels.count,
            graphName: base, producerVersion: request.producerVersion,
            docString: "Canopy \(model.backbone) (\(model.name), \(unit.label)) from \(weights): input [N, \(bands.bandCount), "
                + "\(model.inputSize), \(model.inputSize)] normalised per band, output the \(PlanetLabels.count) label probabilities; "
                + "see serving.json",
            metadata: [("pipeline", config.name), ("model", model.name), ("backbone", model.backbone), ("unit", unit.label),
                       ("bands", bands.rawValue), ("input_size", "\(model.inputSize)"), ("labels", PlanetLabels.names.joined(separator: ","))])
        let bytes = onnx.encoded()
        let file = request.out + "/" + base + ".onnx"
        try AtomicFile.write(bytes, to: file)

        var check: String?
        if !inputs.checkChips.isEmpty {
            if checkInputs[model.inputSize] == nil { checkInputs[model.inputSize] = try checkInput(inputs.checkChips, model, inputs.statistics) }
            let (input, names) = checkInputs[model.inputSize]!
            let checkFile = SafeTensorsFile(
                tensors: ["input": StoredTensor(input.swappingLeadingAxes()),
                          "probabilities": StoredTensor(network.probabilities(input).swappingLeadingAxes())],
                metadata: ["chips": names.joined(separator: ","), "network": base + ".onnx",
                           "what": "input: the chips as Canopy feeds them [N, C, H, W] (decoded, resized, normalised); "
                               + "probabilities: Canopy's output for them [N, \(PlanetLabels.count)], one pass, no TTA"])
            check = base + ".check.safetensors"
            do { try checkFile.write(to: request.out + "/" + check!) } catch { throw TrainingError(error.description) }
        }
        return (ExportedNetwork(model: model.name, unit: unit.label, file: file, bytes: bytes.count, nodes: onnx.graph.nodes.count, check: check),
                ServingDescription.Network(file: base + ".onnx", unit: unit.label, weights: weights, check: check))
    }

    private func servingDescription(_ request: ExportRequest, _ inputs: ExportInputs, _ models: [ServingDescription.Model])
        -> ServingDescription {
        let (tta, bands, statistics) = (config.tta, config.data.bands, inputs.statistics)
        return ServingDescription(
            producer: "canopy \(request.producerVersion)", pipeline: config.name, results: results,
            onnx: "opset \(ONNXModel.opsetVersion), IR version \(ONNXModel.irVersion); one file per network, input `input` "
                + "[N, C, H, W] float32 with a free batch N, output `probabilities` [N, \(PlanetLabels.count)]",
            input: .init(
                bands: bandNames(bands), bandSource: bands.rawValue, howCanopyMakesIt: preparation(bands),
                normalization: config.data.normalization == .dataset
                    ? "dataset: (x - mean[b]) / std[b] per band b, the statistics of the run's \(statistics.chips) training chips"
                    : "none: x as read, in [0, 1]",
                mean: statistics.mean, std: statistics.std, statisticsChips: statistics.chips),
            output: .init(labels: PlanetLabels.names),
            models: models,
            tta: .init(name: tta.rawValue, symmetries: tta.symmetries.map { "\($0)" },
                       how: tta == .none ? "one pass" : "each network runs once per symmetry of the input's (H, W) plane (the image "
                           + "flipped, rotated or transposed) and the probabilities are averaged"),
            ensemble: inputs.ensemble,
            ensembleHow: config.models.count > 1
                ? "each model's probabilities (its folds averaged, or its refit) combined by `ensemble.method` (mean, weighted_mean "
                    + "with `weights`, vote with `vote_thresholds`, ridge with `stacker`), in the order of `ensemble.models`"
                : "one model: its probabilities are the ensemble's",
            decision: inputs.decision.chosen,
            decisionHow: "the tags of a chip from the ensemble's probabilities: `decision.decision` is a global threshold "
                + "(tag where p >= threshold), per-label thresholds in label order, or expected_f2 (the tag set with the highest "
                + "expected F2 given the probabilities); tuned out of fold" + (inputs.decision.why.map { ": \($0)" } ?? ""),
            weatherRule: "applied when `decision.weather_rule` is true, after the decision: the weather label is the most probable "
                + "of \(PlanetLabels.weather.indices.map { PlanetLabels.names[$0] }.joined(separator: ", ")) (a tie: the first in "
                + "label order), replacing the weather labels the decision chose; a cloudy chip gets no other label; ground labels "
                + "as decided",
            checkFiles: inputs.checkChips.isEmpty ? nil : "MODEL-UNIT.check.safetensors: `input` [N, C, H, W] for "
                + "\(inputs.checkChips.count) chips of \(request.checkImages!) (names in the metadata) and Canopy's `probabilities` "
                + "[N, \(PlanetLabels.count)] for them: an ONNX runtime given `input` should give `probabilities` (scripts/onnx-check.sh)")
    }

    /// The first `chips` as the model's prediction loader makes them (decoded, resized, normalised):
    /// one batch, feature-major.
    private func checkInput(_ chips: [DatasetChip], _ model: ModelSpec, _ statistics: NormalizationStatistics) throws
        -> (input: Tensor, names: [String]) {
        let predictor = Predictor(bands: config.data.bands, statistics: statistics, inputSize: model.inputSize,
                                  batchSize: chips.count, workers: 1, onBadImage: .fail)
        guard let batch = try predictor.loader(for: chips).epoch(0).next(), batch.count == chips.count else {
            throw PredictionError("the check chips did not come in one batch")
        }
        return (batch.input, batch.names)
    }

    private func bandNames(_ bands: BandSource) -> [String] {
        switch bands {
        case .rgb: ["R", "G", "B"]
        case .rgbn: ["R", "G", "B", "N"]
        case .rgbAndRGBN: ["R (JPEG)", "G (JPEG)", "B (JPEG)", "R (TIFF)", "G (TIFF)", "B (TIFF)", "N (TIFF)"]
        }
    }

    /// How Canopy turns a chip's files into the network's input, step by step.
    private func preparation(_ bands: BandSource) -> [String] {
        var steps: [String] = []
        if bands != .rgbn {
            steps.append("JPEG: decoded by libjpeg-turbo at the smallest DCT scale (1/8, 1/4, 1/2 or 1) that keeps at least the "
                         + "model's input_size on each side; R, G, B; 8-bit values / 255")
        }
        if bands != .rgb {
            steps.append("TIFF: 16-bit B, G, R, N at full size, reordered to R, G, B, N; values / 65535"
                         + (bands == .rgbAndRGBN ? "; resampled to the JPEG's decoded size as below, then stacked after the JPEG's bands" : ""))
        }
        steps.append("the whole decoded chip resampled to input_size x input_size (PlanetData's Resample.region), separably: "
                     + "with scale = source / output pixels and k = ceil(scale), each output pixel o averages k samples at source "
                     + "coordinates (o + (s + 0.5) / k) * scale - 0.5, s = 0..k-1 (pixel centres at integers), each linearly "
                     + "interpolated between its two neighbours, clamped to the chip's edge; a decoded chip already at input_size "
                     + "is used as is. A server that decodes at full size or resizes otherwise gets slightly different inputs")
        steps.append("per band b: (x - mean[b]) / std[b]")
        steps.append("laid out [N, C, H, W] in the band order of `bands`")
        return steps
    }
}
