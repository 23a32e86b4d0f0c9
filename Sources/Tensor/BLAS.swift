internal import CBLAS
import Synchronization

/// Matrix products through OpenBLAS's `cblas_sgemm`, row-major. No CBLAS type leaves this file.
public enum BLAS {
    /// `C[m, n] = alpha · op(A) · op(B) + beta · C`, where op(A) is `[m, k]` and op(B) is `[k, n]`.
    /// `lda`, `ldb`, `ldc` are the row strides of A, B, C as stored.
    @inlinable
    public static func gemm(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        sgemm(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    @usableFromInline
    static func sgemm(
        _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
        _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float,
        _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        // A product of few columns but many rows, on one thread: in blocks of rows that each take
        // OpenBLAS's small-matrix kernels (`smallProducts`), which read A and B where they are instead
        // of packing both first (the packing of A, a layer's weights, is most of the cost at n ≤ 128);
        // one of few rows and a short sum (64 x 64 weights: layer1's Winograd positions) in blocks of
        // columns. Row i of op(A) starts at a + i·lda, or at a + i where A is stored transposed.
        // The shape decides first (arithmetic only); the thread count and the setting are read only
        // for a product that would be cut.
        let rows = smallProducts / (n * max(k, 1)) / 16 * 16, columns = smallProducts / (m * max(k, 1)) / 16 * 16
        let byRows = n <= smallProductColumns && rows >= 16
        if !transposeB && m * n * k > smallProducts && (byRows || (m * k <= smallProductRowsTimesDepth && columns >= 16))
            && openblas_get_num_threads() == 1 && EngineSettings.current.gemmBlocks {
            let block = byRows ? rows : columns
            for first in stride(from: 0, to: byRows ? m : n, by: block) {
                // The block's first row and column of C, and its size.
                let (row, column) = byRows ? (first, 0) : (0, first)
                let (blockRows, blockColumns) = byRows ? (min(block, m - first), n) : (m, min(block, n - first))
                cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, CblasNoTrans, blasint(blockRows),
                            blasint(blockColumns), blasint(k), alpha, a + (transposeA ? row : row * lda), blasint(lda), b + column,
                            blasint(ldb), beta, c + row * ldc + column, blasint(ldc))
            }
            return
        }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// OpenBLAS (0.3.21, x86-64 with AVX-512) multiplies a product of at most this many multiply-adds
    /// (m·n·k) whose B is not transposed by its small-matrix kernels, without packing
    /// (`interface/gemm.c`, `sgemm_small_kernel_permit`: row-major A transposed is its column-major
    /// "NT" kernel, allowed; B transposed, "TN", only for tiny C).
    static let smallProducts = 1_000_000
    /// Columns up to which a larger product is faster in blocks of rows under `smallProducts` (at
    /// least 16 rows a block), on one thread: `canopy bench gemm` (docs/ENGINE.md), m x k x n, one call
    /// → blocks: 512 x 512 x 32 1.28x, 256 x 256 x 32 1.32x, 128 x 128 x 128 1.19x, A transposed
    /// 256 x 512 x 32 1.30x; 256 x 64 x 256 and 512 x 64 x 512 (n past it) 1.00x. Where OpenBLAS has no
    /// small-matrix kernel (other CPUs) each block is packed as the whole would be: a few more calls.
    static let smallProductColumns = 128
    /// Largest m·k for which a product of more columns is faster in blocks of columns under
    /// `smallProducts` (1,000,000 / 4,096: blocks of 240 columns), on one thread: 64 x 64 x 512
    /// (layer1's Winograd positions in training at 64 px) 78-81 → 94-98 GFLOP/s, 64 x 64 x 1,792 (at
    /// 128 px) 69-79 → 77-94; but 128 x 128 x 512 in blocks of 48 columns 91-95 → 83-93 and 64 x 147 x
    /// 1,024 (the stem) in blocks of 96, 75-76 → 76-78: no better.
    static let smallProductRowsTimesDepth = 4_096

    /// Threads OpenBLAS uses for each GEMM.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }

    /// `body(worker)` once on each of Canopy's workers at the same time, OpenBLAS on one thread: for
    /// independent GEMMs (and the work around them) that OpenBLAS's own threads would run one after
    /// another, meeting after each. OpenBLAS's thread count is the process's: the first of overlapping
    /// calls (two networks at once) sets it to one and the last puts it back.
    static func onEachWorker(_ body: (Int) -> Void) {
        singleThreaded.withLock { state in
            if state.depth == 0 { state.saved = threads; threads = 1 }
            state.depth += 1
        }
        defer {
            singleThreaded.withLock { state in
                state.depth -= 1
                if state.depth == 0 { threads = state.saved }
            }
        }
        let settings = EngineSettings.current
        Parallel.forEachChunk(settings.workers, costPerItem: settings.minimumWorkPerChunk) { range in
            for worker in range { body(worker) }
        }
    }

    /// Calls of `onEachWorker` under way, and OpenBLAS's thread count before the first.
    private static let singleThreaded = Mutex((depth: 0, saved: 1))
}
