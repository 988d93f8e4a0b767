/// The version of Pier, printed by `pier version` and sent in `Server` headers.
public enum PierVersion {
    /// The semantic version of this build.
    public static let current = "0.1.0"
}
