/// One Winograd algorithm F(m x m, 3x3): its tile size and its transforms, each for one channel (or
/// one channel pair) at a time; `Winograd` drives them and the GEMMs between them.
protocol WinogradScheme {
    /// m, the side of an output tile; the input tile's side α is m + 2.
    static var outputTile: Int { get }

    /// U[ξ, pair] = (G g Gᵀ)[ξ] for the 3x3 weights g of `pairs` (pair p's nine at `weights + 9p`),
    /// written at `u + ξ·stride + pair`.
    static func transformWeights(_ weights: UnsafePointer<Float>, pairs: Range<Int>, into u: UnsafeMutablePointer<Float>, stride: Int)

    /// V[ξ, t] = (Bᵀ d B)[ξ] for every tile t of one channel's images (planes from `source`, zero
    /// outside them), written at `into + ξ·stride + t`.
    static func transformInput(_ source: UnsafePointer<Float>, images: Int, height: Int, width: Int,
                               padding: (height: Int, width: Int), tilesHigh: Int, tilesWide: Int,
                               into v: UnsafeMutablePointer<Float>, stride: Int)

    /// y = Aᵀ m A + bias for every tile of one output channel (M at `m + ξ·stride + t`, output
    /// planes at `into`); tiles past the output's edge drop their outer rows and columns.
    static func transformOutput(_ m: UnsafePointer<Float>, stride: Int, bias: Float, images: Int, height: Int, width: Int,
                                tilesHigh: Int, tilesWide: Int, into y: UnsafeMutablePointer<Float>)

    /// dM[ξ, t] = (A dy Aᵀ)[ξ] for every tile of one output channel (gradient planes from `source`,
    /// zero past their edge), written at `into + ξ·stride + t`.
    static func transformOutputGradient(_ source: UnsafePointer<Float>, images: Int, height: Int, width: Int,
                                        tilesHigh: Int, tilesWide: Int, into dm: UnsafeMutablePointer<Float>, stride: Int)

    /// dx = Σ over the tiles of B dv Bᵀ, each tile's α x α block added where its input block lay (the
    /// blocks overlap by two rows and columns) and the padding cut: the adjoint of `transformInput`,
    /// for one input channel's images (dV at `dv + ξ·stride + t`, input planes written at `into`).
    static func transformInputGradient(_ dv: UnsafePointer<Float>, stride: Int, images: Int, height: Int, width: Int,
                                       padding: (height: Int, width: Int), tilesHigh: Int, tilesWide: Int,
                                       into dx: UnsafeMutablePointer<Float>)

    /// dg += Gᵀ dU G for one 3x3 weight (dU at `du + ξ·stride`).
    static func accumulateWeight(_ du: UnsafePointer<Float>, stride: Int, into g: UnsafeMutablePointer<Float>)
}

extension WinogradScheme {
    /// y = pass(Aᵀ m A): the bias in the tiles; a folded batch norm, residual or ReLU in a second pass
    /// over the channel's planes of the group, still in cache (inside the transform's loop it cost
    /// F(4x4)'s loop its registers: layer1 ran 2.6x slower). The pass's residual is at the output's offsets.
    @inline(__always)
    static func transformOutput(_ m: UnsafePointer<Float>, stride: Int, pass: OutputPass, images: Int, height: Int, width: Int,
                                tilesHigh: Int, tilesWide: Int, into y: UnsafeMutablePointer<Float>) {
        transformOutput(m, stride: stride, bias: pass.isPlainBias ? pass.shift : 0, images: images, height: height, width: width,
                        tilesHigh: tilesHigh, tilesWide: tilesWide, into: y)
        if !pass.isPlainBias { pass.apply(to: y, count: images * height * width) }
    }
}

extension WinogradScheme {
    /// α², the transform positions ξ, one GEMM each.
    static var positions: Int { (outputTile + 2) * (outputTile + 2) }

    /// Calls `body(planes, planeWidth, planeSize)` with zeroed planes, one per image, that hold every
    /// tile's α x α input block (the padded input and the overhang: tile (ty, tx) at row m·ty, column
    /// m·tx), then copies each plane's image part, the padding cut, to the images' `height` x `width`
    /// planes at `dx`.
    @inline(__always)
    static func withTilePlanes(images: Int, height h: Int, width w: Int, padding: (height: Int, width: Int), tilesHigh: Int,
                               tilesWide: Int, into dx: UnsafeMutablePointer<Float>,
                               _ body: (UnsafeMutablePointer<Float>, Int, Int) -> Void) {
        let planeWidth = outputTile * tilesWide + 2, planeSize = (outputTile * tilesHigh + 2) * planeWidth
        withUnsafeTemporaryAllocation(of: Float.self, capacity: images * planeSize) { buffer in
            let planes = buffer.baseAddress!
            planes.initialize(repeating: 0, count: images * planeSize)
            body(planes, planeWidth, planeSize)
            for image in 0..<images {
                for y in 0..<h {
                    let source = planes + image * planeSize + (y + padding.height) * planeWidth + padding.width
                    let target = dx + (image * h + y) * w
                    for x in 0..<w { target[x] = source[x] }
                }
            }
        }
    }
}
