import Foundation
import OrchestratorModel

/// What a step's start needs besides its run's record: values that are
/// never stored (its secrets, the run's secret parameters).
struct StepSecrets: Sendable {
    /// The secret parameters' values (their records hold `***`).
    var params: [String: String] = [:]
    /// The values of the secrets the step uses, by name.
    var values: [String: String] = [:]

    static let none = StepSecrets()

    /// What must be masked in the step's output: every value it was given.
    var masks: [String] { Array(params.values) + Array(values.values) }
}

/// Turns a step of a run into the process to start: parameters and secrets
/// substituted, the environment assembled, the program found on PATH.
enum StepLaunch {
    static func spec(for step: Step, run: Run, attempt: Int, settings: EngineSettings, secrets: StepSecrets = .none) -> ProcessSpec {
        let target = run.membership?.target
        let params = run.params.merging(secrets.params) { _, secret in secret }
        let action = Parameters.resolve(step.action, params, target: target, secrets: secrets.values)
        var environment = EngineSettings.baseEnvironment
        environment.merge(action.env) { _, own in own }
        for (name, value) in params { environment[Parameters.environmentName(name)] = value }
        for name in step.secrets { environment[SecretRules.environmentName(name)] = secrets.values[name] }
        if let target {
            environment["ORCH_TARGET"] = target.name
            for (name, value) in target.vars { environment[TargetRules.environmentName(name)] = value }
        }
        environment["ORCH_RUN_ID"] = run.id
        environment["ORCH_WORKFLOW"] = run.workflowName
        environment["ORCH_STEP"] = step.name
        environment["ORCH_ATTEMPT"] = String(attempt)
        let program = action.exec.first ?? ""
        var spec = ProcessSpec(
            program: resolve(program, path: environment["PATH"] ?? ""),
            arguments: Array(action.exec.dropFirst()),
            environment: environment,
            workingDirectory: action.cwd ?? settings.workingDirectory,
            gate: settings.stepGate,
            timeout: step.timeoutSeconds.map { .seconds($0) },
            killGrace: settings.killGrace)
        spec.runAs = step.runAs
        spec.masks = secrets.masks
        return spec
    }

    /// A bare name is looked up on the step's PATH, as a shell would.
    static func resolve(_ program: String, path: String) -> String {
        // Bytes, not Foundation's `contains`, which costs a string search per step.
        guard !program.utf8.contains(UInt8(ascii: "/")) else { return program }
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return program
    }
}
