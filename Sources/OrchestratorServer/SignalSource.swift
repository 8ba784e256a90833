import Dispatch
import Foundation
import NIOConcurrencyHelpers

/// SIGTERM, SIGINT and SIGHUP as events, for the daemon's whole life: from
/// the wait for MongoDB to the drain. Their default actions are disabled
/// once, at the start, so no signal is lost between one phase and the next
/// (one that arrives while nobody waits is kept for the next `next()`).
final class SignalSource: Sendable {
    private struct State {
        var pending: [Int32] = []
        var waiters: [UInt64: CheckedContinuation<Int32?, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state = NIOLockedValueBox(State())
    // Kept only to keep the sources alive; never mutated after init.
    nonisolated(unsafe) private var sources: [DispatchSourceSignal] = []

    init(_ numbers: [Int32] = [SIGTERM, SIGINT, SIGHUP]) {
        for number in numbers {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [state] in
                let waiter = state.withLockedValue { state -> CheckedContinuation<Int32?, Never>? in
                    guard let first = state.waiters.keys.min() else {
                        state.pending.append(number)
                        return nil
                    }
                    return state.waiters.removeValue(forKey: first)
                }
                waiter?.resume(returning: number)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The next signal; nil once the calling task is cancelled.
    func next() async -> Int32? {
        let id = state.withLockedValue { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Int32?, Never>) in
                let ready = state.withLockedValue { state -> Int32?? in
                    if !state.pending.isEmpty { return .some(state.pending.removeFirst()) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiters[id] = continuation
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: { [state] in
            state.withLockedValue { $0.waiters.removeValue(forKey: id) }?.resume(returning: nil)
        }
    }

    /// Waits `duration`; true as soon as SIGTERM or SIGINT arrives meanwhile.
    func stopRequested(within duration: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                try? await Task.sleep(for: duration)
                return false
            }
            group.addTask {
                while let signal = await self.next() {
                    if signal != SIGHUP { return true }
                }
                return false
            }
            var stop = await group.next() ?? false
            group.cancelAll()
            // A signal taken just as the sleep ended still counts.
            for await taken in group where taken { stop = true }
            return stop
        }
    }
}
