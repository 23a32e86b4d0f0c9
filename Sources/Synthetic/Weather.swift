/// The weather over a painted chip: exactly one of clear, haze, partly_cloudy, cloudy.
extension Painting {
    /// Haze: a blend toward bright grey-blue that flattens contrast; NIR is veiled less.
    mutating func haze() {
        let amount = random.uniform(0.3, 0.45)
        let veil = ValueNoise.plane(size: size, cell: 110 * scale, random: &random)
        let colour = vary(Reflectance(0.70, 0.72, 0.77, 0.55), 0.05)
        planes.withPlanes { r, g, b, n in
            for i in 0..<(size * size) {
                let h = amount + 0.25 * (veil[i] - 0.5)
                r[i] += (colour.red - r[i]) * h
                g[i] += (colour.green - g[i]) * h
                b[i] += (colour.blue - b[i]) * h
                n[i] += (colour.nearInfrared - n[i]) * h * 0.6
            }
        }
    }

    /// Some soft white cloud blobs, each with its shadow cast a little to one side.
    mutating func partlyCloudy() {
        let cover = random.uniform(0.12, 0.45)
        let field = ValueNoise.fractal(size: size, cell: 80 * scale, octaves: 4, random: &random)
        let threshold = Self.quantile(field, 1 - cover)
        let clouds = PaintMask(size: size, values: field.map { ($0 - threshold) * 7 + 0.15 })
        let shiftX = Int(random.uniform(-18, 18) * scale), shiftY = Int(random.uniform(6, 18) * scale)
        planes.darken(clouds, amount: 0.5, shiftX: shiftX, shiftY: shiftY)
        planes.blend(clouds, colour: Reflectance(0.94, 0.94, 0.95, 0.86), texture: detail, strength: 0.12)
    }

    /// Cloud over (almost) everything: the ground does not show, as cloudy chips carry no ground label.
    mutating func cloudy() {
        let field = ValueNoise.fractal(size: size, cell: 100 * scale, octaves: 4, random: &random)
        let clouds = PaintMask(size: size, values: field.map { 0.9 + 0.25 * $0 })
        let brightness = random.uniform(0.78, 0.97)
        let shading = zip(field, detail).map { 0.7 * $0 + 0.3 * $1 }
        planes.blend(clouds, colour: Reflectance(brightness, brightness, brightness * 1.01, brightness * 0.9),
                     texture: shading, strength: 0.25)
    }

    /// A small change of overall brightness and colour balance, as sun angle and season give.
    mutating func illuminationJitter() {
        let gain = random.uniform(0.9, 1.1)
        let red = gain * random.uniform(0.95, 1.05), green = gain * random.uniform(0.95, 1.05)
        let blue = gain * random.uniform(0.95, 1.05), nearInfrared = gain * random.uniform(0.95, 1.05)
        planes.withPlanes { r, g, b, n in
            for i in 0..<(size * size) {
                r[i] *= red; g[i] *= green; b[i] *= blue; n[i] *= nearInfrared
            }
        }
    }
}
