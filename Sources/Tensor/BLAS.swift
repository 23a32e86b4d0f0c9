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
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

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
