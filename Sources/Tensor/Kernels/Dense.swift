/// A fully connected layer in the feature-major layout.
/// Shapes: x [In, N]; weight [Out, In] (PyTorch's Linear.weight); bias [Out]; y [Out, N].
/// Forward:  y = w × x + b
/// Backward: dw += dy × xᵀ;  db += Σ_n dy;  dx = wᵀ × dy
public enum Dense {
    public static func forward(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let inputs = weight.shape[1], outputs = weight.shape[0], n = x.shape[1]
        precondition(x.rank == 2 && x.shape[0] == inputs, "dense input \(x.shape) for weight \(weight.shape)")
        var y = Tensor(shape: [outputs, n])
        weight.scalars.withUnsafeBufferPointer { wp in
            x.scalars.withUnsafeBufferPointer { xp in
                y.scalars.withUnsafeMutableBufferPointer { yp in
                    BLAS.gemm(m: outputs, n: n, k: inputs, a: wp.baseAddress!, lda: inputs, b: xp.baseAddress!, ldb: n,
                              c: yp.baseAddress!, ldc: n)
                    if let bias { addBias(bias, to: yp, rows: outputs, columns: n) }
                }
            }
        }
        return y
    }

    public static func backward(_ dy: Tensor, input x: Tensor, weight: Tensor, weightGradient: inout Tensor,
                                biasGradient: inout Tensor?) -> Tensor {
        let inputs = weight.shape[1], outputs = weight.shape[0], n = x.shape[1]
        precondition(dy.shape == [outputs, n], "dense output gradient \(dy.shape)")
        var dx = Tensor(shape: x.shape)
        dy.scalars.withUnsafeBufferPointer { dyp in
            x.scalars.withUnsafeBufferPointer { xp in
                weightGradient.scalars.withUnsafeMutableBufferPointer { dwp in
                    BLAS.gemm(transposeB: true, m: outputs, n: inputs, k: n, a: dyp.baseAddress!, lda: n, b: xp.baseAddress!,
                              ldb: n, beta: 1, c: dwp.baseAddress!, ldc: inputs)
                }
            }
            weight.scalars.withUnsafeBufferPointer { wp in
                dx.scalars.withUnsafeMutableBufferPointer { dxp in
                    BLAS.gemm(transposeA: true, m: inputs, n: n, k: outputs, a: wp.baseAddress!, lda: inputs,
                              b: dyp.baseAddress!, ldb: n, c: dxp.baseAddress!, ldc: n)
                }
            }
            if biasGradient != nil {
                biasGradient!.scalars.withUnsafeMutableBufferPointer { db in sumRows(dyp, rows: outputs, columns: n, into: db) }
            }
        }
        return dx
    }
}
