import Logging
import OrchestratorModel

/// Processes started before their steps' turn, held at their gates, by
/// step name: the attempt each was started for.
typealias HeldAhead = [String: (attempt: Int, process: any StepHandle)]

/// Lets every one of `held` go (it exits at its gate), in name order.
func letGo(_ held: HeldAhead) {
    for name in held.keys.sorted() { held[name]?.process.abandon() }
}

/// Starts a run's step processes, held at their gates until the write that
/// records them is stored: for their turn, ahead of it while the steps
/// before them run (`RunExecutor.prepareAhead`), and for the run's first
/// steps before `run.start` stores the run with them recorded running
/// (`Engine.startAhead`).
struct StepStarter {
    let run: Run
    let settings: EngineSettings
    let launcher: any StepLauncher
    let output: Broadcast<OutputLine>
    /// The run's logger (its id and workflow in the metadata).
    let logger: Logger

    func prepare(_ step: Step, attempt: Int, secrets: StepSecrets) -> PreparedStep {
        launcher.prepare(
            StepLaunch.spec(for: step, run: run, attempt: attempt, settings: settings, secrets: secrets), onLine: lineLogger(for: step.name, attempt: attempt))
    }

    /// Whether `step` may be started before its turn: not an approval
    /// (people decide it, nothing runs), not one that reads secrets (they
    /// are read at its turn, not before), not one refused its user.
    func mayStartAhead(_ step: Step) -> Bool {
        step.approval == nil && SecretRules.used(by: step).isEmpty && refusedUser(step) == nil
    }

    /// Why this daemon does not run `step` as the user it names: that user
    /// is not in its `run-as-users` (the run may have been started on a
    /// daemon configured otherwise, or before the configuration changed).
    func refusedUser(_ step: Step) -> String? {
        guard let user = step.runAs?.user, !settings.runAsUsers.contains(user) else { return nil }
        return "not started: runAs user '\(user)' is not in this daemon's run-as-users"
    }

    /// Where attempt `attempt` of step `step` sends each line it prints:
    /// the journal, and the followers of the run (and of its fleet) here.
    func lineLogger(for step: String, attempt: Int) -> @Sendable (String, String) -> Void {
        var lineLogger = logger
        lineLogger[metadataKey: "step"] = "\(step)"
        lineLogger[metadataKey: "attempt"] = "\(attempt)"
        let (outputLogger, output, runId, fleet) = (lineLogger, self.output, run.id, run.membership)
        return { stream, line in
            outputLogger.info("\(line)", metadata: ["stream": "\(stream)"])
            let printed = OutputLine(runId: runId, target: fleet?.target.name, step: step, attempt: attempt, stream: stream, text: line)
            output.publish(runId, printed)
            if let fleet { output.publish(fleet.fleetRunId, printed) }
        }
    }

    /// The logger of the run's executor and of its steps' lines.
    static func runLogger(_ base: Logger, for run: Run) -> Logger {
        var logger = base
        logger[metadataKey: "runId"] = "\(run.id)"
        logger[metadataKey: "workflow"] = "\(run.workflowName)"
        return logger
    }
}
