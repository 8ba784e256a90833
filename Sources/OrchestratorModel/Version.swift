/// The version of the daemon, orchctl and the protocol they speak: one
/// string for `orchestratord --version` and `daemon.status`.
public enum OrchestratorVersion {
    public static let current = "0.1.0"
}
