import ImageIO
import PlanetData
import Support
import Tensor

/// A contact sheet of synthetic chips, for a person to check that every label shows: one cell per label
/// (a chip whose label set contains it, the label's name in yellow under it, then its whole tag list),
/// then a few chips drawn as the dataset draws them, captioned with their tags.
public enum SyntheticPreview {
    /// Pixels of each chip on the sheet: 17 characters of the 2× font fit under it.
    public static let chipSize = 204
    static let fontScale = 2
    static let padding = 6
    static let captionLines = 4
    static let columns = 6

    /// The sheet as an 8-bit RGB image: 17 label cells and `randomChips` more.
    public static func render(seed: UInt64, randomChips: Int = 7, distribution: LabelSetDistribution = .real) -> Image {
        var cells: [(labels: LabelSet, highlight: String?, random: SeededRandom)] = []
        for label in 0..<PlanetLabels.count {
            var random = SyntheticDataset.chipRandom(seed: seed, split: .train, index: 1_000_000 + label)
            let sets = distribution.restricted(toSetsContaining: label) ?? LabelSetDistribution(sets: [LabelSet(indices: [label])], counts: [1])
            cells.append((sets.draw(&random), PlanetLabels.names[label], random))
        }
        for k in 0..<randomChips {
            var random = SyntheticDataset.chipRandom(seed: seed, split: .train, index: 2_000_000 + k)
            cells.append((distribution.draw(&random), nil, random))
        }

        let lineHeight = (BitmapFont.glyphHeight + 1) * fontScale
        let cellWidth = chipSize + 2 * padding
        let cellHeight = padding + chipSize + 4 + captionLines * lineHeight + padding
        let headerHeight = lineHeight + 2 * padding
        let rows = (cells.count + columns - 1) / columns
        let width = columns * cellWidth, height = headerHeight + rows * cellHeight
        var pixels = [UInt8](repeating: 28, count: width * height * 3)
        BitmapFont.draw("canopy synth preview, seed \(seed): one cell per label, then random chips", into: &pixels,
                        width: width, height: height, x: padding, y: padding, scale: fontScale, colour: (200, 200, 200))

        let painter = ChipPainter(size: chipSize)
        let charactersPerLine = chipSize / BitmapFont.advance(scale: fontScale)
        for (n, cell) in cells.enumerated() {
            let left = (n % columns) * cellWidth + padding, top = headerHeight + (n / columns) * cellHeight + padding
            var random = cell.random
            let chip = painter.paint(cell.labels, random: &random).rgbImage()
            guard case .uint8(let samples) = chip.samples else { continue }
            for y in 0..<chipSize {
                let from = y * chipSize * 3, to = ((top + y) * width + left) * 3
                pixels.replaceSubrange(to..<(to + chipSize * 3), with: samples[from..<(from + chipSize * 3)])
            }
            var lines: [(String, (UInt8, UInt8, UInt8))] = []
            if let highlight = cell.highlight { lines.append((highlight, (255, 220, 60))) }
            let tags = BitmapFont.wrap(cell.labels.tags, limit: charactersPerLine)
            lines += tags.map { ($0, cell.highlight == nil ? (235, 235, 235) : (150, 150, 150)) }
            for (k, line) in lines.prefix(captionLines).enumerated() {
                BitmapFont.draw(line.0, into: &pixels, width: width, height: height, x: left,
                                y: top + chipSize + 4 + k * lineHeight, scale: fontScale, colour: line.1)
            }
        }
        return Image(width: width, height: height, bandOrder: .rgb, samples: .uint8(pixels))
    }

    /// Renders the sheet and writes it as a PNG at `path`.
    public static func write(seed: UInt64, to path: String) throws(SyntheticDatasetError) {
        let png: [UInt8]
        do { png = try PNGCodec.encode(render(seed: seed), file: path) } catch {
            throw SyntheticDatasetError(path: path, reason: error.description)
        }
        do { try AtomicFile.write(png, to: path) } catch {
            throw SyntheticDatasetError(path: path, reason: "cannot write: \(error.reason)")
        }
    }
}
