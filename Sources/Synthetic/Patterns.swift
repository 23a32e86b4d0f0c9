import Foundation
import Tensor

/// The painter's palette, reflectance-like (R, G, B, NIR). Vegetation is dark in the visible bands and
/// bright in NIR; water is dark in NIR; bare soil, roofs and cloud are bright in the visible bands.
enum Palette {
    static let forest = Reflectance(0.16, 0.26, 0.19, 0.56)
    static let grass = Reflectance(0.36, 0.40, 0.26, 0.40)
    static let dryGrass = Reflectance(0.52, 0.47, 0.34, 0.34)
    static let shrub = Reflectance(0.20, 0.27, 0.18, 0.45)
    static let fields: [Reflectance] = [
        Reflectance(0.38, 0.52, 0.30, 0.64),  // young crop, light green
        Reflectance(0.28, 0.48, 0.24, 0.72),  // lush crop
        Reflectance(0.62, 0.56, 0.40, 0.36),  // stubble, tan
        Reflectance(0.50, 0.40, 0.29, 0.28),  // ploughed, brown
        Reflectance(0.68, 0.64, 0.50, 0.40),  // pale pasture
        Reflectance(0.46, 0.55, 0.34, 0.55),  // pasture
    ]
    static let clearing = Reflectance(0.46, 0.46, 0.31, 0.42)
    static let settlementGround = Reflectance(0.54, 0.53, 0.47, 0.32)
    static let roofs: [Reflectance] = [
        Reflectance(0.95, 0.95, 0.93, 0.55), Reflectance(0.78, 0.78, 0.80, 0.42),
        Reflectance(0.82, 0.46, 0.34, 0.42), Reflectance(0.66, 0.76, 0.86, 0.40),
    ]
    static let dirtRoad = Reflectance(0.72, 0.64, 0.52, 0.36)
    static let pavedRoad = Reflectance(0.60, 0.60, 0.60, 0.30)
    static let riverBlue = Reflectance(0.09, 0.15, 0.27, 0.05)
    static let riverMurky = Reflectance(0.20, 0.23, 0.27, 0.07)
    static let sandBank = Reflectance(0.66, 0.60, 0.48, 0.36)
    static let bareSoil = Reflectance(0.62, 0.53, 0.38, 0.36)
    static let darkSoil = Reflectance(0.50, 0.38, 0.28, 0.32)
    static let mud = Reflectance(0.60, 0.50, 0.40, 0.28)
    static let turbidWater = Reflectance(0.72, 0.52, 0.26, 0.14)
    static let pitGrey = Reflectance(0.62, 0.60, 0.56, 0.38)
    static let pitPond = Reflectance(0.30, 0.44, 0.42, 0.05)
    static let bloom = Reflectance(0.88, 0.80, 0.22, 0.78)
    static let loggingTrack = Reflectance(0.58, 0.44, 0.29, 0.30)
    static let char = Reflectance(0.08, 0.07, 0.07, 0.07)
    static let scorched = Reflectance(0.36, 0.26, 0.19, 0.20)
    static let smoke = Reflectance(0.78, 0.78, 0.80, 0.55)
    static let fallenTrees = Reflectance(0.50, 0.50, 0.33, 0.46)
}

typealias PaintPoint = (x: Float, y: Float)

/// The working state of one chip's painting: the planes, the chip's random source, and two shared noise
/// planes that give blobs their irregular edges and surfaces their texture.
struct Painting {
    let size: Int
    /// Pixels per pixel of a 256-pixel chip: every length below is given at 256 and scaled by this.
    let scale: Float
    var planes: PaintedChip
    var random: SeededRandom
    /// Medium-scale fractal noise (features ~10 px): edges of blobs, region variation.
    let detail: [Float]
    /// Fine noise (features ~2-3 px): crowns, crop texture.
    let fine: [Float]
    var river: [PaintPoint]?
    var settlement: PaintPoint?

    init(size: Int, random: SeededRandom) {
        self.size = size
        scale = Float(size) / 256
        self.random = random
        detail = ValueNoise.fractal(size: size, cell: 24 * scale, octaves: 3, random: &self.random)
        fine = ValueNoise.fractal(size: size, cell: max(4.5 * scale, 1.5), octaves: 2, random: &self.random)
        planes = PaintedChip(size: size)
    }

    var extent: Float { Float(size) }

    mutating func point(margin: Float = 0.15) -> PaintPoint {
        (random.uniform(margin, 1 - margin) * extent, random.uniform(margin, 1 - margin) * extent)
    }

    /// A slightly varied colour: each band × (1 ± `spread`).
    mutating func vary(_ colour: Reflectance, _ spread: Float = 0.08) -> Reflectance {
        let k = random.uniform(1 - spread, 1 + spread)
        return Reflectance(colour.red * k * random.uniform(0.97, 1.03), colour.green * k * random.uniform(0.97, 1.03),
                           colour.blue * k * random.uniform(0.97, 1.03), colour.nearInfrared * k)
    }

    // MARK: Paths

    /// A path entering at a random edge and wandering across: `curviness` 0 is straight, 0.05 meanders.
    mutating func wanderingPath(curviness: Float, step: Float = 3, from start: PaintPoint? = nil) -> [PaintPoint] {
        let s = extent, margin = 12 * scale
        var x: Float, y: Float, heading: Float
        if let start {
            (x, y, heading) = (start.x, start.y, random.uniform(0, 2 * .pi))
        } else {
            let along = random.uniform(0.1, 0.9) * s
            switch random.integer(0...3) {
            case 0: (x, y, heading) = (along, -margin / 2, .pi / 2)
            case 1: (x, y, heading) = (s + margin / 2, along, .pi)
            case 2: (x, y, heading) = (along, s + margin / 2, -.pi / 2)
            default: (x, y, heading) = (-margin / 2, along, 0)
            }
            // Aim at a point well inside, so the path crosses the chip rather than clipping a corner.
            let target = point(margin: 0.3)
            heading = atan2(target.y - y, target.x - x)
        }
        let stride = step * scale
        // The turn rate wanders (meanders) but stays small, and the heading is pulled back toward the
        // general direction, so the path crosses the chip instead of curling up.
        let general = heading
        var turn: Float = 0
        var path: [PaintPoint] = [(x, y)]
        for _ in 0..<Int(3 * s / stride) {
            turn = min(max(turn * 0.85 + random.uniform(-1, 1) * curviness, -0.12), 0.12)
            heading += turn + (general - heading) * 0.03
            x += cos(heading) * stride
            y += sin(heading) * stride
            path.append((x, y))
            if x < -margin || y < -margin || x > s + margin || y > s + margin { break }
        }
        return path
    }

    /// A quadratic Bézier from one edge to another through `via` (or bent at random), as points.
    mutating func edgeCurve(through via: PaintPoint?, bend: Float) -> [PaintPoint] {
        let s = extent
        func edgePoint(_ side: Int) -> PaintPoint {
            let along = random.uniform(0.05, 0.95) * s
            switch side {
            case 0: return (along, -2)
            case 1: return (s + 2, along)
            case 2: return (along, s + 2)
            default: return (-2, along)
            }
        }
        let first = random.integer(0...3)
        let a = edgePoint(first), b = edgePoint((first + random.integer(1...3)) % 4)
        var control: PaintPoint = ((a.x + b.x) / 2 + random.uniform(-bend, bend) * s, (a.y + b.y) / 2 + random.uniform(-bend, bend) * s)
        if let via { control = (2 * via.x - (a.x + b.x) / 2, 2 * via.y - (a.y + b.y) / 2) }
        let steps = Int(2 * s / (2 * scale)) + 2
        return (0...steps).map { k in
            let t = Float(k) / Float(steps), u = 1 - t
            return (u * u * a.x + 2 * u * t * control.x + t * t * b.x, u * u * a.y + 2 * u * t * control.y + t * t * b.y)
        }
    }

    // MARK: Ground cover

    /// Rainforest canopy: dark green, bright in NIR, a texture of crowns and shadows.
    mutating func forest(over mask: PaintMask? = nil) {
        let tone = vary(Palette.forest, 0.10)
        let region = mask ?? PaintMask(size: size, values: [Float](repeating: 1, count: size * size))
        // Crowns (fine noise) lit on one side, in larger stands (detail noise).
        let crowns = zip(fine, detail).map { 0.5 * $0 + 0.5 * ($0 * $0) + 0.4 * ($1 - 0.5) }
        planes.blend(region, colour: tone, texture: crowns, strength: 0.75)
    }

    /// Open ground where the chip has neither forest nor fields: grass and dry patches with shrubs.
    mutating func savanna() {
        let grass = vary(Palette.grass), dry = vary(Palette.dryGrass)
        let patches = ValueNoise.fractal(size: size, cell: 70 * scale, octaves: 2, random: &random)
        let shrubs = fine
        planes.withPlanes { r, g, b, n in
            for i in 0..<(size * size) {
                let t = patches[i]
                let base = grass.mixed(with: dry, t)
                let shrub = min(max((0.32 - shrubs[i]) * 6, 0), 1)
                let shade = (1 + 0.2 * (shrubs[i] - 0.5) + 0.15 * (detail[i] - 0.5)) * (1 - 0.3 * shrub)
                r[i] = base.red * shade
                g[i] = base.green * shade
                b[i] = base.blue * shade
                n[i] = base.nearInfrared * (1 + 0.15 * shrub)
            }
        }
    }

    /// Large rectangular fields on a turned grid, each its own crop colour, with darker borders;
    /// over part of the chip (the rest stays forest) or nearly all of it without forest.
    mutating func agriculture(coverage: Float) {
        let angle = random.uniform(0, .pi / 2), c = cos(angle), s = sin(angle)
        let width = random.uniform(34, 80) * scale, height = random.uniform(24, 60) * scale
        let salt = random.next()
        let region = ValueNoise.plane(size: size, cell: 90 * scale, random: &random)
        let threshold = Self.quantile(region, 1 - coverage)
        let palette = Palette.fields.map { vary($0, 0.06) }
        let border = 1.1 * scale
        planes.withPlanes { r, g, b, n in
            for y in 0..<size {
                for x in 0..<size {
                    let i = y * size + x
                    let inside = min(max((region[i] - threshold) * 25, 0), 1)
                    if inside <= 0 { continue }
                    let u = Float(x) * c + Float(y) * s, v = Float(y) * c - Float(x) * s
                    let row = (v / height).rounded(.down)
                    let rowShift = hashUniform(salt, UInt64(bitPattern: Int64(row))) * width
                    let column = ((u + rowShift) / width).rounded(.down)
                    let h = mixHash(salt, UInt64(bitPattern: Int64(column)), UInt64(bitPattern: Int64(row)))
                    if h & 7 == 0 { continue }  // one cell in eight left unfarmed
                    let colour = palette[Int((h >> 8) % UInt64(palette.count))]
                    let fu = u + rowShift - column * width, fv = v - row * height
                    let edge = min(fu, width - fu, fv, height - fv)
                    var k = 0.94 + 0.12 * Float((h >> 20) & 255) / 255 + 0.1 * (fine[i] - 0.5)
                    if (h >> 30) & 1 == 1 { k *= (v * 0.7).truncatingRemainder(dividingBy: 2) < 1 ? 0.96 : 1.04 }  // crop rows
                    if edge < border { k *= 0.7 }
                    let a = inside
                    r[i] += (colour.red * k - r[i]) * a
                    g[i] += (colour.green * k - g[i]) * a
                    b[i] += (colour.blue * k - b[i]) * a
                    n[i] += (colour.nearInfrared * k - n[i]) * a
                }
            }
        }
    }

    /// Small irregular clearings cut into the cover (shifting cultivation).
    mutating func cultivation() {
        var mask = PaintMask(size: size)
        let clusterCentre = point(margin: 0.2)
        for _ in 0..<random.integer(3...8) {
            let cx = clusterCentre.x + random.uniform(-70, 70) * scale, cy = clusterCentre.y + random.uniform(-70, 70) * scale
            let radius = random.uniform(6, 15) * scale
            mask.blob(cx, cy, rx: radius, ry: radius * random.uniform(0.6, 1), noise: detail, distortion: 0.9)
        }
        planes.blend(mask, colour: vary(Palette.clearing), texture: fine, strength: 0.6)
    }

    /// Clusters of small bright roofs on greyer ground, with a few streets.
    mutating func habitation() {
        let centre = point(margin: 0.25)
        settlement = centre
        let spread = random.uniform(16, 34) * scale
        var ground = PaintMask(size: size)
        ground.blob(centre.x, centre.y, rx: spread * 1.5, ry: spread * 1.3, noise: detail, distortion: 0.6)
        planes.blend(ground, colour: vary(Palette.settlementGround), texture: fine, strength: 0.4)
        var streets = PaintMask(size: size)
        for _ in 0..<random.integer(2...4) {
            let angle = random.uniform(0, .pi), reach = spread * 1.4
            let dx = cos(angle) * reach, dy = sin(angle) * reach
            streets.stroke([(centre.x - dx, centre.y - dy), (centre.x + dx, centre.y + dy)], radius: 0.8 * scale)
        }
        planes.blend(streets, colour: Palette.pavedRoad)
        for colourIndex in 0..<Palette.roofs.count {
            var roofs = PaintMask(size: size)
            for _ in 0..<random.integer(6...18) {
                let x = centre.x + (random.uniform(-1, 1) + random.uniform(-1, 1)) * spread
                let y = centre.y + (random.uniform(-1, 1) + random.uniform(-1, 1)) * spread
                let w = max(2, Int(random.uniform(3, 6.5) * scale)), h = max(2, Int(random.uniform(3, 6.5) * scale))
                roofs.rectangle(x0: Int(x), y0: Int(y), x1: Int(x) + w, y1: Int(y) + h)
            }
            planes.blend(roofs, colour: vary(Palette.roofs[colourIndex], 0.05))
        }
    }

    /// Thin light lines, straight or curved; the first one passes through the settlement if any.
    mutating func roads() {
        var mask = PaintMask(size: size)
        let count = random.chance(0.7) ? 1 : 2
        for k in 0..<count {
            let curved = random.chance(0.5)
            let path: [PaintPoint] = curved && k > 0 ? wanderingPath(curviness: 0.012)
                : edgeCurve(through: k == 0 ? settlement : nil, bend: curved ? 0.35 : 0)
            mask.stroke(path, radius: random.uniform(1.0, 1.7) * scale)
        }
        planes.blend(mask, colour: vary(random.chance(0.7) ? Palette.dirtRoad : Palette.pavedRoad), texture: fine, strength: 0.2)
    }

    /// A dark meandering river with sandy banks, or a lake: low NIR either way.
    mutating func water() {
        let colour = vary(random.chance(0.7) ? Palette.riverBlue : Palette.riverMurky, 0.1)
        var bank = PaintMask(size: size), body = PaintMask(size: size)
        if random.chance(0.75) {
            let path = wanderingPath(curviness: 0.05)
            let width = random.uniform(5, 14) * scale
            let jitter = (0..<16).map { _ in random.uniform(0.8, 1.2) }
            bank.stroke(path, radius: width + 2 * scale, widthJitter: jitter, opacity: 0.7)
            body.stroke(path, radius: width, widthJitter: jitter)
            river = path
        } else {
            let c = point(margin: 0.25), radius = random.uniform(20, 45) * scale
            bank.blob(c.x, c.y, rx: radius + 3 * scale, ry: radius * 0.8 + 3 * scale, noise: detail, distortion: 0.5, opacity: 0.6)
            body.blob(c.x, c.y, rx: radius, ry: radius * 0.8, noise: detail, distortion: 0.5)
            river = (0..<24).map { k in
                let angle = Float(k) * .pi / 12
                return (c.x + cos(angle) * radius, c.y + sin(angle) * radius * 0.8)
            }
        }
        planes.blend(bank, colour: vary(Palette.sandBank), texture: fine, strength: 0.3)
        planes.blend(body, colour: colour, texture: detail, strength: 0.25)
    }

    /// Tan and brown patches of exposed soil.
    mutating func bareGround() {
        var mask = PaintMask(size: size)
        for _ in 0..<random.integer(2...4) {
            let c = point(margin: 0.15), radius = random.uniform(14, 34) * scale
            let turn = random.uniform(0, .pi)
            mask.blob(c.x, c.y, rx: radius, ry: radius * random.uniform(0.5, 1), cosine: cos(turn), sine: sin(turn),
                      noise: detail, distortion: 0.8)
        }
        planes.blend(mask, colour: vary(random.chance(0.5) ? Palette.bareSoil : Palette.darkSoil), texture: fine, strength: 0.5)
    }

    /// Small pits of turbid ochre water in churned mud, strung along the river (or a small stream).
    mutating func artisinalMine() {
        if river == nil || river!.count < 4 {
            var stream = PaintMask(size: size)
            let path = wanderingPath(curviness: 0.05)
            stream.stroke(path, radius: 2.5 * scale)
            planes.blend(stream, colour: Palette.turbidWater.mixed(with: Palette.riverMurky, 0.4))
            river = path
        }
        let path = river!
        var mud = PaintMask(size: size), pits = PaintMask(size: size)
        // Along a stretch well inside the chip, so the pits show.
        let inside = path.indices.filter { path[$0].x > 0.2 * extent && path[$0].x < 0.8 * extent && path[$0].y > 0.2 * extent && path[$0].y < 0.8 * extent }
        let start = inside.isEmpty ? path.count / 2 : inside[random.integer(0...(inside.count - 1))]
        for _ in 0..<random.integer(10...18) {
            let p = path[min(path.count - 1, max(0, start + random.integer(-10...10)))]
            let x = p.x + random.uniform(-18, 18) * scale, y = p.y + random.uniform(-18, 18) * scale
            mud.blob(x, y, rx: 13 * scale, ry: 10 * scale, noise: detail, distortion: 0.8)
            let r = random.uniform(3, 7) * scale
            pits.blob(x, y, rx: r, ry: r * random.uniform(0.6, 1), noise: fine, distortion: 0.5)
        }
        planes.blend(mud, colour: vary(Palette.mud), texture: fine, strength: 0.5)
        planes.blend(pits, colour: vary(Palette.turbidWater, 0.05), texture: detail, strength: 0.2)
    }

    /// A big grey open pit with terraces, a pond at the bottom and a haul road.
    mutating func conventionalMine() {
        let c = point(margin: 0.3), radius = random.uniform(32, 58) * scale
        var road = PaintMask(size: size)
        road.stroke(edgeCurve(through: c, bend: 0), radius: 2 * scale)
        planes.blend(road, colour: Palette.pavedRoad)
        var pit = PaintMask(size: size)
        pit.blob(c.x, c.y, rx: radius, ry: radius * random.uniform(0.7, 1), noise: detail, distortion: 0.4)
        // Terraces: brightness steps with distance from the centre.
        var terraces = [Float](repeating: 0.5, count: size * size)
        if let box = pit.box {
            for y in box.minY...box.maxY {
                for x in box.minX...box.maxX {
                    let dx = Float(x) - c.x, dy = Float(y) - c.y
                    let d = (dx * dx + dy * dy).squareRoot() / radius
                    terraces[y * size + x] = (d * 6).truncatingRemainder(dividingBy: 1)
                }
            }
        }
        planes.blend(pit, colour: vary(Palette.pitGrey, 0.1), texture: terraces, strength: 0.35)
        var pond = PaintMask(size: size)
        pond.blob(c.x, c.y, rx: radius * 0.25, ry: radius * 0.2, noise: detail, distortion: 0.4)
        planes.blend(pond, colour: Palette.pitPond)
    }
}
