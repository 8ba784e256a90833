import NIOConcurrencyHelpers

/// Sends together the items of every caller that comes while an earlier
/// send is on its way (a group commit), and tells each caller its own
/// item's outcome.
///
/// A lone caller's item goes at once: nothing waits for company. Callers
/// that come while a send is out wait for its answer, then go as one send
/// of at most `mostPerSend` items; the first of them sends it. On
/// SecantusDB one command of 20 small items costs about what 4 single ones
/// do, so writers that come at the same moment stop queuing one command
/// behind another.
public final class GroupCommit<Item: Sendable, Outcome: Sendable>: Sendable {
    /// Sends the items in one go and returns each one's outcome, in order.
    public typealias Send = @Sendable ([Item]) async -> [Outcome]

    private let send: Send
    /// Items per send at most, so that one caller's wait stays bounded
    /// however many come at once.
    private let mostPerSend: Int
    private let state = NIOLockedValueBox(State())

    private struct State {
        /// A send is out; callers that come now wait for the next.
        var sending = false
        var waiting: [Waiter] = []
    }

    private struct Waiter {
        let item: Item
        let turn: CheckedContinuation<Turn, Never>
    }

    private enum Turn {
        /// Sent with another caller's items, and this is its outcome.
        case done(Outcome)
        /// The previous send is answered: this caller sends the next.
        case send
    }

    public init(mostPerSend: Int = 64, send: @escaping Send) {
        precondition(mostPerSend > 0, "a send holds at least one item")
        self.mostPerSend = mostPerSend
        self.send = send
    }

    /// Callers waiting for the send that is out to be answered.
    public var waiting: Int { state.withLockedValue { $0.waiting.count } }

    /// Returns `item`'s outcome once the send that carried it is answered.
    public func submit(_ item: Item) async -> Outcome {
        let turn = await withCheckedContinuation { (turn: CheckedContinuation<Turn, Never>) in
            let sendNow = state.withLockedValue { state -> Bool in
                guard !state.sending else {
                    state.waiting.append(Waiter(item: item, turn: turn))
                    return false
                }
                state.sending = true
                return true
            }
            if sendNow { turn.resume(returning: .send) }
        }
        switch turn {
        case .done(let outcome): return outcome
        case .send: return await sendWithWaiting(item)
        }
    }

    /// Sends `own` with the callers waiting now, tells each its outcome, and
    /// hands the sending to the first caller that came meanwhile.
    private func sendWithWaiting(_ own: Item) async -> Outcome {
        let others = state.withLockedValue { state -> [Waiter] in
            let taken = Array(state.waiting.prefix(mostPerSend - 1))
            state.waiting.removeFirst(taken.count)
            return taken
        }
        let outcomes = await send([own] + others.map(\.item))
        precondition(outcomes.count == others.count + 1, "a send answers for each of its items")
        let next = state.withLockedValue { state -> Waiter? in
            guard !state.waiting.isEmpty else {
                state.sending = false
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.turn.resume(returning: .send)
        for (waiter, outcome) in zip(others, outcomes.dropFirst()) {
            waiter.turn.resume(returning: .done(outcome))
        }
        return outcomes[0]
    }
}
