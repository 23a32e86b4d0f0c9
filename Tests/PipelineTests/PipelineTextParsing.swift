import Pipeline

/// A pipeline file's text parsed as `p.yaml` (its name `p`), and the one-line error it gives: what
/// the config tests compare with.
protocol PipelineTextParsing {}

extension PipelineTextParsing {
    func parse(_ text: String) throws -> PipelineConfig { try PipelineConfig.parse(text, file: "p.yaml", defaultName: "p") }

    /// The error's text, or "no error".
    func error(_ text: String) -> String {
        do { _ = try parse(text); return "no error" } catch { return "\(error)" }
    }
}
