// swift-tools-version: 6.0
// Canopy: Planet chips in, a ranked Kaggle submission and a per-label report out.
// Layers, each depending only on those below it (see docs/ARCHITECTURE.md):
//   canopy (CLI) → Pipeline → Training → Backbones → NN → Tensor → CBLAS, CMemory
//                           ↘ ONNX (`canopy export`: networks as ONNX files) → NN, Tensor
//                                      ↘ Evaluation → PlanetData → ImageIO → CShims → CJPEG, CPNG, CTIFF
//                → Synthetic (`canopy synth`) → PlanetData, ImageIO, Tensor
//                → Benchmarks (ImageIO, NN, Backbones, PlanetData, CJPEGReference)
//   Support (atomic files, folders, locks, crash points) under NN, ImageIO, PlanetData and up.
//   Cluster (the ranks of an mpirun job, over CMPI: Open MPI) under Training, Pipeline, Benchmarks and the CLI.
import PackageDescription

let package = Package(
    name: "Canopy",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "canopy", targets: ["canopy"]),
        .library(name: "ImageIO", targets: ["ImageIO"]),
        .library(name: "Tensor", targets: ["Tensor"]),
        .library(name: "NN", targets: ["NN"]),
        .library(name: "Backbones", targets: ["Backbones"]),
        .library(name: "PlanetData", targets: ["PlanetData"]),
        .library(name: "Synthetic", targets: ["Synthetic"]),
        .library(name: "Evaluation", targets: ["Evaluation"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // C libraries, each a module map + shim header resolved by pkg-config.
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CTIFF", pkgConfig: "libtiff-4", providers: [.apt(["libtiff-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        // The little C Swift cannot write: setjmp frames (libjpeg, libpng), variadic tags and va_list handlers (libtiff).
        .target(name: "CShims", dependencies: ["CJPEG", "CPNG", "CTIFF"]),
        // A plain libjpeg-turbo decode loop: the yardstick `canopy bench decode` measures against.
        .target(name: "CJPEGReference", dependencies: ["CJPEG"]),

        // Files: whole reads, crash-safe writes (temporary name, fsync, rename).
        .target(name: "Support"),
        // The processes of an `mpirun` job (Open MPI): rank, size, collectives with timeouts; a world of one otherwise.
        .target(name: "Cluster", dependencies: ["CMPI"]),
        .target(name: "ImageIO", dependencies: ["CShims", "Support"]),
        // glibc's allocator tuning (mallopt), which Swift's Glibc module does not export.
        .target(name: "CMemory"),
        .target(name: "Tensor", dependencies: ["CBLAS", "CMemory"]),
        .target(name: "NN", dependencies: ["Tensor", "Support"]),
        .target(name: "Backbones", dependencies: ["NN", "Tensor"]),
        // Labels, the competition layout, folds, statistics, augmentation, the streaming loader.
        .target(name: "PlanetData", dependencies: ["ImageIO", "Tensor", "Support"]),
        // Planet-like chips painted from label sets drawn with the real frequencies (`canopy synth`).
        .target(name: "Synthetic", dependencies: ["PlanetData", "ImageIO", "Tensor", "Support"]),
        // F2 and friends, thresholds, ensembling, submissions, reports.
        .target(name: "Evaluation", dependencies: ["PlanetData", "ImageIO", "Support"]),
        // Training one model on one fold (resumable), and prediction with test-time augmentation.
        .target(name: "Training", dependencies: ["Backbones", "NN", "Tensor", "PlanetData", "Evaluation", "Cluster"]),
        // A network as an ONNX file: a protobuf writer, ONNX's messages, the lowering of each layer kind.
        .target(name: "ONNX", dependencies: ["NN", "Tensor"]),
        // Pipeline files, stages with their cache, the runner, progress, `canopy export`.
        .target(name: "Pipeline", dependencies: ["Training", "Evaluation", "PlanetData", "Backbones", "ONNX", "Support", "Cluster",
                                                 .product(name: "Yams", package: "Yams")]),
        .target(name: "Benchmarks", dependencies: ["ImageIO", "Tensor", "NN", "Backbones", "PlanetData", "CJPEGReference", "Support", "Cluster"]),
        .executableTarget(
            name: "canopy",
            dependencies: [
                "ImageIO", "Tensor", "NN", "Backbones", "PlanetData", "Synthetic", "Pipeline", "Benchmarks", "Support", "Cluster",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // libFuzzer entry points; built only by scripts/fuzz.sh with -sanitize=fuzzer,address.
        .target(name: "CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver", "Support"]),
        .executableTarget(name: "FuzzJPEG", dependencies: ["ImageIO", "FuzzSupport"]),
        .executableTarget(name: "FuzzPNG", dependencies: ["ImageIO", "FuzzSupport"]),
        .executableTarget(name: "FuzzTIFF", dependencies: ["ImageIO", "FuzzSupport"]),
        .executableTarget(name: "FuzzLabelCSV", dependencies: ["PlanetData", "FuzzSupport"]),
        .executableTarget(name: "FuzzSampleSubmission", dependencies: ["PlanetData", "Evaluation", "FuzzSupport"]),
        .executableTarget(name: "FuzzFolds", dependencies: ["PlanetData", "FuzzSupport"]),
        .executableTarget(name: "FuzzPipeline", dependencies: ["Pipeline", "FuzzSupport"]),
        .executableTarget(name: "FuzzSafeTensors", dependencies: ["NN", "Tensor", "FuzzSupport"]),
        .executableTarget(name: "FuzzTorchCheckpoint", dependencies: ["NN", "Tensor", "FuzzSupport"]),

        .testTarget(name: "SupportTests", dependencies: ["Support"]),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster"]),
        .testTarget(name: "ImageIOTests", dependencies: ["ImageIO"], exclude: ["Fixtures"]),
        .testTarget(name: "TensorTests", dependencies: ["Tensor"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "Tensor"], exclude: ["Fixtures"]),
        .testTarget(name: "BackbonesTests", dependencies: ["Backbones", "NN", "Tensor", "ImageIO"], exclude: ["Fixtures"]),
        .testTarget(name: "PlanetDataTests", dependencies: ["PlanetData", "ImageIO", "Tensor"]),
        .testTarget(name: "SyntheticTests", dependencies: ["Synthetic", "PlanetData", "ImageIO", "Tensor"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "PlanetData", "ImageIO", "Tensor"]),
        .testTarget(name: "ONNXTests", dependencies: ["ONNX", "NN", "Tensor", "Backbones"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "PlanetData", "NN", "Tensor"], exclude: ["Fixtures"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "Training", "PlanetData", "Evaluation"], exclude: ["Fixtures"]),
        .testTarget(name: "CanopyCLITests", dependencies: ["canopy"]),
    ]
)
