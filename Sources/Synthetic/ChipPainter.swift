import PlanetData
import Tensor

/// Paints a Planet-like chip for a label set: each label a recognisable pattern with randomness,
/// layered as the ground is (cover, then fields and clearings, water, settlements and roads, forest
/// events), then the one weather label over it all. Every random choice comes from the `SeededRandom`
/// handed in, so a (labels, seed) pair always gives the same chip.
public struct ChipPainter: Sendable {
    /// Width and height in pixels (the competition's chips are 256).
    public let size: Int

    public init(size: Int = 256) {
        precondition((8...4096).contains(size), "chip size \(size)")
        self.size = size
    }

    /// Four reflectance-like planes (R, G, B, NIR) showing `labels`.
    public func paint(_ labels: LabelSet, random: inout SeededRandom) -> PaintedChip {
        var painting = Painting(size: size, random: random.split())
        // Light and weather draw from their own stream, so adding a ground label changes only its pattern.
        let finishing = painting.random.split()
        let has = { (name: String) in labels.contains(name) }

        // Cover: rainforest, or open savanna-like ground where the chip has no primary forest.
        if has("primary") {
            painting.planes = PaintedChip(size: size)
            painting.forest()
        } else {
            painting.savanna()
            // Forest events need trees to happen in: a stand of forest under them.
            if has("blooming") || has("selective_logging") || has("blow_down") || has("slash_burn") {
                var stand = PaintMask(size: size)
                let c = painting.point(margin: 0.3)
                stand.blob(c.x, c.y, rx: 80 * painting.scale, ry: 70 * painting.scale, noise: painting.detail, distortion: 0.6)
                painting.forest(over: stand)
            }
        }
        if has("agriculture") {
            painting.agriculture(coverage: has("primary") ? painting.random.uniform(0.35, 0.7) : painting.random.uniform(0.7, 0.95))
        }
        if has("cultivation") { painting.cultivation() }
        if has("bare_ground") { painting.bareGround() }
        if has("conventional_mine") { painting.conventionalMine() }
        if has("water") { painting.water() }
        if has("artisinal_mine") { painting.artisinalMine() }
        if has("habitation") { painting.habitation() }
        if has("road") { painting.roads() }
        if has("selective_logging") { painting.selectiveLogging() }
        if has("blow_down") { painting.blowDown() }
        if has("blooming") { painting.blooming() }
        if has("slash_burn") { painting.slashBurn() }
        painting.random = finishing
        painting.illuminationJitter()

        if has("cloudy") {
            painting.cloudy()
        } else if has("partly_cloudy") {
            painting.partlyCloudy()
        } else if has("haze") {
            painting.haze()
        }
        return painting.planes
    }
}
