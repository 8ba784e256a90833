import ArgumentParser
import OrchestratorProtocol

struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the daemon's metrics, as Prometheus scrapes them.",
        discussion: """
            Runs started and finished by status, step durations, active runs and \
            steps, lease take-overs, MongoDB operation times and errors, requests \
            by method and outcome, connections: counted since the daemon started, \
            in Prometheus's text format.

            For Prometheus itself, set metrics-listen = 127.0.0.1:9469 in \
            orchestratord.conf and scrape http://127.0.0.1:9469/metrics.

            Examples:
              orchctl metrics
              orchctl metrics | grep '^orchestrator_runs_finished_total'
            """
    )

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try reporting {
            global.emit(try global.call(RPCMethods.metricsGet, NoParams())) { $0.text }
        }
    }
}
