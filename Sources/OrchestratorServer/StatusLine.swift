import Foundation

/// The STATUS= text systemd shows.
struct StatusLine: Sendable {
    let socket: String

    func text(activeRuns: Int) -> String {
        "serving on \(socket); \(activeRuns) run\(activeRuns == 1 ? "" : "s") active"
    }
}
