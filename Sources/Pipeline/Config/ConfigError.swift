/// A pipeline file that cannot be used: the file, the line, the key's path and the problem, e.g.
/// `pipelines/x.yaml:14: models.0.epochs: expected a whole number, got "ten"`.
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var path: String
    public var problem: String

    public init(file: String, line: Int?, path: String, problem: String) {
        self.file = file
        self.line = line
        self.path = path
        self.problem = problem
    }

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return path.isEmpty ? "\(place): \(problem)" : "\(place): \(path): \(problem)"
    }
}
