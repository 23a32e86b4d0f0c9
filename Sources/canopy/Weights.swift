import ArgumentParser
import Foundation
import NN
import Tensor

/// `canopy weights ...`: weights files, PyTorch's and Canopy's.
struct Weights: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Weights files: convert a PyTorch checkpoint to safetensors, list a file's tensors, compare two files.",
        subcommands: [WeightsConvert.self, WeightsInspect.self, WeightsCompare.self]
    )
}

/// `canopy weights convert FILE.pth --out FILE.safetensors`
struct WeightsConvert: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a torch.save checkpoint (.pth, .pt) to safetensors, without Python.",
        discussion: """
            Reads the zip format of PyTorch >= 1.6 and the older stream format. The pickle inside is read by a \
            restricted reader that knows only what a state dict needs (OrderedDict, torch's tensor rebuilders, \
            float/half/bfloat16/double/long/int storages) and refuses any other global or call, naming it: \
            nothing in the file is run. A state dict nested under state_dict, model_state_dict or model is \
            preferred to the top level, DataParallel's module. prefix is stripped, entries that are not tensors are left out \
            (and listed). Half and bfloat16 tensors are written as F32 (exactly); the rest keep their type. \
            The file is written to a temporary name and renamed. models[].init reads .pth files directly; \
            converting is for other tools, or to read the weights once.
            """
    )

    @Argument(help: "The torch.save checkpoint.") var file: String
    @Option(help: "The safetensors file to write.") var out: String

    func run() throws {
        guard URL(fileURLWithPath: out).standardizedFileURL != URL(fileURLWithPath: file).standardizedFileURL else {
            throw ValidationError("--out must not be the checkpoint itself")
        }
        let checkpoint = try TorchCheckpoint.read(file)
        print(WeightsInspect.summary(checkpoint, file: file))
        var output = SafeTensorsFile(metadata: ["format": "pt"])
        var widened = 0
        for (name, stored) in checkpoint.file.tensors {
            if stored.dtype == .f16 || stored.dtype == .bf16 {
                output.tensors[name] = StoredTensor(stored.tensor, dtype: .f32)
                widened += 1
            } else {
                output.tensors[name] = stored
            }
        }
        if widened > 0 { print("  \(widened) F16/BF16 tensors written as F32 (exact)") }
        try output.write(to: out)
        let bytes = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
        print("wrote \(out): \(output.tensors.count) tensors (\(WeightsInspect.dtypeCounts(output))), \(bytes) bytes")
    }
}

/// `canopy weights inspect FILE`
struct WeightsInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List the tensors of a weights file (safetensors or torch.save): name, dtype, shape.",
        discussion: "The format is told by the file's first bytes. A torch.save file is read as models[].init reads it: the state dict found, the module. prefix stripped."
    )

    @Argument(help: "A .safetensors, .pth or .pt file.") var file: String

    func run() throws {
        let tensors: [String: StoredTensor]
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: file))
        let bytes = try handle.read(upToCount: 16) ?? Data()
        try? handle.close()
        if TorchCheckpoint.looksLikeTorch(Array(bytes)) {
            let checkpoint = try TorchCheckpoint.read(file)
            print(WeightsInspect.summary(checkpoint, file: file))
            tensors = checkpoint.file.tensors
        } else {
            let weights = try SafeTensorsFile.read(file)
            print("\(file) (safetensors): \(weights.tensors.count) tensors (\(Self.dtypeCounts(weights)))")
            tensors = weights.tensors
        }
        let width = tensors.keys.map(\.count).max() ?? 4
        for name in tensors.keys.sorted() {
            let stored = tensors[name]!
            print("  " + name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                  + stored.dtype.rawValue.padding(toLength: 4, withPad: " ", startingAt: 0) + "  \(stored.tensor.shape)")
        }
    }

    /// `F32 62, I64 20`, most frequent first.
    static func dtypeCounts(_ file: SafeTensorsFile) -> String {
        let counts = Dictionary(grouping: file.tensors.values, by: \.dtype.rawValue).mapValues(\.count)
        return counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    /// What was read, and what was found, stripped and left out to read it.
    static func summary(_ checkpoint: TorchCheckpoint, file: String) -> String {
        var lines = ["read \(file) (\(checkpoint.format.rawValue), pickle protocol \(checkpoint.pickleProtocol)): "
                     + "\(checkpoint.file.tensors.count) tensors (\(dtypeCounts(checkpoint.file)))"]
        if let key = checkpoint.nestedKey { lines.append("  the state dict is under '\(key)'") }
        if let prefix = checkpoint.strippedPrefix { lines.append("  stripped the prefix '\(prefix)' from every name") }
        if !checkpoint.ignored.isEmpty {
            let listed = checkpoint.ignored.prefix(10).joined(separator: ", ")
            let more = checkpoint.ignored.count > 10 ? " and \(checkpoint.ignored.count - 10) more" : ""
            lines.append("  left out \(checkpoint.ignored.count) entries that are not the state dict's tensors: \(listed)\(more)")
        }
        return lines.joined(separator: "\n")
    }
}

/// `canopy weights compare A B`
struct WeightsCompare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare two weights files (safetensors or torch.save) tensor by tensor: the largest difference relative to each tensor's largest value.",
        discussion: "How far two trainings agree (one process against the ranks of mpirun, one thread count against another) or a conversion kept the values: per tensor max|a - b| / max|a|, and the largest over the tensors both files have."
    )

    @Argument(help: "The first weights file.") var first: String
    @Argument(help: "The second weights file.") var second: String
    @Flag(help: "One JSON line instead of the table.") var json = false

    struct Comparison: Encodable {
        var tensors: Int
        var identical: Int
        var largestRelativeDifference: Double
        var largestIn: String?
        var onlyInFirst: [String]
        var onlyInSecond: [String]
        var shapeMismatches: [String]
    }

    func run() throws {
        let a = try SafeTensorsFile.readWeights(first), b = try SafeTensorsFile.readWeights(second)
        var comparison = Comparison(tensors: 0, identical: 0, largestRelativeDifference: 0, largestIn: nil,
                                    onlyInFirst: a.tensors.keys.filter { b.tensors[$0] == nil }.sorted(),
                                    onlyInSecond: b.tensors.keys.filter { a.tensors[$0] == nil }.sorted(), shapeMismatches: [])
        var lines: [String] = []
        for name in a.tensors.keys.sorted() {
            guard let x = a.tensors[name]?.tensor, let y = b.tensors[name]?.tensor else { continue }
            guard x.shape == y.shape else {
                comparison.shapeMismatches.append("\(name): \(x.shape) and \(y.shape)")
                continue
            }
            let scale = x.scalars.reduce(Float(0)) { max($0, abs($1)) }
            let difference = zip(x.scalars, y.scalars).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            let relative = difference == 0 ? 0 : Double(difference) / Double(max(scale, .leastNormalMagnitude))
            comparison.tensors += 1
            if difference == 0 { comparison.identical += 1 }
            if relative > comparison.largestRelativeDifference || comparison.largestIn == nil {
                (comparison.largestRelativeDifference, comparison.largestIn) = (relative, name)
            }
            lines.append("  \(name)  \(x.shape)  " + (difference == 0 ? "identical" : String(format: "max|a-b| %.3g = %.3g of max|a|", difference, relative)))
        }
        if json { return print(jsonLine(comparison)) }
        print("\(first) and \(second): \(comparison.tensors) tensors in both, \(comparison.identical) identical")
        lines.forEach { print($0) }
        for name in comparison.onlyInFirst { print("  only in \(first): \(name)") }
        for name in comparison.onlyInSecond { print("  only in \(second): \(name)") }
        for mismatch in comparison.shapeMismatches { print("  shapes differ: \(mismatch)") }
        print(String(format: "largest relative difference: %.3g", comparison.largestRelativeDifference) + (comparison.largestIn.map { " (\($0))" } ?? ""))
    }
}
