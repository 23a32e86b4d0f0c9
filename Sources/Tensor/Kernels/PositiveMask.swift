/// One bit per value of a tensor, set where the value is positive: what a ReLU's backward pass needs of
/// its output, at a 32nd of its size, so a training step need not keep the output itself (it is freed
/// as soon as the layers after it are done with it).
public struct PositiveMask: Sendable {
    public let shape: [Int]
    /// Value i's bit is bit i % 8 of byte i / 8.
    let bits: [UInt8]

    public init(_ y: Tensor) {
        shape = y.shape
        let count = y.count, bytes = (count + 7) / 8
        bits = [UInt8](unsafeUninitializedCapacity: bytes) { out, initialized in
            y.scalars.withUnsafeBufferPointer { yp in
                Parallel.forEachChunk(bytes, costPerItem: 8) { range in
                    for byte in range { out[byte] = Self.pack(yp.baseAddress!, from: byte * 8, count: count) }
                }
            }
            initialized = bytes
        }
    }

    private init(shape: [Int], bits: [UInt8]) {
        self.shape = shape
        self.bits = bits
    }

    /// y = max(a + b, 0) (`TensorPlumbing.addReLU`, to the bit) and y's mask, in one pass: a residual
    /// block's sum, its ReLU and what the ReLU's backward pass needs.
    public static func addReLU(_ a: Tensor, _ b: Tensor) -> (output: Tensor, mask: PositiveMask) {
        precondition(a.shape == b.shape, "shapes \(a.shape) and \(b.shape)")
        let count = a.count, bytes = (count + 7) / 8, whole = count / 8
        var bits: [UInt8] = []
        let y = Tensor(shape: a.shape) { yp in
            bits = [UInt8](unsafeUninitializedCapacity: bytes) { out, initialized in
                a.scalars.withUnsafeBufferPointer { ap in
                    b.scalars.withUnsafeBufferPointer { bp in
                        Parallel.forEachChunk(bytes, costPerItem: 8) { range in
                            for byte in range.lowerBound..<min(range.upperBound, whole) {
                                let i = byte * 8
                                let sum = UnsafeRawPointer(ap.baseAddress! + i).loadUnaligned(as: SIMD8<Float>.self)
                                    + UnsafeRawPointer(bp.baseAddress! + i).loadUnaligned(as: SIMD8<Float>.self)
                                // max(sum, 0) as Swift's max: 0 for −0 and below, NaN kept.
                                UnsafeMutableRawPointer(yp.baseAddress! + i)
                                    .storeBytes(of: sum.replacing(with: 0, where: sum .<= 0), as: SIMD8<Float>.self)
                                out[byte] = UInt8(truncatingIfNeeded: SIMD8<Int32>.zero.replacing(with: weights, where: sum .> 0).wrappedSum())
                            }
                            guard range.upperBound > whole else { return }
                            for i in whole * 8..<count { yp[i] = max(ap[i] + bp[i], 0) }
                            out[whole] = pack(UnsafePointer(yp.baseAddress!), from: whole * 8, count: count)
                        }
                    }
                }
                initialized = bytes
            }
        }
        return (y, PositiveMask(shape: a.shape, bits: bits))
    }

    /// Lane weights 1, 2, 4, ..., 128: a lane's bit in its byte.
    private static let weights = SIMD8<Int32>(1, 2, 4, 8, 16, 32, 64, 128)

    @inline(__always)
    private static func pack(_ y: UnsafePointer<Float>, from start: Int, count: Int) -> UInt8 {
        if start + 8 <= count {
            let positive = UnsafeRawPointer(y + start).loadUnaligned(as: SIMD8<Float>.self) .> 0
            return UInt8(truncatingIfNeeded: SIMD8<Int32>.zero.replacing(with: weights, where: positive).wrappedSum())
        }
        var byte: UInt8 = 0
        for i in start..<count where y[i] > 0 { byte |= 1 << UInt8(i - start) }
        return byte
    }

    /// For each byte of a mask, its eight values' lanes: all ones where the bit is set (8 KB, in L1).
    private static let laneMasks: [SIMD8<UInt32>] = (0..<256).map { byte in
        SIMD8<UInt32>((0..<8).map { byte >> $0 & 1 == 1 ? UInt32.max : 0 })
    }

    /// dy where the value was positive, 0 elsewhere: eight values at a time, dy's bits and-ed with the
    /// byte's lane masks (so a set lane passes dy through unchanged, NaN included).
    public func masking(_ dy: Tensor) -> Tensor {
        precondition(dy.shape == shape, "ReLU gradient \(dy.shape) for a mask of \(shape)")
        let count = dy.count, whole = count / 8
        return Tensor(shape: shape) { out in
            dy.scalars.withUnsafeBufferPointer { dyp in
                bits.withUnsafeBufferPointer { bp in
                    Self.laneMasks.withUnsafeBufferPointer { lanes in
                        Parallel.forEachChunk(bits.count, costPerItem: 8) { range in
                            for byte in range.lowerBound..<min(range.upperBound, whole) {
                                let g = UnsafeRawPointer(dyp.baseAddress! + byte * 8).loadUnaligned(as: SIMD8<UInt32>.self)
                                UnsafeMutableRawPointer(out.baseAddress! + byte * 8)
                                    .storeBytes(of: g & lanes[Int(bp[byte])], as: SIMD8<UInt32>.self)
                            }
                            guard range.upperBound > whole else { return }
                            for i in whole * 8..<count { out[i] = bp[whole] & (1 << UInt8(i - whole * 8)) != 0 ? dyp[i] : 0 }
                        }
                    }
                }
            }
        }
    }
}
