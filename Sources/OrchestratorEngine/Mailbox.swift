import NIOConcurrencyHelpers

/// The executor's inbox: whoever posts never waits; the executor takes
/// everything that arrived since it last looked.
final class Mailbox: Sendable {
    private let messages = NIOLockedValueBox<[RunExecutor.Message]>([])
    private let doorbell = Doorbell()

    var wakeups: AsyncStream<Void> { doorbell.rings }

    func post(_ message: RunExecutor.Message) {
        messages.withLockedValue { $0.append(message) }
        doorbell.ring()
    }

    func take() -> [RunExecutor.Message] {
        messages.withLockedValue { queued in
            defer { queued.removeAll() }
            return queued
        }
    }

    var isClosed: Bool { doorbell.isClosed }

    func close() {
        doorbell.close()
    }
}
