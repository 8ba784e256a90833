import NIOConcurrencyHelpers

/// Opens once; whoever waits is let go then (or when its task is cancelled).
final class Latch: Sendable {
    private struct State {
        var open = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = NIOLockedValueBox(State())

    func open() {
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.open = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        let id = state.withLockedValue { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let goNow = state.withLockedValue { state -> Bool in
                    if state.open || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if goNow { continuation.resume() }
            }
        } onCancel: { [state] in
            state.withLockedValue { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}

extension EngineClock {
    /// Returns after `duration`, or as soon as `latch` opens.
    func sleep(for duration: Duration, orUntil latch: Latch) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.sleep(for: duration) }
            group.addTask { await latch.wait() }
            await group.next()
            group.cancelAll()
        }
    }
}
