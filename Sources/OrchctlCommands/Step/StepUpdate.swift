import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct StepUpdate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Change some of a step's fields; the others stay as they are.",
        discussion: """
            A command after -- replaces the step's command.

            Examples:
              orchctl step update vlan-rollout verify --order 3 --retries 5
              orchctl step update vlan-rollout verify --no-timeout
              orchctl step update vlan-rollout push -- /usr/local/bin/push-vlan \\
                  --vlan {{params.vlan}}
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var step: StepAddress
    @Option(parsing: .unconditional, help: "New execution order.") var order: Int?
    @Option(help: "New description.") var description: String?
    @Option(parsing: .unconditional, help: "New timeout in seconds.") var timeout: Int?
    @Flag(help: "Remove the timeout.") var noTimeout = false
    @Option(parsing: .unconditional, help: "New number of retries.") var retries: Int?
    @Option(parsing: .unconditional, help: "New first retry delay in seconds.") var retryDelay: Int?
    @Option(name: .customLong("continue-on-failure"), help: "true or false.") var continueOnFailure: Bool?
    @Option(help: "true or false.") var idempotent: Bool?
    @Option(name: .customLong("name"), help: "Rename the step.") var newName: String?
    @Option(help: ArgumentHelp("Replace the environment (repeatable); needs a command after --.", valueName: "KEY=VALUE")) var env: [String] = []
    @Option(help: "Replace the working directory; needs a command after --.") var cwd: String?
    @Argument(parsing: .postTerminator, help: "A new command and its arguments, after --.") var command: [String] = []

    func validate() throws {
        if timeout != nil && noTimeout { throw ValidationError("--timeout and --no-timeout contradict each other") }
        if (!env.isEmpty || cwd != nil) && command.isEmpty { throw ValidationError("--env and --cwd replace the action: give the command after -- too") }
        if let newName { try checkName(newName, what: "new step name") }
        guard !changes.isEmpty else { throw ValidationError("nothing to change: give at least one option or a command after --") }
    }

    private var changes: StepChanges {
        StepChanges(
            name: newName, description: description, executionOrder: order,
            action: command.isEmpty ? nil : Action(exec: command, env: (try? environment(env)) ?? [:], cwd: cwd),
            // --no-timeout sends an explicit null, which removes the timeout.
            timeoutSeconds: noTimeout ? .some(nil) : timeout.map { .some($0) },
            retries: retries, retryDelaySeconds: retryDelay, continueOnFailure: continueOnFailure, idempotent: idempotent)
    }

    func run() throws {
        try reporting {
            let workflow = try global.call(RPCMethods.stepUpdate, StepUpdateParams(workflow: step.workflow, name: step.name, changes: changes))
            global.emit(workflow) { "step \(newName ?? step.name) updated in workflow \(step.workflow) (version \($0.version))\n" }
        }
    }
}
