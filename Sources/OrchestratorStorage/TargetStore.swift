import OrchestratorModel

/// Where targets are kept. Inputs arrive validated (TargetService); a store
/// only says which guard failed (a name taken, a target missing).
public protocol TargetStore: Sendable {
    /// Conflict when the name is taken.
    func createTarget(_ target: Target) async throws(OrchestratorError)
    func target(named name: String) async throws(OrchestratorError) -> Target
    /// Ordered by name, those `selector` matches (all when nil); `after` is
    /// the `next` cursor of the previous page.
    func listTargets(selector: TargetSelector?, limit: Int, after: String?) async throws(OrchestratorError) -> Page<Target>
    /// Applies `changes` as one atomic change of the stored target (no
    /// concurrent update is lost). Conflict when the new name is taken.
    func updateTarget(named name: String, _ changes: TargetChanges) async throws(OrchestratorError) -> Target
    func deleteTarget(named name: String) async throws(OrchestratorError)
}

extension OrchestratorError {
    public static func targetNameTaken(_ name: String) -> OrchestratorError {
        .conflict("a target named '\(name)' already exists", details: ["name": name])
    }
}
