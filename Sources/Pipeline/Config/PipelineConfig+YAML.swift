import Backbones
import Evaluation
import Foundation
import PlanetData
import Training
import Yams

extension PipelineConfig {
    /// Reads the pipeline file at `path`, applying `overrides` (`models.0.epochs=3`) first. Every
    /// problem is one `ConfigError` naming the file, line and key.
    public static func load(_ path: String, overrides: [String] = []) throws(ConfigError) -> PipelineConfig {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigError(file: path, line: nil, path: "", problem: "cannot read: \((error as NSError).localizedDescription)")
        }
        let defaultName = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return try parse(text, file: path, defaultName: defaultName, overrides: overrides)
    }

    public static func parse(_ text: String, file: String, defaultName: String, overrides: [String] = []) throws(ConfigError) -> PipelineConfig {
        var root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw ConfigError(file: file, line: nil, path: "", problem: "empty pipeline file") }
            root = node
        } catch let error as ConfigError {
            throw error
        } catch let error as YamlError {
            throw ConfigError(file: file, line: yamlErrorLine(error), path: "", problem: "not valid YAML: \(error)")
        } catch {
            throw ConfigError(file: file, line: nil, path: "", problem: "not valid YAML: \(error)")
        }
        for override in overrides { root = try apply(override, to: root, file: file) }
        return try decode(ConfigNode(node: root, path: "", file: file), defaultName: defaultName)
    }

    static func decode(_ root: ConfigNode, defaultName: String) throws(ConfigError) -> PipelineConfig {
        let top = try root.mapping(allowed: ["name", "data", "folds", "models", "tta", "ensemble", "thresholds", "outputs", "threads"])
        guard let dataNode = top["data"] else { throw root.error("missing the data section (data: root: ...)") }
        let data = try decodeData(dataNode)
        var folds = FoldsConfig()
        if let node = top["folds"] {
            let entries = try node.mapping(allowed: ["k", "seed"])
            if let k = entries["k"] { folds.k = try k.int(in: 2...100) }
            if let seed = entries["seed"] { folds.seed = UInt64(try seed.int(in: 0...Int.max)) }
        }
        guard let modelsNode = top["models"] else { throw root.error("missing the models list") }
        let modelNodes = try modelsNode.sequence()
        guard !modelNodes.isEmpty else { throw modelsNode.error("at least one model") }
        var models: [ModelSpec] = []
        var lenientInit: [String] = []
        for node in modelNodes {
            let model = try decodeModel(node, defaultInputSize: data.inputSize)
            // Names become folder and file names (models/NAME/, predictions/NAME-oof.csv): checked here,
            // before any work, not when the first file is written.
            let nameNode = (try? node.mapping(allowed: modelKeys))?["name"] ?? node
            if let problem = modelNameProblem(model.name) { throw nameNode.error(problem) }
            if let other = models.first(where: { $0.name.lowercased() == model.name.lowercased() }) {
                throw nameNode.error(other.name == model.name
                    ? "two models named \"\(model.name)\": give one a name: key"
                    : "\"\(model.name)\" and \"\(other.name)\" differ only in case (their folders would clash on some file systems)")
            }
            if let strict = try node.mapping(allowed: modelKeys)["init_strict"], !(try strict.bool()) { lenientInit.append(model.name) }
            models.append(model)
        }
        let tta = try top["tta"].map { node throws(ConfigError) in try node.choice(TestTimeAugmentation.self) } ?? .none
        var ensemble = EnsembleConfig()
        if let node = top["ensemble"] {
            let entries = try node.mapping(allowed: ["method", "ridge_lambda"])
            if let method = entries["method"] {
                ensemble.method = try method.choice(EnsembleMethod.self).rawValue
            }
            if let lambda = entries["ridge_lambda"] { ensemble.ridgeLambda = try lambda.float(in: 0...1e6) }
        }
        var thresholds = ThresholdConfig()
        if let node = top["thresholds"] {
            let entries = try node.mapping(allowed: ["method", "fixed", "weather_rule", "minimum_support"])
            if let method = entries["method"] { thresholds.method = try method.choice(ThresholdConfig.Method.self) }
            if let fixed = entries["fixed"] { thresholds.fixed = try fixed.float(in: 0...1) }
            if let rule = entries["weather_rule"] {
                switch try rule.string().lowercased() {
                case "auto": thresholds.weatherRule = .auto
                case "true", "yes", "on": thresholds.weatherRule = .on
                case "false", "no", "off": thresholds.weatherRule = .off
                case let text: throw rule.error("expected auto, true or false, got \"\(text)\"")
                }
            }
            if let support = entries["minimum_support"] { thresholds.minimumSupport = try support.int(in: 0...Int.max) }
        }
        var outputs = OutputsConfig()
        if let node = top["outputs"] {
            let entries = try node.mapping(allowed: ["submission", "report", "sample_chips", "checkpoints"])
            if let value = entries["submission"] { outputs.submission = try value.bool() }
            if let value = entries["report"] { outputs.report = try value.bool() }
            if let value = entries["sample_chips"] { outputs.sampleChips = try value.int(in: 0...1000) }
            if let value = entries["checkpoints"] { outputs.checkpoints = try value.bool() }
        }
        let name = try top["name"]?.string() ?? defaultName
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else { throw root.error("name \"\(name)\" must be a plain folder name") }
        let threads = try top["threads"].flatMap { node throws(ConfigError) in node.isNull ? nil : try node.int(in: 1...1024) }
        return PipelineConfig(name: name, data: data, folds: folds, models: models, tta: tta, ensemble: ensemble,
                              thresholds: thresholds, outputs: outputs, threads: threads, lenientInit: lenientInit)
    }

    /// The keys of a `models:` entry.
    static let modelKeys = ["name", "backbone", "init", "init_strict", "input_size", "epochs", "batch_size", "optimizer", "schedule",
                            "augmentation", "loss", "early_stopping", "clip_gradient_norm", "on_non_finite", "seed"]

    /// Why `name` cannot name a model (nil when it can): it must be a plain file name of letters,
    /// digits, `_`, `.` and `-`, not `.` or `..`, and not `ensemble` (the ensemble's own files).
    public static func modelNameProblem(_ name: String) -> String? {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
        if name.isEmpty { return "a model name cannot be empty" }
        if let bad = name.first(where: { !allowed.contains($0) }) {
            return "model name \"\(name)\" has \"\(bad)\": use only letters, digits, _, . and - (it names files and folders)"
        }
        if name == "." || name == ".." { return "model name \"\(name)\" is not a usable folder name" }
        if name == "ensemble" { return "model name \"ensemble\" is taken by the ensemble's own predictions" }
        return nil
    }

    static func decodeData(_ node: ConfigNode) throws(ConfigError) -> DataConfig {
        let entries = try node.mapping(allowed: ["root", "bands", "input_size", "normalization", "missing_files", "on_bad_image",
                                                  "workers", "limit_train", "limit_test"])
        guard let root = entries["root"] else { throw node.error("missing root (the dataset folder)") }
        var data = DataConfig(root: try root.string())
        if let value = entries["bands"] { data.bands = try value.choice(BandSource.self) }
        if let value = entries["input_size"] { data.inputSize = try value.int(in: 32...1024) }
        if let value = entries["normalization"] { data.normalization = try value.choice(DataConfig.Normalization.self) }
        if let value = entries["missing_files"] { data.missingFiles = try value.choice(MissingFilesPolicy.self) }
        if let value = entries["on_bad_image"] { data.onBadImage = try value.choice(BadImagePolicy.self) }
        if let value = entries["workers"] { data.workers = try value.int(in: 1...64) }
        if let value = entries["limit_train"], !value.isNull { data.limitTrain = try value.int(in: 1...Int.max) }
        if let value = entries["limit_test"], !value.isNull { data.limitTest = try value.int(in: 1...Int.max) }
        return data
    }

    static func decodeModel(_ node: ConfigNode, defaultInputSize: Int) throws(ConfigError) -> ModelSpec {
        let entries = try node.mapping(allowed: modelKeys)
        guard let backboneNode = entries["backbone"] else { throw node.error("missing backbone (e.g. resnet18)") }
        let backbone = try backboneNode.string()
        guard BackboneRegistry.names.contains(backbone) else {
            throw backboneNode.error("unknown backbone \"\(backbone)\"; known: \(BackboneRegistry.names.joined(separator: ", "))")
        }
        var spec = ModelSpec(name: try entries["name"]?.string(), backbone: backbone, inputSize: defaultInputSize)
        if let value = entries["init"], !value.isNull { spec.initWeights = try value.string() }
        if let value = entries["input_size"] { spec.inputSize = try value.int(in: 32...1024) }
        let minimum = BackboneRegistry.minimumInputSize(backbone)
        if spec.inputSize < minimum {
            throw (entries["input_size"] ?? node).error("\(backbone) needs an input of at least \(minimum) px, got \(spec.inputSize)"
                                                     + (entries["input_size"] == nil ? " (from data.input_size)" : ""))
        }
        if let value = entries["epochs"] { spec.epochs = try value.int(in: 1...10_000) }
        if let value = entries["batch_size"] { spec.batchSize = try value.int(in: 1...4096) }
        if let value = entries["seed"] { spec.seed = UInt64(try value.int(in: 0...Int.max)) }
        if let value = entries["clip_gradient_norm"], !value.isNull { spec.clipGradientNorm = try value.float(in: 1e-6...1e6) }
        if let value = entries["on_non_finite"] { spec.onNonFinite = try value.choice(ModelSpec.NonFinitePolicy.self) }
        if let value = entries["optimizer"] { spec.optimizer = try decodeOptimizer(value) }
        if let value = entries["schedule"] { spec.schedule = try decodeSchedule(value) }
        if let value = entries["augmentation"] { spec.augmentation = try decodeAugmentation(value) }
        if let value = entries["loss"] {
            let loss = try value.mapping(allowed: ["kind", "positive_weights"])
            if let kind = loss["kind"] { spec.loss.kind = try kind.choice(LossSpec.Kind.self) }
            if let weights = loss["positive_weights"], !weights.isNull {
                spec.loss.positiveWeights = try weights.choice(LossSpec.PositiveWeightsChoice.self).value
            }
        }
        if let value = entries["early_stopping"], !value.isNull {
            let stopping = try value.mapping(allowed: ["metric", "patience"])
            var early = EarlyStopping()
            if let metric = stopping["metric"] { early.metric = try metric.choice(EarlyStopping.MetricChoice.self).value }
            if let patience = stopping["patience"] { early.patience = try patience.int(in: 1...1000) }
            spec.earlyStopping = early
        }
        return spec
    }

    static func decodeOptimizer(_ node: ConfigNode) throws(ConfigError) -> OptimizerSpec {
        let entries = try node.mapping(allowed: ["kind", "learning_rate", "momentum", "nesterov", "weight_decay"])
        var optimizer = OptimizerSpec()
        if let value = entries["kind"] { optimizer.kind = try value.choice(OptimizerSpec.Kind.self) }
        if let value = entries["learning_rate"] { optimizer.learningRate = try value.float(in: 1e-9...10) }
        if let value = entries["momentum"] { optimizer.momentum = try value.float(in: 0...0.999) }
        if let value = entries["nesterov"] { optimizer.nesterov = try value.bool() }
        if let value = entries["weight_decay"] { optimizer.weightDecay = try value.float(in: 0...1) }
        return optimizer
    }

    static func decodeSchedule(_ node: ConfigNode) throws(ConfigError) -> ScheduleSpec {
        let entries = try node.mapping(allowed: ["kind", "warmup_epochs", "every_epochs", "gamma", "factor", "patience"])
        guard let kindNode = entries["kind"] else { throw node.error("missing kind (constant, step, cosine, one_cycle, plateau)") }
        let kind = try kindNode.string()
        func only(_ keys: [String]) throws(ConfigError) {
            if let extra = entries.keys.sorted().first(where: { $0 != "kind" && !keys.contains($0) }) {
                throw entries[extra]!.error("not a setting of the \(kind) schedule (it takes: \(keys.isEmpty ? "nothing" : keys.joined(separator: ", ")))")
            }
        }
        switch kind {
        case "constant":
            try only([])
            return .constant
        case "step":
            try only(["every_epochs", "gamma"])
            return .step(everyEpochs: try entries["every_epochs"]?.int(in: 1...10_000) ?? 10, gamma: try entries["gamma"]?.float(in: 0...1) ?? 0.1)
        case "cosine":
            try only(["warmup_epochs"])
            return .cosine(warmupEpochs: try entries["warmup_epochs"]?.int(in: 0...10_000) ?? 1)
        case "one_cycle":
            try only([])
            return .oneCycle
        case "plateau":
            try only(["factor", "patience"])
            return .plateau(factor: try entries["factor"]?.float(in: 0...1) ?? 0.1, patience: try entries["patience"]?.int(in: 0...1000) ?? 2)
        default:
            throw kindNode.error("\"\(kind)\" is not one of constant, step, cosine, one_cycle, plateau")
        }
    }

    static func decodeAugmentation(_ node: ConfigNode) throws(ConfigError) -> Augmentation {
        if case .scalar = node.node {
            switch try node.string() {
            case "none": return .none
            case "default": return .planetDefault
            default: throw node.error("expected none, default, or a mapping of symmetries, crop, translate, brightness, contrast, gamma")
            }
        }
        let entries = try node.mapping(allowed: ["symmetries", "crop", "translate", "brightness", "contrast", "gamma"])
        var augmentation = Augmentation.none
        if let value = entries["symmetries"] { augmentation.symmetries = try value.choice(Augmentation.Symmetries.self) }
        if let value = entries["crop"], !value.isNull {
            let crop = try value.mapping(allowed: ["scale", "ratio"])
            var rectangle = Augmentation.RandomResizedCrop()
            if let scale = crop["scale"] { rectangle.scale = try scale.range(in: 0.01...1) }
            if let ratio = crop["ratio"] { rectangle.ratio = try ratio.range(in: 0.1...10) }
            augmentation.crop = rectangle
        }
        if let value = entries["translate"] { augmentation.translate = try value.int(in: 0...256) }
        if let value = entries["brightness"] { augmentation.brightness = try value.float(in: 0...1) }
        if let value = entries["contrast"] { augmentation.contrast = try value.float(in: 0...1) }
        if let value = entries["gamma"] { augmentation.gamma = try value.float(in: 0...1) }
        return augmentation
    }

    /// `a.b.0.c=value`: sets (or adds) that key in the YAML tree; list indices must exist.
    static func apply(_ override: String, to root: Node, file: String) throws(ConfigError) -> Node {
        guard let equals = override.firstIndex(of: "="), equals != override.startIndex else {
            throw ConfigError(file: "--set", line: nil, path: override, problem: "expected KEY.PATH=VALUE")
        }
        let keys = override[..<equals].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let valueText = String(override[override.index(after: equals)...])
        let value: Node
        do { value = withoutMarks(try Yams.compose(yaml: valueText) ?? Node("")) } catch {
            throw ConfigError(file: "--set", line: nil, path: keys.joined(separator: "."), problem: "value \"\(valueText)\" is not valid YAML")
        }
        func set(_ node: Node, _ remaining: ArraySlice<String>, _ walked: [String]) throws(ConfigError) -> Node {
            guard let key = remaining.first else { return value }
            let here = (walked + [key]).joined(separator: ".")
            if key.isEmpty { throw ConfigError(file: "--set", line: nil, path: here, problem: "empty key") }
            switch node {
            case .mapping(var mapping):
                let existing = mapping[key] ?? Node.mapping(Node.Mapping([]))
                mapping[key] = try set(existing, remaining.dropFirst(), walked + [key])
                return .mapping(mapping)
            case .sequence(var sequence):
                guard let index = Int(key), sequence.indices.contains(index) else {
                    throw ConfigError(file: "--set", line: nil, path: here, problem: "no list item \(key) (the list has \(sequence.count))")
                }
                sequence[index] = try set(sequence[index], remaining.dropFirst(), walked + [key])
                return .sequence(sequence)
            case .scalar:
                throw ConfigError(file: "--set", line: nil, path: walked.joined(separator: "."), problem: "is a single value, it has no key \(key)")
            }
        }
        return try set(root, keys[...], [])
    }

    /// The same tree without source positions: an override's value has no line in the pipeline file.
    static func withoutMarks(_ node: Node) -> Node {
        switch node {
        case .scalar(let scalar): return .scalar(Node.Scalar(scalar.string, scalar.tag, scalar.style))
        case .mapping(let mapping):
            return .mapping(Node.Mapping(mapping.map { (withoutMarks($0.key), withoutMarks($0.value)) }, mapping.tag, mapping.style))
        case .sequence(let sequence):
            return .sequence(Node.Sequence(sequence.map(withoutMarks), sequence.tag, sequence.style))
        }
    }

    private static func yamlErrorLine(_ error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return nil
        }
    }
}

extension LossSpec {
    /// `positive_weights: balanced` (the only choice besides none).
    enum PositiveWeightsChoice: String, CaseIterable {
        case balanced
        var value: LossSpec.PositiveWeights { .balanced }
    }
}

extension EarlyStopping {
    enum MetricChoice: String, CaseIterable {
        case f2, loss
        var value: EarlyStopping.Metric { self == .f2 ? .f2 : .loss }
    }
}
