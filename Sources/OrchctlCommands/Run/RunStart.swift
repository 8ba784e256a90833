import ArgumentParser
import Foundation
import OrchestratorClient
import OrchestratorModel
import OrchestratorProtocol

struct RunStart: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start a run of a workflow, optionally following it to the end.",
        discussion: """
            Each -p KEY=VALUE fills {{params.KEY}} in the steps and is in their environment as \
            ORCH_PARAM_KEY. With --watch, orchctl shows each step's progress and exits 0 if the \
            run succeeded, 1 if it failed or was cancelled.

            Every start carries a request id (a new one unless --request-id is given). If the \
            connection drops or the daemon answers that MongoDB was unreachable or did not answer, \
            orchctl asks once more with the same id: the daemon answers with the run the first \
            request started, if it did, so a run is never started twice. If it still cannot tell, \
            orchctl says so and prints the id to repeat the command with.

            A fleet run works on targets (see 'orchctl target'): those --targets selects by \
            label, or each --target named. Their steps run once per target, in batches \
            (--batch, a count or a percentage; default all at once), and a step sees \
            ORCH_TARGET, ORCH_TARGET_<VAR> and {{target.name}}, {{target.VAR}}. When more than \
            --max-fail of the targets finished so far failed, no further batch starts.

            Examples:
              orchctl run start vlan-rollout -p switch=sw1 -p vlan=120 --watch
              orchctl -o json run start config-backup \\
                  -p dest=/var/lib/orchestrator/backups
              orchctl run start vlan-push --targets site=ams,group=leaf --batch 10% \\
                  --max-fail 5% -p vlan=120 --watch
              orchctl run start firmware --target leaf01.ams --target leaf02.ams
              orchctl run start vlan-rollout --version 3 -p switch=sw1 -p vlan=120
              orchctl run start enable-ssh -p switch=sw1 --secret-param enable

            A workflow's secret parameters (secretParams) are shown as *** everywhere; give \
            them with --secret-param so that they are not on the command line either.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var workflow: WorkflowName
    @OptionGroup var parameters: ParamOptions
    @OptionGroup var secretParameters: SecretParamOptions
    @Flag(help: "Follow the run until it ends; the exit status is the run's outcome.") var watch = false
    @Option(help: ArgumentHelp("Repeat an earlier start whose outcome was unknown: the run it started, if any, is answered instead of a new one (within 24 h).", valueName: "ID"))
    var requestId: String?
    @OptionGroup var fleetOptions: FleetOptions
    @Option(parsing: .unconditional, help: ArgumentHelp("Run the workflow as it was at this version (see 'orchctl workflow history'; default: as it is now).", valueName: "N"))
    var version: Int?

    func validate() throws {
        if let requestId, let problem = RequestIdRule.problem(requestId) { throw ValidationError("--request-id \(problem)") }
        if let version, version < 1 { throw ValidationError("--version must be 1 or more") }
    }

    func run() throws {
        try reporting {
            let fleet = try fleetOptions.fleet()
            let request = RunStartParams(
                workflow: workflow.name, params: try secretParameters.adding(to: parameters.values()), requestId: requestId ?? UUID().uuidString.lowercased(),
                targets: fleet?.targets, batchSize: fleet?.batchSize, maxFailPercentage: fleet?.maxFail, version: version)
            let (connection, started) = try startOnceAtMostTwice(request)
            guard watch else {
                global.emit(started) { run in
                    let of = "\(workflow.name) (version \(run.workflowVersion))"
                    guard let fleet = run.fleet else { return "run \(run.id) of \(of) \(run.status.rawValue)\n" }
                    return "fleet run \(run.id) of \(of) \(run.status.rawValue): \(fleet.targets.count) targets in \(fleet.batchCount) batches\n"
                }
                return
            }
            let id = started.result.id
            if global.output == .table { print("run \(id) of \(workflow.name) (version \(started.result.workflowVersion)) started") }
            // A fleet's matrix is read as it is now; a run's steps are all in the answer, as its events will be.
            let known = started.result.fleet == nil ? started.result : nil
            let final = try follow(connection, runId: id, known: known, output: global.output, reconnect: global.connect)
            try exitForOutcome(final.result)
        }
    }

    /// Sends the start; when the connection drops or the database was
    /// unreachable or did not answer, sends it once more with the same
    /// request id (the daemon answers with the run the first one started,
    /// if it did).
    private func startOnceAtMostTwice(_ request: RunStartParams) throws -> (RPCConnection, RPCReply<Run>) {
        var firstWasUnknown = false
        for attempt in 1...2 {
            let connection = try global.connect()
            do {
                return (connection, try connection.reply(RPCMethods.runStart, request))
            } catch {
                let retryable: Bool
                switch error {
                case .broken: (retryable, firstWasUnknown) = (true, true)
                case .rpc(let rpc) where rpc.code == .outcomeUnknown: (retryable, firstWasUnknown) = (true, true)
                case .rpc(let rpc) where rpc.code == .storageUnavailable: retryable = true
                default: retryable = false
                }
                guard retryable, attempt == 1 else {
                    guard firstWasUnknown else { throw Failure.from(error) }
                    throw Failure(
                        message: "\(Failure.from(error).message)\nwhether the run was started is unknown; to find out without starting it twice, repeat: orchctl run start \(workflow.name) --request-id \(request.requestId ?? "") ...",
                        code: 1)
                }
                Thread.sleep(forTimeInterval: 1)
            }
        }
        preconditionFailure("the loop returns or throws")
    }
}
