import Foundation
import OrchestratorModel

/// Turns a step of a run into the process to start: parameters substituted,
/// the environment assembled, the program found on PATH.
enum StepLaunch {
    static func spec(for step: Step, run: Run, attempt: Int, settings: EngineSettings) -> ProcessSpec {
        let target = run.membership?.target
        let action = Parameters.resolve(step.action, run.params, target: target)
        var environment = EngineSettings.baseEnvironment
        environment.merge(action.env) { _, own in own }
        for (name, value) in run.params { environment[Parameters.environmentName(name)] = value }
        if let target {
            environment["ORCH_TARGET"] = target.name
            for (name, value) in target.vars { environment[TargetRules.environmentName(name)] = value }
        }
        environment["ORCH_RUN_ID"] = run.id
        environment["ORCH_WORKFLOW"] = run.workflowName
        environment["ORCH_STEP"] = step.name
        environment["ORCH_ATTEMPT"] = String(attempt)
        let program = action.exec.first ?? ""
        return ProcessSpec(
            program: resolve(program, path: environment["PATH"] ?? ""),
            arguments: Array(action.exec.dropFirst()),
            environment: environment,
            workingDirectory: action.cwd ?? settings.workingDirectory,
            gate: settings.stepGate,
            timeout: step.timeoutSeconds.map { .seconds($0) },
            killGrace: settings.killGrace)
    }

    /// A bare name is looked up on the step's PATH, as a shell would.
    static func resolve(_ program: String, path: String) -> String {
        guard !program.contains("/") else { return program }
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return program
    }
}
