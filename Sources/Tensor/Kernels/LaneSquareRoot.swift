#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// Lanes whose square roots are taken by the processor's vector instruction. The standard library's
/// `SIMD.squareRoot()` takes each lane through `sqrtf` with its errno check (a compare, a branch and
/// a scalar `sqrtss` per lane: most of Adam's step, see docs/ENGINE.md); both round correctly, so
/// the bits are the same.
public protocol LaneSquareRoot: SIMD where Scalar == Float {
    func laneSquareRoot() -> Self
}

extension SIMD8: LaneSquareRoot where Scalar == Float {
    @inlinable @inline(__always)
    public func laneSquareRoot() -> SIMD8<Float> {
        #if arch(x86_64)
        SIMD8(lowHalf: _mm_sqrt_ps(lowHalf), highHalf: _mm_sqrt_ps(highHalf))
        #else
        squareRoot()
        #endif
    }
}

extension SIMD2: LaneSquareRoot where Scalar == Float {
    /// A short tail's lanes, one at a time.
    @inlinable @inline(__always)
    public func laneSquareRoot() -> SIMD2<Float> { squareRoot() }
}
