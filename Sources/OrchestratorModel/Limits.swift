/// Upper bounds on what one workflow may hold. They keep a document far below
/// MongoDB's 16 MiB limit and keep a single request from exhausting memory.
public enum Limits {
    public static let descriptionLength = 4096
    public static let stepsPerWorkflow = 1000
    public static let argvCount = 256
    public static let argumentLength = 8192
    public static let envCount = 128
    public static let envValueLength = 8192
    public static let cwdLength = 4096
    public static let executionOrder = 1_000_000
    public static let timeoutSeconds = 7 * 24 * 3600
    public static let retries = 0...100
    public static let retryDelaySeconds = 0...3600
    public static let pageSize = 1...1000
    public static let defaultPageSize = 100
}

extension Limits {
    /// What a run's record keeps of each stream of a step: its last 64 KiB.
    public static let stepOutputBytes = 64 * 1024
    /// What a run's record keeps of all its steps' output together: the
    /// run's document stays far below MongoDB's 16 MiB limit however much
    /// its steps print (the journal has the whole output).
    public static let runOutputBytes = 4 * 1024 * 1024
}

extension Limits {
    /// How many targets one fleet run may work on: the run's own document
    /// lists them (name, batch, id: about 100 bytes each).
    public static let targetsPerRun = 10_000
}
