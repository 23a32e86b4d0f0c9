import ArgumentParser
import Backbones
import Foundation
import NN
import Tensor

/// `canopy models`: every backbone with its size and cost at an input size.
struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the backbones: parameters, forward GFLOPs per image, training activation memory per image.",
        discussion: "GFLOPs count 2 per multiply-add of convolutions and dense layers. Activation memory is what a training step keeps for backward: every layer's output (float32), measured by running one image through each network."
    )

    @Option(help: "Input size in pixels (32 to 512).") var size = 128
    @Option(help: "Input bands: 3 (RGB) or 4 (RGBN).") var bands = 3
    @Flag(help: "One JSON array of objects with keys name, parameters, gflops, activation_mb.") var json = false

    func validate() throws {
        guard (32...512).contains(size) else { throw ValidationError("--size must be between 32 and 512") }
        guard bands == 3 || bands == 4 else { throw ValidationError("--bands must be 3 or 4") }
    }

    func run() throws {
        var rows: [(name: String, parameters: Int, gflops: Double, activationMB: Double)] = []
        var tooSmall: [String] = []
        for entry in BackboneRegistry.entries {
            // A network whose maps would shrink to nothing at this size is listed as such, not run.
            let minimum = BackboneRegistry.minimumInputSize(entry.name)
            guard size >= minimum else {
                tooSmall.append("\(entry.name) (from \(minimum) px)")
                continue
            }
            var random = SeededRandom(seed: 1)
            let model = entry.make(bands, 17, &random)
            let input = Tensor(shape: [bands, 1, size, size], repeating: 0.5)
            let meter = CostMeter.measure { _ = model.forward(input, mode: .training) }
            rows.append((entry.name, model.parameterCount, meter.flops / 1e9, Double(meter.activationFloats * 4) / 1e6))
        }
        if json {
            print(jsonLine(rows.map {
                BackboneJSON(name: $0.name, parameters: $0.parameters, gflops: ($0.gflops * 1000).rounded() / 1000, activationMb: ($0.activationMB * 10).rounded() / 10)
            }))
            return
        }
        print("backbones at \(size) px, \(bands) bands, 17 labels")
        print("name".padding(toLength: 12, withPad: " ", startingAt: 0) + "   parameters   GFLOPs/image   activations MB/image (training)")
        for row in rows {
            let parameters = row.parameters.formatted(.number.grouping(.automatic))
            print(row.name.padding(toLength: 12, withPad: " ", startingAt: 0)
                  + String(repeating: " ", count: max(0, 13 - parameters.count)) + parameters
                  + String(format: "   %12.3f   %10.1f", row.gflops, row.activationMB))
        }
        if !tooSmall.isEmpty { print("too small an input for: " + tooSmall.joined(separator: ", ")) }
    }
}
