import Tensor

/// The convolution as its definition's loops, in Double: the reference every fast path is checked against.
enum ConvolutionReference {
    static func random(_ shape: [Int], _ rng: inout SeededRandom) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.nextUniform() * 2 - 1 })
    }

    /// y[o, n, oy, ox] = b[o] + Σ_{c, ky, kx} w[o, c, ky, kx] · x[c, n, oy·s − p + ky, ox·s − p + kx]
    static func forward(_ x: Tensor, _ w: Tensor, _ b: Tensor?, _ g: ConvolutionGeometry) -> Tensor {
        let (ci, n, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (ho, wo) = g.outputSize(height: h, width: wd)
        var y = Tensor(shape: [g.outChannels, n, ho, wo])
        for o in 0..<g.outChannels { for img in 0..<n { for oy in 0..<ho { for ox in 0..<wo {
            var sum = Double(b?.scalars[o] ?? 0)
            for c in 0..<ci { for ky in 0..<g.kernel.height { for kx in 0..<g.kernel.width {
                let iy = oy * g.stride.height - g.padding.height + ky, ix = ox * g.stride.width - g.padding.width + kx
                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                let wi = ((o * ci + c) * g.kernel.height + ky) * g.kernel.width + kx
                sum += Double(w.scalars[wi]) * Double(x.scalars[((c * n + img) * h + iy) * wd + ix])
            } } }
            y.scalars[((o * n + img) * ho + oy) * wo + ox] = Float(sum)
        } } } }
        return y
    }

    /// The adjoint of the forward above, loop for loop.
    static func backward(_ dy: Tensor, _ x: Tensor, _ w: Tensor, _ g: ConvolutionGeometry) -> (dx: Tensor, dw: Tensor, db: Tensor) {
        let (ci, n, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (ho, wo) = g.outputSize(height: h, width: wd)
        var dx = Tensor(shape: x.shape), dw = Tensor(shape: w.shape), db = Tensor(shape: [g.outChannels])
        for o in 0..<g.outChannels { for img in 0..<n { for oy in 0..<ho { for ox in 0..<wo {
            let g0 = dy.scalars[((o * n + img) * ho + oy) * wo + ox]
            db.scalars[o] += g0
            for c in 0..<ci { for ky in 0..<g.kernel.height { for kx in 0..<g.kernel.width {
                let iy = oy * g.stride.height - g.padding.height + ky, ix = ox * g.stride.width - g.padding.width + kx
                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                let wi = ((o * ci + c) * g.kernel.height + ky) * g.kernel.width + kx
                let xi = ((c * n + img) * h + iy) * wd + ix
                dw.scalars[wi] += g0 * x.scalars[xi]
                dx.scalars[xi] += g0 * w.scalars[wi]
            } } }
        } } } }
        return (dx, dw, db)
    }
}
