import ImageIO

/// A colour in the painter's reflectance-like units (about 0 to 1 per band): red, green, blue, NIR.
public struct Reflectance: Sendable, Equatable {
    public var red: Float, green: Float, blue: Float, nearInfrared: Float

    public init(_ red: Float, _ green: Float, _ blue: Float, _ nearInfrared: Float) {
        self.red = red
        self.green = green
        self.blue = blue
        self.nearInfrared = nearInfrared
    }

    /// Every band times `factor`.
    func scaled(_ factor: Float) -> Reflectance {
        Reflectance(red * factor, green * factor, blue * factor, nearInfrared * factor)
    }

    /// The blend `self·(1-t) + other·t`.
    func mixed(with other: Reflectance, _ t: Float) -> Reflectance {
        Reflectance(red + (other.red - red) * t, green + (other.green - green) * t,
                    blue + (other.blue - blue) * t, nearInfrared + (other.nearInfrared - nearInfrared) * t)
    }
}

/// One painted chip: four `size`×`size` float planes (R, G, B, NIR, row-major), reflectance-like values
/// about 0 to 1. What the JPEG and the TIFF of a synthetic chip are both made from.
public struct PaintedChip: Sendable {
    public let size: Int
    public var red: [Float]
    public var green: [Float]
    public var blue: [Float]
    public var nearInfrared: [Float]

    public init(size: Int, filledWith colour: Reflectance = Reflectance(0, 0, 0, 0)) {
        precondition(size > 0)
        self.size = size
        red = [Float](repeating: colour.red, count: size * size)
        green = [Float](repeating: colour.green, count: size * size)
        blue = [Float](repeating: colour.blue, count: size * size)
        nearInfrared = [Float](repeating: colour.nearInfrared, count: size * size)
    }

    /// The mean of each plane: (R, G, B, NIR).
    public var means: Reflectance {
        func mean(_ plane: [Float]) -> Float { plane.reduce(0, +) / Float(plane.count) }
        return Reflectance(mean(red), mean(green), mean(blue), mean(nearInfrared))
    }

    /// The mean of (R+G+B)/3: how bright the chip looks.
    public var meanBrightness: Float { let m = means; return (m.red + m.green + m.blue) / 3 }

    /// The standard deviation of (R+G+B)/3 over the chip: how much contrast it has.
    public var brightnessDeviation: Float {
        var sum: Double = 0, squares: Double = 0
        for i in 0..<(size * size) {
            let v = Double(red[i] + green[i] + blue[i]) / 3
            sum += v
            squares += v * v
        }
        let n = Double(size * size)
        let mean = sum / n
        return Float(max(squares / n - mean * mean, 0).squareRoot())
    }

    /// Runs `body` over the four planes' storage at once, in the order R, G, B, NIR.
    mutating func withPlanes(_ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>,
                                      UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        red.withUnsafeMutableBufferPointer { r in
            green.withUnsafeMutableBufferPointer { g in
                blue.withUnsafeMutableBufferPointer { b in
                    nearInfrared.withUnsafeMutableBufferPointer { n in
                        body(r.baseAddress!, g.baseAddress!, b.baseAddress!, n.baseAddress!)
                    }
                }
            }
        }
    }

    /// Where `mask` covers (its bounding box only), blends toward `colour`, modulated per pixel by
    /// `texture` (a plane in [0, 1]): the colour is scaled by `1 + strength·(texture - 0.5)`.
    mutating func blend(_ mask: PaintMask, colour: Reflectance, texture: [Float]? = nil, strength: Float = 0) {
        guard let box = mask.box else { return }
        let size = self.size
        mask.coverage.withUnsafeBufferPointer { alpha in
            withPlanes { r, g, b, n in
                for y in box.minY...box.maxY {
                    for x in box.minX...box.maxX {
                        let i = y * size + x
                        let a = alpha[i]
                        if a <= 0 { continue }
                        let t = texture.map { 1 + strength * ($0[i] - 0.5) } ?? 1
                        r[i] += (colour.red * t - r[i]) * a
                        g[i] += (colour.green * t - g[i]) * a
                        b[i] += (colour.blue * t - b[i]) * a
                        n[i] += (colour.nearInfrared * t - n[i]) * a
                    }
                }
            }
        }
    }

    /// Multiplies every band by `1 - amount·mask` inside the mask's box (shadows, char, darker edges).
    mutating func darken(_ mask: PaintMask, amount: Float, shiftX: Int = 0, shiftY: Int = 0) {
        guard mask.box != nil else { return }
        let size = self.size
        mask.coverage.withUnsafeBufferPointer { alpha in
            withPlanes { r, g, b, n in
                for y in 0..<size {
                    let sy = y - shiftY
                    if sy < 0 || sy >= size { continue }
                    for x in 0..<size {
                        let sx = x - shiftX
                        if sx < 0 || sx >= size { continue }
                        let a = alpha[sy * size + sx]
                        if a <= 0 { continue }
                        let f = 1 - amount * a
                        let i = y * size + x
                        r[i] *= f; g[i] *= f; b[i] *= f; n[i] *= f
                    }
                }
            }
        }
    }

    // MARK: Conversions

    /// The 8-bit RGB image a JPEG of this chip holds: reflectance 0...1 → 0...255.
    public func rgbImage() -> Image {
        let count = size * size
        let samples = [UInt8](unsafeUninitializedCapacity: count * 3) { out, initialized in
            for i in 0..<count {
                out[3 * i] = Self.byte(red[i])
                out[3 * i + 1] = Self.byte(green[i])
                out[3 * i + 2] = Self.byte(blue[i])
            }
            initialized = count * 3
        }
        return Image(width: size, height: size, bandOrder: .rgb, samples: .uint8(samples))
    }

    /// The 16-bit B,G,R,NIR image a Planet analytic TIFF of this chip holds: RGB in about 2,000 to
    /// 9,000 (blue lifted most, as atmospheric scatter lifts it in the real files), NIR from about 2,500
    /// up to 10,000 and more over dense vegetation.
    public func bgrnImage() -> Image {
        let count = size * size
        let samples = [UInt16](unsafeUninitializedCapacity: count * 4) { out, initialized in
            for i in 0..<count {
                out[4 * i] = Self.word(3400 + blue[i] * 6000)
                out[4 * i + 1] = Self.word(2600 + green[i] * 6400)
                out[4 * i + 2] = Self.word(1900 + red[i] * 7000)
                out[4 * i + 3] = Self.word(2500 + nearInfrared[i] * 9000)
            }
            initialized = count * 4
        }
        return Image(width: size, height: size, bandOrder: .bgrn, samples: .uint16(samples))
    }

    @inline(__always) private static func byte(_ v: Float) -> UInt8 { UInt8(min(max(v * 255 + 0.5, 0), 255)) }
    @inline(__always) private static func word(_ v: Float) -> UInt16 { UInt16(min(max(v + 0.5, 0), 65535)) }
}

/// Coverage in [0, 1] over a chip, with the bounding box of what has been drawn so blends touch only that.
struct PaintMask {
    let size: Int
    var coverage: [Float]
    /// Inclusive pixel bounds of nonzero coverage; nil while empty.
    var box: (minX: Int, minY: Int, maxX: Int, maxY: Int)?

    init(size: Int) {
        self.size = size
        coverage = [Float](repeating: 0, count: size * size)
    }

    /// A mask over the whole chip holding `values` (clamped to [0, 1]).
    init(size: Int, values: [Float]) {
        self.size = size
        coverage = values.map { min(max($0, 0), 1) }
        box = (0, 0, size - 1, size - 1)
    }

    private mutating func grow(_ minX: Int, _ minY: Int, _ maxX: Int, _ maxY: Int) {
        if let b = box {
            box = (min(b.minX, minX), min(b.minY, minY), max(b.maxX, maxX), max(b.maxY, maxY))
        } else {
            box = (minX, minY, maxX, maxY)
        }
    }

    /// The clipped integer box around a centre and radius; nil when it misses the chip.
    private func clip(_ cx: Float, _ cy: Float, _ radius: Float) -> (Int, Int, Int, Int)? {
        let minX = max(0, Int((cx - radius).rounded(.down))), maxX = min(size - 1, Int((cx + radius).rounded(.up)))
        let minY = max(0, Int((cy - radius).rounded(.down))), maxY = min(size - 1, Int((cy + radius).rounded(.up)))
        return minX <= maxX && minY <= maxY ? (minX, minY, maxX, maxY) : nil
    }

    /// A filled disc with a one-pixel soft edge (coverage only grows).
    mutating func disc(_ cx: Float, _ cy: Float, radius: Float, opacity: Float = 1) {
        guard let (minX, minY, maxX, maxY) = clip(cx, cy, radius + 1) else { return }
        let size = self.size
        coverage.withUnsafeMutableBufferPointer { c in
            for y in minY...maxY {
                let dy = Float(y) + 0.5 - cy
                for x in minX...maxX {
                    let dx = Float(x) + 0.5 - cx
                    let a = min(max(radius + 0.5 - (dx * dx + dy * dy).squareRoot(), 0), 1) * opacity
                    let i = y * size + x
                    if a > c[i] { c[i] = a }
                }
            }
        }
        grow(minX, minY, maxX, maxY)
    }

    /// A filled rectangle, axis-aligned, `[x0, x1) × [y0, y1)`.
    mutating func rectangle(x0: Int, y0: Int, x1: Int, y1: Int, opacity: Float = 1) {
        let minX = max(0, x0), maxX = min(size - 1, x1 - 1), minY = max(0, y0), maxY = min(size - 1, y1 - 1)
        guard minX <= maxX && minY <= maxY else { return }
        for y in minY...maxY {
            for x in minX...maxX where coverage[y * size + x] < opacity { coverage[y * size + x] = opacity }
        }
        grow(minX, minY, maxX, maxY)
    }

    /// An irregular blob: an ellipse (radii `rx`, `ry`, turned by the angle whose cosine and sine are
    /// given) whose edge is pushed in and out by `distortion` × (`noise` - 0.5), with a soft edge.
    mutating func blob(_ cx: Float, _ cy: Float, rx: Float, ry: Float, cosine: Float = 1, sine: Float = 0,
                       noise: [Float], distortion: Float, softness: Float = 1.5, opacity: Float = 1) {
        let reach = max(rx, ry) * (1 + distortion)
        guard let (minX, minY, maxX, maxY) = clip(cx, cy, reach) else { return }
        let size = self.size
        let edge = max(rx, ry) / softness
        coverage.withUnsafeMutableBufferPointer { c in
            noise.withUnsafeBufferPointer { noise in
                for y in minY...maxY {
                    let dy = Float(y) + 0.5 - cy
                    for x in minX...maxX {
                        let dx = Float(x) + 0.5 - cx
                        let u = (dx * cosine + dy * sine) / rx, v = (dy * cosine - dx * sine) / ry
                        let i = y * size + x
                        let d = (u * u + v * v).squareRoot() + distortion * (noise[i] - 0.5)
                        let a = min(max((1 - d) * edge, 0), 1) * opacity
                        if a > c[i] { c[i] = a }
                    }
                }
            }
        }
        grow(minX, minY, maxX, maxY)
    }

    /// A stroke along `path` (discs every half radius): rivers, roads, tracks.
    mutating func stroke(_ path: [(x: Float, y: Float)], radius: Float, widthJitter: [Float]? = nil, opacity: Float = 1) {
        guard var last = path.first else { return }
        let step = max(radius * 0.5, 0.5)
        for (k, point) in path.enumerated() {
            let r = radius * (widthJitter.map { $0[k % $0.count] } ?? 1)
            let dx = point.x - last.x, dy = point.y - last.y
            let length = (dx * dx + dy * dy).squareRoot()
            let pieces = max(1, Int(length / step))
            for p in 1...pieces {
                let t = Float(p) / Float(pieces)
                disc(last.x + dx * t, last.y + dy * t, radius: r, opacity: opacity)
            }
            if k == 0 { disc(point.x, point.y, radius: r, opacity: opacity) }
            last = point
        }
    }
}
