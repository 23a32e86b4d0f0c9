/// Winograd convolution for 3x3 stride-1 layers (Lavin and Gray, "Fast Algorithms for Convolutional
/// Neural Networks", 2016). F(m x m, 3x3) computes an m x m block of output from an (m + 2)² block of
/// input with (m + 2)² multiplications per (input, output) channel pair instead of 9m²: 2.25x fewer
/// than the direct GEMM for F(2x2, 3x3), 4x fewer for F(4x4, 3x3), at the price of cheap transforms.
///
/// Shapes, in the engine's feature-major layout, for α = m + 2 and T tiles (N images x ⌈Ho/m⌉ x ⌈Wo/m⌉):
///   U[α², Co, Ci] = G g Gᵀ         per (co, ci): the 3x3 weight g to α x α
///   V[α², Ci, T]  = Bᵀ d B         per (ci, tile): the α x α input block d (zero outside the image)
///   M[ξ] = U[ξ] × V[ξ]             α² GEMMs [Co, Ci] x [Ci, T]
///   y[Co, N, Ho, Wo] ← Aᵀ M A + b  per (co, tile): the α x α block of M to m x m of output
/// and the weight gradient, the adjoint (y is linear in g):
///   dM[α², Co, T] = A dy Aᵀ;  dU[ξ] = Σ over tile groups dM[ξ] × V[ξ]ᵀ;  dg += Gᵀ dU G
/// Tiles are processed in groups sized so V and M stay near the cache (`targetGroupFloats`). Where it
/// applies, its variant and its sizes are `EngineSettings.current.winograd`.
/// Transforms run on every core (split by channel); the GEMMs on OpenBLAS's threads. The matrices
/// and transforms of each algorithm are in `WinogradF2x2` and `WinogradF4x4`.
public enum Winograd {
    /// The two algorithms: F(2x2, 3x3) and F(4x4, 3x3).
    public enum Variant: String, Sendable, CaseIterable {
        case f2x2, f4x4
    }

    /// The forward pass with U already made (`prepare`): a layer in inference keeps it across batches.
    /// `epilogue` (in place of a bias) is applied in the output transform.
    public static func forward(_ x: Tensor, prepared: PreparedWeights, bias: Tensor?, epilogue: ConvolutionEpilogue? = nil,
                               geometry g: ConvolutionGeometry, workspace: inout [Float]) -> Tensor {
        forward(x, prepared: prepared, bias: bias, epilogue: epilogue, geometry: g, keepingInto: nil, workspace: &workspace)
    }

    /// The forward pass under `prepared`'s variant, V written at `keepingInto` when given.
    private static func forward(_ x: Tensor, prepared: PreparedWeights, bias: Tensor?, epilogue: ConvolutionEpilogue? = nil,
                                geometry g: ConvolutionGeometry, keepingInto v: UnsafeMutablePointer<Float>?,
                                workspace: inout [Float]) -> Tensor {
        precondition(prepared.geometry == g, "Winograd weights prepared for another convolution")
        switch prepared.variant {
        case .f2x2:
            return forward(WinogradF2x2.self, x, u: prepared.u, bias: bias, epilogue: epilogue, geometry: g, keeping: v, workspace: &workspace)
        case .f4x4:
            return forward(WinogradF4x4.self, x, u: prepared.u, bias: bias, epilogue: epilogue, geometry: g, keeping: v, workspace: &workspace)
        }
    }

    /// The forward pass of a training step that keeps V, the transformed input, for the weight
    /// gradient (`accumulateWeightGradient(_:input:kept:...)`), which then skips transforming the input
    /// again. `kept`'s buffer is reused from step to step.
    public static func forward(_ x: Tensor, prepared: PreparedWeights, bias: Tensor?, geometry g: ConvolutionGeometry,
                               keeping kept: inout KeptInput?, workspace: inout [Float]) -> Tensor {
        let count = prepared.variant == .f2x2 ? keptCount(WinogradF2x2.self, x, geometry: g) : keptCount(WinogradF4x4.self, x, geometry: g)
        var buffer = kept?.v ?? []
        kept = nil
        // Every group's V is written whole by the input transform.
        if buffer.count != count { buffer = [Float](unsafeUninitializedCapacity: count) { $1 = count } }
        let y = buffer.withUnsafeMutableBufferPointer { v in
            forward(x, prepared: prepared, bias: bias, geometry: g, keepingInto: v.baseAddress, workspace: &workspace)
        }
        kept = KeptInput(variant: prepared.variant, geometry: g, inputShape: x.shape, input: address(of: x),
                         groupFloats: EngineSettings.current.winograd.targetGroupFloats,
                         v: buffer)
        return y
    }

    /// V of every tile group of a training forward pass, and what it was made for.
    public struct KeptInput {
        let variant: Variant
        let geometry: ConvolutionGeometry
        public let inputShape: [Int]
        /// Where the input's scalars were: the caller holds the input until its backward pass (as a
        /// layer does), so another input cannot sit at the same address meanwhile.
        let input: UnsafeRawPointer?
        let groupFloats: Int
        var v: [Float]

        /// Whether the weight gradient of `x` under `g` can use it: the same input (shape and storage),
        /// convolution, variant and grouping (the groups are laid out one after another).
        func matches(_ x: Tensor, geometry g: ConvolutionGeometry, settings: EngineSettings.WinogradSettings) -> Bool {
            input == address(of: x) && matches(shape: x.shape, geometry: g, settings: settings)
        }

        /// The same without the input's storage, for a layer that let its input go and keeps this V
        /// from its own forward pass to its backward pass (`Convolution.needsInput(keeping:)`).
        func matches(shape: [Int], geometry g: ConvolutionGeometry, settings: EngineSettings.WinogradSettings) -> Bool {
            inputShape == shape && geometry == g && isCurrent(under: settings)
        }

        /// Made under `settings`' variant and grouping (its own shape and convolution aside).
        func isCurrent(under settings: EngineSettings.WinogradSettings) -> Bool {
            variant == settings.variant && groupFloats == settings.targetGroupFloats
        }
    }

    /// The address of a tensor's scalars (an identity while the tensor is held and not mutated).
    private static func address(of x: Tensor) -> UnsafeRawPointer? {
        x.scalars.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
    }

    /// Floats of V for every tile of `x`.
    private static func keptCount<S: WinogradScheme>(_ scheme: S.Type, _ x: Tensor, geometry g: ConvolutionGeometry) -> Int {
        let (ho, wo) = g.outputSize(height: x.shape[2], width: x.shape[3])
        let tiles = x.shape[1] * ((ho + S.outputTile - 1) / S.outputTile) * ((wo + S.outputTile - 1) / S.outputTile)
        return S.positions * g.inChannels * tiles
    }

    /// A convolution's weights transformed by the current variant: U = G g Gᵀ, [α², Co, Ci].
    public struct PreparedWeights: Sendable {
        public let variant: Variant
        public let geometry: ConvolutionGeometry
        var u: [Float]
        public var byteCount: Int { u.count * MemoryLayout<Float>.stride }
    }

    /// U for `weight` ([Co, Ci, 3, 3] of the convolution `g`), written into `reusing`'s buffer when
    /// it has the size (a layer re-preparing after every optimiser step allocates nothing); `reusing`
    /// is emptied.
    public static func prepare(_ weight: Tensor, for g: ConvolutionGeometry, reusing old: inout PreparedWeights?) -> PreparedWeights {
        precondition(g.kernel == (3, 3) && weight.count == g.outChannels * g.inChannels * 9, "Winograd weight \(weight.shape)")
        var u = old?.u ?? []
        old = nil
        let variant = EngineSettings.current.winograd.variant
        switch variant {
        case .f2x2: transformWeights(WinogradF2x2.self, weight, geometry: g, into: &u)
        case .f4x4: transformWeights(WinogradF4x4.self, weight, geometry: g, into: &u)
        }
        return PreparedWeights(variant: variant, geometry: g, u: u)
    }

    /// `prepared` when it was made for `g` by the current variant, else U made from `weight` now.
    public static func current(_ prepared: PreparedWeights?, weight: Tensor, for g: ConvolutionGeometry) -> PreparedWeights {
        let variant = EngineSettings.current.winograd.variant
        return prepared.flatMap { $0.variant == variant && $0.geometry == g ? $0 : nil } ?? prepare(weight, for: g)
    }

    /// U for `weight` in a new buffer.
    public static func prepare(_ weight: Tensor, for g: ConvolutionGeometry) -> PreparedWeights {
        var none: PreparedWeights?
        return prepare(weight, for: g, reusing: &none)
    }

    /// What `backward` computes: the input gradient, the weight gradient or both.
    public struct Gradients: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let input = Gradients(rawValue: 1), weight = Gradients(rawValue: 2)
    }

    /// The backward pass, for convolutions where `applies` holds, as the adjoint of the forward pass in
    /// one walk over the tile groups that makes dM = A dy Aᵀ once for both gradients:
    /// - `.weight`: dU[ξ] = Σ dM[ξ] V[ξ]ᵀ, then `weightGradient` += Gᵀ dU G. V comes from `kept`
    ///   when it was made for this input (`forward(_:prepared:bias:geometry:keeping:workspace:)`),
    ///   else the input is transformed again.
    /// - `.input`: dV[ξ] = U[ξ]ᵀ dM[ξ], then dx = Σ B dV Bᵀ over the tiles, their blocks' overlaps
    ///   added. U is `prepared` when made for this convolution by the current variant, else made from
    ///   `weight`. (The transposed convolution would transform dy as its input and need U of the
    ///   flipped weights besides.)
    /// Returns dx, or an empty tensor without `.input`.
    /// `x` nil (`inputShape` its shape): the input was let go, and `kept` holds its V (`.weight`).
    public static func backward(_ dy: Tensor, input x: Tensor?, inputShape: [Int], weight: Tensor, prepared: PreparedWeights?,
                                kept: KeptInput?, geometry g: ConvolutionGeometry, computing gradients: Gradients,
                                weightGradient: inout Tensor, workspace: inout [Float]) -> Tensor {
        let settings = EngineSettings.current.winograd
        func usable(_ kept: KeptInput) -> Bool {
            if let x { kept.matches(x, geometry: g, settings: settings) } else { kept.matches(shape: inputShape, geometry: g, settings: settings) }
        }
        let usableV = gradients.contains(.weight) ? kept.flatMap { usable($0) ? $0.v : nil } : nil
        precondition(x != nil || usableV != nil || !gradients.contains(.weight), "Winograd's weight gradient without the input or its V")
        let u = gradients.contains(.input)
            ? current(prepared, weight: weight, for: g).u : nil
        func run(_ dx: UnsafeMutablePointer<Float>?) {
            (usableV ?? []).withUnsafeBufferPointer { v in
                (u ?? []).withUnsafeBufferPointer { up in
                    weightGradient.scalars.withUnsafeMutableBufferPointer { dw in
                        let keptV = usableV == nil ? nil : v.baseAddress, weights = dx == nil ? nil : up.baseAddress
                        let dw = gradients.contains(.weight) ? dw.baseAddress : nil
                        switch settings.variant {
                        case .f2x2: backward(WinogradF2x2.self, dy, input: x, inputShape: inputShape, u: weights, keptV: keptV, geometry: g, weightGradient: dw,
                                             dx: dx, workspace: &workspace)
                        case .f4x4: backward(WinogradF4x4.self, dy, input: x, inputShape: inputShape, u: weights, keptV: keptV, geometry: g, weightGradient: dw,
                                             dx: dx, workspace: &workspace)
                        }
                    }
                }
            }
        }
        guard gradients.contains(.input) else {
            run(nil)
            return Tensor(shape: [0])
        }
        // Every image plane of every channel is written whole by the adjoint transform.
        return Tensor(shape: inputShape) { dx in run(dx.baseAddress!) }
    }

    /// Tiles and tile groups of one convolution under scheme S.
    private struct Plan {
        var tilesHigh: Int, tilesWide: Int, imagesPerGroup: Int
        var tilesPerImage: Int { tilesHigh * tilesWide }
        var groupTiles: Int { imagesPerGroup * tilesPerImage }

        /// Groups of about `groupFloats` of V + M (the settings' `targetGroupFloats` unless given).
        init<S: WinogradScheme>(_: S.Type, geometry g: ConvolutionGeometry, images n: Int, outputHeight ho: Int, outputWidth wo: Int,
                                groupFloats: Int = EngineSettings.current.winograd.targetGroupFloats) {
            tilesHigh = (ho + S.outputTile - 1) / S.outputTile
            tilesWide = (wo + S.outputTile - 1) / S.outputTile
            let perImage = S.positions * (g.inChannels + g.outChannels) * tilesHigh * tilesWide
            imagesPerGroup = max(1, min(n, groupFloats / max(1, perImage)))
        }
    }

    /// `keeping`: where V goes, the groups' one after another (else into the workspace).
    static func forward<S: WinogradScheme>(_ scheme: S.Type, _ x: Tensor, u: [Float], bias: Tensor?, epilogue: ConvolutionEpilogue?,
                                           geometry g: ConvolutionGeometry, keeping: UnsafeMutablePointer<Float>?,
                                           workspace: inout [Float]) -> Tensor {
        precondition(epilogue == nil || bias == nil, "a convolution's bias goes into its epilogue's shift")
        let settings = EngineSettings.current
        let ci = g.inChannels, co = g.outChannels, positions = S.positions
        let n = x.shape[1], h = x.shape[2], w = x.shape[3]
        let (ho, wo) = g.outputSize(height: h, width: w)
        // Without V to keep (inference), each worker can take its own images through the whole pass,
        // where U is small enough to share its core's cache with a group (every group reads all of it).
        let workers = keeping == nil && settings.winograd.groupsAcrossWorkers && u.count <= settings.winograd.workerGroupFloats
            ? min(settings.workers, n) : 1
        let plan = Plan(S.self, geometry: g, images: n, outputHeight: ho, outputWidth: wo,
                        groupFloats: workers > 1 ? settings.winograd.workerGroupFloats : settings.winograd.targetGroupFloats)
        let groupFloats = positions * (ci + co) * plan.groupTiles
        if workspace.count < workers * groupFloats { workspace = [Float](repeating: 0, count: workers * groupFloats) }
        epilogue?.check([co, n, ho, wo])
        return Tensor(shape: [co, n, ho, wo]) { yp in
            ConvolutionEpilogue.withResidual(of: epilogue) { residual in
                x.scalars.withUnsafeBufferPointer { xp in
                    u.withUnsafeBufferPointer { up in
                        workspace.withUnsafeMutableBufferPointer { buffer in
                            // The groups of `images`, through V and M at `scratch` (V at `keeping` when given).
                            func groups(_ images: Range<Int>, scratch: UnsafeMutablePointer<Float>) {
                                var first = images.lowerBound
                                while first < images.upperBound {
                                    let count = min(plan.imagesPerGroup, images.upperBound - first)
                                    let v = keeping.map { $0 + positions * ci * first * plan.tilesPerImage } ?? scratch
                                    forwardGroup(S.self, xp.baseAddress!, u: up.baseAddress!, v: v, m: scratch + positions * ci * plan.groupTiles,
                                                 bias: bias, epilogue: epilogue, residual: residual, geometry: g, batch: n, height: h, width: w,
                                                 images: first..<(first + count), plan: plan, into: yp.baseAddress!)
                                    first += count
                                }
                            }
                            guard workers > 1 else { return groups(0..<n, scratch: buffer.baseAddress!) }
                            // Each worker's group stays in its core's cache from the input transform to the
                            // output transform; the steps inside run inline, OpenBLAS on one thread.
                            let inline = settings.with { $0.workers = 1 }
                            BLAS.onEachWorker { worker in
                                guard worker < workers else { return }  // fewer images than workers
                                EngineSettings.with(inline) {
                                    groups((n * worker / workers)..<(n * (worker + 1) / workers),
                                           scratch: buffer.baseAddress! + worker * groupFloats)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// One tile group of the forward pass: V = B x Bᵀ of `images` into `v`, M[ξ] = U[ξ] V[ξ] into `m`,
    /// then y = A M Aᵀ with the bias or the epilogue, each step split across the workers of the settings.
    private static func forwardGroup<S: WinogradScheme>(_ scheme: S.Type, _ x: UnsafePointer<Float>, u: UnsafePointer<Float>,
                                                        v: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
                                                        bias: Tensor?, epilogue: ConvolutionEpilogue?, residual: UnsafePointer<Float>?,
                                                        geometry g: ConvolutionGeometry, batch n: Int, height h: Int, width w: Int,
                                                        images: Range<Int>, plan: Plan, into y: UnsafeMutablePointer<Float>) {
        let ci = g.inChannels, co = g.outChannels, positions = S.positions
        let (ho, wo) = g.outputSize(height: h, width: w)
        let tiles = images.count * plan.tilesPerImage, plane = ho * wo
        transformInputs(S.self, x, geometry: g, batch: n, height: h, width: w, images: images, plan: plan, into: v)
        forEachPosition(positions) { xi in
            BLAS.gemm(m: co, n: tiles, k: ci, a: u + xi * co * ci, lda: ci,
                      b: v + xi * ci * tiles, ldb: tiles, c: m + xi * co * tiles, ldc: tiles)
        }
        Parallel.forEachChunk(co, costPerItem: tiles * 2 * positions) { channels in
            for o in channels {
                let offset = (o * n + images.lowerBound) * plane
                let pass = epilogue?.pass(channel: o, offset: offset, residual: residual) ?? .bias(bias?.scalars[o] ?? 0)
                S.transformOutput(m + o * tiles, stride: co * tiles, pass: pass,
                                  images: images.count, height: ho, width: wo, tilesHigh: plan.tilesHigh,
                                  tilesWide: plan.tilesWide, into: y + offset)
            }
        }
    }

    /// `u` (U, for dx) and `dx` are given together; `keptV`: V of every group, one after another, from
    /// the forward pass (else transformed here when `weightGradient` is given).
    static func backward<S: WinogradScheme>(_ scheme: S.Type, _ dy: Tensor, input x: Tensor?, inputShape: [Int], u: UnsafePointer<Float>?,
                                            keptV: UnsafePointer<Float>?, geometry g: ConvolutionGeometry,
                                            weightGradient: UnsafeMutablePointer<Float>?, dx: UnsafeMutablePointer<Float>?,
                                            workspace: inout [Float]) {
        let ci = g.inChannels, co = g.outChannels, positions = S.positions
        let n = inputShape[1], h = inputShape[2], w = inputShape[3]
        let x = x ?? Tensor(shape: [0])  // read only to transform V again, which `keptV` then replaces
        let (ho, wo) = g.outputSize(height: h, width: w)
        precondition(dy.shape == [co, n, ho, wo], "conv output gradient \(dy.shape)")
        precondition((u == nil) == (dx == nil), "Winograd's input gradient needs U")
        let plan = Plan(S.self, geometry: g, images: n, outputHeight: ho, outputWidth: wo)
        let pairs = co * ci, sums = weightGradient == nil ? 0 : positions * pairs
        let needed = sums + positions * (ci + co) * plan.groupTiles
        if workspace.count < needed { workspace = [Float](repeating: 0, count: needed) }
        let plane = ho * wo
        workspace.withUnsafeMutableBufferPointer { buffer in
            // `scratch` holds V when it is transformed here, and dV: position ξ's GEMMs read V[ξ] before
            // writing dV[ξ] over it.
            let du = buffer.baseAddress!, scratch = du + sums, dm = scratch + positions * ci * plan.groupTiles
            x.scalars.withUnsafeBufferPointer { xp in
                dy.scalars.withUnsafeBufferPointer { dyp in
                    var first = 0
                    while first < n {
                        let count = min(plan.imagesPerGroup, n - first), tiles = count * plan.tilesPerImage
                        Parallel.forEachChunk(co, costPerItem: tiles * 2 * positions) { channels in
                            for o in channels {
                                S.transformOutputGradient(dyp.baseAddress! + (o * n + first) * plane, images: count, height: ho,
                                                          width: wo, tilesHigh: plan.tilesHigh, tilesWide: plan.tilesWide,
                                                          into: dm + o * tiles, stride: co * tiles)
                            }
                        }
                        let v: UnsafePointer<Float>? = if weightGradient == nil {
                            nil
                        } else if let keptV {
                            keptV + positions * ci * first * plan.tilesPerImage
                        } else {
                            transformed(S.self, xp.baseAddress!, geometry: g, batch: n, height: h, width: w,
                                        images: first..<(first + count), plan: plan, into: scratch)
                        }
                        forEachPosition(positions) { xi in
                            if let v {
                                BLAS.gemm(transposeB: true, m: co, n: ci, k: tiles, a: dm + xi * co * tiles, lda: tiles,
                                          b: v + xi * ci * tiles, ldb: tiles, beta: first == 0 ? 0 : 1, c: du + xi * pairs, ldc: ci)
                            }
                            if let u {
                                BLAS.gemm(transposeA: true, m: ci, n: tiles, k: co, a: u + xi * co * ci, lda: ci,
                                          b: dm + xi * co * tiles, ldb: tiles, c: scratch + xi * ci * tiles, ldc: tiles)
                            }
                        }
                        if let dx {
                            Parallel.forEachChunk(ci, costPerItem: tiles * 3 * positions) { channels in
                                for c in channels {
                                    S.transformInputGradient(scratch + c * tiles, stride: ci * tiles, images: count, height: h, width: w,
                                                             padding: g.padding, tilesHigh: plan.tilesHigh, tilesWide: plan.tilesWide,
                                                             into: dx + (c * n + first) * h * w)
                                }
                            }
                        }
                        first += count
                    }
                }
            }
            guard let weightGradient else { return }
            Parallel.forEachChunk(pairs, costPerItem: 4 * positions) { range in
                for pair in range { S.accumulateWeight(du + pair, stride: pairs, into: weightGradient + pair * 9) }
            }
        }
    }

    /// body(ξ) for every position: split across the workers with OpenBLAS on one thread each
    /// (`gemmsAcrossWorkers`), else in turn.
    private static func forEachPosition(_ positions: Int, _ body: (Int) -> Void) {
        let settings = EngineSettings.current
        let workers = settings.workers
        guard settings.winograd.gemmsAcrossWorkers && workers > 1 else {
            for xi in 0..<positions { body(xi) }
            return
        }
        BLAS.onEachWorker { worker in
            for xi in (positions * worker / workers)..<(positions * (worker + 1) / workers) { body(xi) }
        }
    }

    /// U = G g Gᵀ for every (co, ci) pair: [α², Co, Ci], into `u` (resized when it is not that size).
    static func transformWeights<S: WinogradScheme>(_ scheme: S.Type, _ weight: Tensor, geometry g: ConvolutionGeometry,
                                                    into u: inout [Float]) {
        let pairs = g.outChannels * g.inChannels
        let count = S.positions * pairs
        if u.count != count { u = [Float](unsafeUninitializedCapacity: count) { $1 = count } }  // written whole below
        weight.scalars.withUnsafeBufferPointer { wp in
            u.withUnsafeMutableBufferPointer { up in
                Parallel.forEachChunk(pairs, costPerItem: 4 * S.positions) { range in
                    S.transformWeights(wp.baseAddress!, pairs: range, into: up.baseAddress!, stride: pairs)
                }
            }
        }
    }

    /// `transformInputs` into `v`, returned.
    private static func transformed<S: WinogradScheme>(_ scheme: S.Type, _ x: UnsafePointer<Float>, geometry g: ConvolutionGeometry,
                                                       batch n: Int, height h: Int, width w: Int, images: Range<Int>, plan: Plan,
                                                       into v: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        transformInputs(S.self, x, geometry: g, batch: n, height: h, width: w, images: images, plan: plan, into: v)
        return UnsafePointer(v)
    }

    /// V for the selected images of every input channel, split by channel.
    private static func transformInputs<S: WinogradScheme>(_ scheme: S.Type, _ x: UnsafePointer<Float>, geometry g: ConvolutionGeometry,
                                                           batch n: Int, height h: Int, width w: Int, images: Range<Int>, plan: Plan,
                                                           into v: UnsafeMutablePointer<Float>) {
        let ci = g.inChannels, tiles = images.count * plan.tilesPerImage
        Parallel.forEachChunk(ci, costPerItem: tiles * 3 * S.positions) { channels in
            for c in channels {
                S.transformInput(x + (c * n + images.lowerBound) * h * w, images: images.count, height: h, width: w,
                                 padding: g.padding, tilesHigh: plan.tilesHigh, tilesWide: plan.tilesWide,
                                 into: v + c * tiles, stride: ci * tiles)
            }
        }
    }
}
