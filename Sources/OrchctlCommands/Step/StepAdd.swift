import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct StepAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a step that runs a command (an argv, no shell) to a workflow.",
        discussion: """
            Everything after -- is the command and its arguments, run without a shell. \
            {{params.NAME}} in an argument is replaced by a run parameter; every parameter \
            is also in the environment as ORCH_PARAM_NAME. Steps with the same --order run \
            in parallel.

            Examples:
              orchctl step add vlan-rollout backup --order 0 --timeout 60 -- \\
                  /usr/local/bin/backup {{params.switch}}
              orchctl step add vlan-rollout verify --order 2 --retries 3 -- \\
                  /usr/bin/ping -c 1 {{params.switch}}
              orchctl step add audit report --order 5 --continue-on-failure -- /bin/sh \\
                  -c 'echo "$ORCH_PARAM_SWITCH" >> /var/tmp/audit'
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var step: StepAddress
    @Option(parsing: .unconditional, help: "Execution order (>= 0); equal orders run in parallel.") var order: Int
    @Option(help: "What the step does.") var description: String = ""
    @Option(parsing: .unconditional, help: "Seconds before the step is killed (timed_out).") var timeout: Int?
    @Option(parsing: .unconditional, help: "Extra attempts after a failure (0-100).") var retries: Int = 0
    @Option(parsing: .unconditional, help: "Seconds before the first retry, doubled for each further one.") var retryDelay: Int = 1
    @Flag(help: "Let later steps run even if this one fails.") var continueOnFailure = false
    @Flag(help: "The step may safely run again after a crash interrupted it.") var idempotent = false
    @Option(help: ArgumentHelp("Environment variable for the command (repeatable).", valueName: "KEY=VALUE")) var env: [String] = []
    @Option(help: "Working directory (absolute).") var cwd: String?
    @Option(name: .customLong("lock"), help: ArgumentHelp("A lock held while the step runs, e.g. 'device:{{target.name}}' (repeatable).", valueName: "NAME"))
    var locks: [String] = []
    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.") var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("give the command after --, e.g. -- /bin/echo hello") }
        _ = try environment(env)
    }

    func run() throws {
        try reporting {
            let added = Step(
                name: step.name, description: description, executionOrder: order,
                action: Action(exec: command, env: try environment(env), cwd: cwd), timeoutSeconds: timeout,
                retries: retries, retryDelaySeconds: retryDelay, continueOnFailure: continueOnFailure, idempotent: idempotent, locks: locks)
            let workflow = try global.call(RPCMethods.stepAdd, StepAddParams(workflow: step.workflow, step: added))
            global.emit(workflow) { "step \(step.name) added to workflow \(step.workflow) (version \($0.version))\n" }
        }
    }
}
