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

    private let tickOnItsWay = NIOLockedValueBox(false)

    /// Posts a tick after `delay`, unless one is on its way already: the
    /// executor's polls (of its members, of a lock it waits for) keep one
    /// timer at a time, so wake-ups from elsewhere never leave timers behind to multiply.
    func tick(after delay: Duration, in world: EngineWorld) {
        guard tickOnItsWay.withLockedValue({ onItsWay in
            defer { onItsWay = true }
            return !onItsWay
        }) else { return }
        world.spawn { [self] in
            await world.clock.sleep(for: delay)
            tickOnItsWay.withLockedValue { $0 = false }
            post(.tick)
        }
    }

    var isClosed: Bool { doorbell.isClosed }

    func close() {
        doorbell.close()
    }
}
