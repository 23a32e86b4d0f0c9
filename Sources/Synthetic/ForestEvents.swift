import Foundation

/// What happens inside the forest: blooming, logging, burning, wind-throw.
extension Painting {
    /// Scattered bright yellow crowns in one stand of the forest.
    mutating func blooming() {
        let c = point(margin: 0.25), reach = random.uniform(35, 75) * scale
        var crowns = PaintMask(size: size)
        for _ in 0..<random.integer(25...60) {
            let x = c.x + (random.uniform(-1, 1) + random.uniform(-1, 1)) * reach * 0.6
            let y = c.y + (random.uniform(-1, 1) + random.uniform(-1, 1)) * reach * 0.6
            crowns.disc(x, y, radius: random.uniform(1.6, 3.4) * scale, opacity: random.uniform(0.75, 1))
        }
        planes.blend(crowns, colour: vary(Palette.bloom, 0.06), texture: fine, strength: 0.3)
    }

    /// Thin brown winding tracks with branches and small log-deck clearings.
    mutating func selectiveLogging() {
        var tracks = PaintMask(size: size), decks = PaintMask(size: size)
        for _ in 0..<random.integer(1...2) {
            let main = wanderingPath(curviness: 0.06)
            tracks.stroke(main, radius: 1.15 * scale)
            for _ in 0..<random.integer(2...4) {
                let from = main[random.integer(0...(main.count - 1))]
                guard from.x > 0, from.y > 0, from.x < extent, from.y < extent else { continue }
                var branch = wanderingPath(curviness: 0.08, from: from)
                branch = Array(branch.prefix(random.integer(8...20)))
                tracks.stroke(branch, radius: 0.95 * scale)
                if let end = branch.last { decks.blob(end.x, end.y, rx: 6 * scale, ry: 4.5 * scale, noise: fine, distortion: 0.6) }
            }
        }
        planes.blend(tracks, colour: vary(Palette.loggingTrack))
        planes.blend(decks, colour: vary(Palette.clearing), texture: fine, strength: 0.4)
    }

    /// Dark charred patches with scorched rims and a drifting plume of smoke.
    mutating func slashBurn() {
        var rim = PaintMask(size: size), burnt = PaintMask(size: size), smoke = PaintMask(size: size)
        for _ in 0..<random.integer(1...2) {
            let c = point(margin: 0.2), radius = random.uniform(10, 24) * scale
            let ry = radius * random.uniform(0.6, 1)
            rim.blob(c.x, c.y, rx: radius + 3 * scale, ry: ry + 3 * scale, noise: detail, distortion: 0.7)
            burnt.blob(c.x, c.y, rx: radius, ry: ry, noise: detail, distortion: 0.7)
            let drift = random.uniform(0, 2 * .pi), dx = cos(drift), dy = sin(drift)
            for k in 0..<6 {
                let t = Float(k) * 7 * scale
                let r = (5 + Float(k) * 3) * scale
                smoke.blob(c.x + dx * t, c.y + dy * t, rx: r, ry: r, noise: detail, distortion: 0.5,
                           softness: 1, opacity: 0.55 - 0.07 * Float(k))
            }
        }
        planes.blend(rim, colour: vary(Palette.scorched), texture: fine, strength: 0.4)
        planes.blend(burnt, colour: Palette.char, texture: fine, strength: 0.6)
        planes.blend(smoke, colour: Palette.smoke, texture: detail, strength: 0.3)
    }

    /// A lighter patch of fallen trees, streaked in the direction the wind laid them.
    mutating func blowDown() {
        let c = point(margin: 0.25)
        let rx = random.uniform(45, 70) * scale, ry = random.uniform(22, 36) * scale
        let turn = random.uniform(0, .pi), cosine = cos(turn), sine = sin(turn)
        var patch = PaintMask(size: size)
        patch.blob(c.x, c.y, rx: rx, ry: ry, cosine: cosine, sine: sine, noise: detail, distortion: 0.5)
        // Streaks across the patch: a sawtooth of the position along the fall direction, plus grain.
        let period = random.uniform(3, 5) * scale
        var streaks = [Float](repeating: 0.5, count: size * size)
        if let box = patch.box {
            for y in box.minY...box.maxY {
                for x in box.minX...box.maxX {
                    let across = Float(x) * -sine + Float(y) * cosine
                    let phase = (across / period).truncatingRemainder(dividingBy: 1)
                    streaks[y * size + x] = (phase < 0 ? phase + 1 : phase) * 0.8 + 0.2 * fine[y * size + x]
                }
            }
        }
        planes.blend(patch, colour: vary(Palette.fallenTrees, 0.06), texture: streaks, strength: 0.7)
    }

    /// The value below which `fraction` of `plane` lies, estimated from a regular sample of 1,024 pixels.
    static func quantile(_ plane: [Float], _ fraction: Float) -> Float {
        let stride = max(1, plane.count / 1024)
        var sample: [Float] = []
        sample.reserveCapacity(plane.count / stride + 1)
        var i = stride / 2
        while i < plane.count { sample.append(plane[i]); i += stride }
        sample.sort()
        let k = min(sample.count - 1, max(0, Int(fraction * Float(sample.count))))
        return sample[k]
    }
}
