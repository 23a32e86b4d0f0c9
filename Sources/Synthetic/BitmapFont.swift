/// A tiny 5×7 pixel font (lowercase letters, digits, `_ : - . ,`) for captions on preview images, so
/// no font file or library is needed. Uppercase letters are drawn as lowercase; other characters blank.
enum BitmapFont {
    static let glyphWidth = 5
    static let glyphHeight = 7

    /// Each glyph as 7 rows of 5 pixels, `#` set.
    private static let glyphs: [Character: [String]] = [
        "a": [".....", ".....", ".###.", "....#", ".####", "#...#", ".####"],
        "b": ["#....", "#....", "####.", "#...#", "#...#", "#...#", "####."],
        "c": [".....", ".....", ".###.", "#....", "#....", "#...#", ".###."],
        "d": ["....#", "....#", ".####", "#...#", "#...#", "#...#", ".####"],
        "e": [".....", ".....", ".###.", "#...#", "#####", "#....", ".###."],
        "f": ["..##.", ".#..#", ".#...", "###..", ".#...", ".#...", ".#..."],
        "g": [".....", ".....", ".####", "#...#", ".####", "....#", ".###."],
        "h": ["#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#"],
        "i": ["..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###."],
        "j": ["...#.", ".....", "..##.", "...#.", "...#.", "#..#.", ".##.."],
        "k": ["#....", "#....", "#..#.", "#.#..", "##...", "#.#..", "#..#."],
        "l": [".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."],
        "m": [".....", ".....", "##.#.", "#.#.#", "#.#.#", "#...#", "#...#"],
        "n": [".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#"],
        "o": [".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###."],
        "p": [".....", ".....", "####.", "#...#", "####.", "#....", "#...."],
        "q": [".....", ".....", ".####", "#...#", ".####", "....#", "....#"],
        "r": [".....", ".....", "#.##.", "##..#", "#....", "#....", "#...."],
        "s": [".....", ".....", ".####", "#....", ".###.", "....#", "####."],
        "t": [".#...", ".#...", "###..", ".#...", ".#...", ".#..#", "..##."],
        "u": [".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#"],
        "v": [".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#.."],
        "w": [".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#."],
        "x": [".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#"],
        "y": [".....", ".....", "#...#", "#...#", ".####", "....#", ".###."],
        "z": [".....", ".....", "#####", "...#.", "..#..", ".#...", "#####"],
        "0": [".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."],
        "1": ["..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."],
        "2": [".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"],
        "3": ["#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."],
        "4": ["...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."],
        "5": ["#####", "#....", "####.", "....#", "....#", "#...#", ".###."],
        "6": ["..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."],
        "7": ["#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."],
        "8": [".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."],
        "9": [".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."],
        "_": [".....", ".....", ".....", ".....", ".....", ".....", "#####"],
        ":": [".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."],
        "-": [".....", ".....", ".....", ".###.", ".....", ".....", "....."],
        ".": [".....", ".....", ".....", ".....", ".....", ".##..", ".##.."],
        ",": [".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."],
    ]

    /// Whether the pixel (`column`, `row`) of `character`'s glyph is set.
    static func isSet(_ character: Character, column: Int, row: Int) -> Bool {
        guard let glyph = glyphs[Character(character.lowercased())] else { return false }
        let line = glyph[row]
        return line[line.index(line.startIndex, offsetBy: column)] == "#"
    }

    /// Pixels from one glyph's left edge to the next at `scale`: the glyph plus one pixel of spacing.
    static func advance(scale: Int) -> Int { (glyphWidth + 1) * scale }

    /// Draws `text` into an 8-bit RGB buffer (`width` pixels a row) with its top-left corner at (`x`, `y`),
    /// every font pixel a `scale`×`scale` square of `colour`; whatever falls outside is clipped.
    static func draw(_ text: String, into pixels: inout [UInt8], width: Int, height: Int, x: Int, y: Int,
                     scale: Int, colour: (UInt8, UInt8, UInt8)) {
        var left = x
        for character in text {
            for row in 0..<glyphHeight {
                for column in 0..<glyphWidth where isSet(character, column: column, row: row) {
                    for dy in 0..<scale {
                        for dx in 0..<scale {
                            let px = left + column * scale + dx, py = y + row * scale + dy
                            guard px >= 0, px < width, py >= 0, py < height else { continue }
                            let i = (py * width + px) * 3
                            pixels[i] = colour.0
                            pixels[i + 1] = colour.1
                            pixels[i + 2] = colour.2
                        }
                    }
                }
            }
            left += advance(scale: scale)
        }
    }

    /// Words of `text` packed greedily into lines of at most `limit` characters (a longer word is cut).
    static func wrap(_ text: String, limit: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            var word = String(word)
            while word.count > limit {
                if !line.isEmpty { lines.append(line); line = "" }
                lines.append(String(word.prefix(limit)))
                word = String(word.dropFirst(limit))
            }
            if line.isEmpty { line = word } else if line.count + 1 + word.count <= limit { line += " " + word } else {
                lines.append(line)
                line = word
            }
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }
}
