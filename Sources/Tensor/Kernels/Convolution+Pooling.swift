/// A convolution that max-pools its own output in inference (`ConvolutionEpilogue.pooling`).
extension Convolution {
    /// The unfolded path of a convolution whose epilogue ends in a max pool (a ResNet's stem): each
    /// worker takes whole images, unfolds and multiplies them (in bands of output rows where an image's
    /// unfolded input is over its group, as `forward` does) into an image buffer of its own, then applies
    /// the epilogue and the pool to that image while it is in the core's cache. The convolution's
    /// output, four times the pool's, never goes out to memory and back.
    static func pooledForward(_ x: Tensor, weight: Tensor, geometry g: ConvolutionGeometry, epilogue: ConvolutionEpilogue,
                              pooling: PoolingGeometry, workspace: inout [Float]) -> Tensor {
        let settings = EngineSettings.current
        let n = x.shape[1], h = x.shape[2], w = x.shape[3], co = g.outChannels, k = g.patchSize
        let (ho, wo) = g.outputSize(height: h, width: w)
        let pooledHeight = pooling.outputLength(ho), pooledWidth = pooling.outputLength(wo)
        precondition(pooledHeight > 0 && pooledWidth > 0, "max pool output \(pooledHeight)x\(pooledWidth) from \(ho)x\(wo)")
        let pooledPlane = pooledHeight * pooledWidth
        let bandRows = workerBandRows(outputHeight: ho, outputWidth: wo, k: k, settings: settings) ?? ho
        let columnFloats = bandRows * wo * k, perWorker = columnFloats + co * ho * wo, workers = settings.workers
        if workspace.count < workers * perWorker { workspace = [Float](repeating: 0, count: workers * perWorker) }
        // Every pooled plane is written whole by `MaxPooling.maxima`.
        return Tensor(shape: [co, n, pooledHeight, pooledWidth]) { yp in
            ConvolutionEpilogue.withResidual(of: epilogue) { residual in
                weight.scalars.withUnsafeBufferPointer { wp in
                    x.scalars.withUnsafeBufferPointer { xp in
                        workspace.withUnsafeMutableBufferPointer { buffer in
                            BLAS.onEachWorker { worker in
                                let columns = buffer.baseAddress! + worker * perWorker, image = columns + columnFloats
                                for i in stride(from: worker, to: n, by: workers) {
                                    for first in stride(from: 0, to: ho, by: bandRows) {
                                        unfoldAndMultiply(xp.baseAddress!, weight: wp.baseAddress!, geometry: g, batch: n, height: h,
                                                          width: w, images: i..<(i + 1), outputRows: first..<min(ho, first + bandRows),
                                                          columns: columns, parallel: false, into: image, ldc: ho * wo)
                                    }
                                    for o in 0..<co {
                                        epilogue.pass(channel: o, offset: (o * n + i) * ho * wo, residual: residual)
                                            .apply(to: image + o * ho * wo, count: ho * wo)
                                    }
                                    MaxPooling.maxima(image, planes: co, height: ho, width: wo, geometry: pooling,
                                                      into: yp.baseAddress! + i * pooledPlane, planeStride: n * pooledPlane)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
