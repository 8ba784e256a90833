import Foundation
import OrchestratorModel
import Testing
import OrchestratorProtocol

/// A watcher's `run.event` lines are written field by field, not through
/// `JSONValue`: they must be the very bytes the generic encoder writes
/// (keys in order, the same escapes, `null` for a run-level event's step).
@Suite struct RunEventEncodingTests {
    private func generic(_ notification: RunEventNotification) -> [UInt8] {
        JSONCoding.serializeBytes(RPCCodec.notification(method: RPCNotifications.runEvent.name, params: notification.notificationJSON))
    }

    private func direct(_ notification: RunEventNotification) -> [UInt8] {
        var out: [UInt8] = []
        notification.appendNotification(to: &out)
        return out
    }

    @Test func everyShapeOfEventIsWrittenAsTheGenericEncoderWritesIt() throws {
        let texts = ["push", "", "say \"hi\"\\ now", "line\nnext\ttab \u{1}\u{7F}", "vlan-120 · café 🚀"]
        let integers = [0, 1, -1, 125, Int(Int32.max), -9_000_000_000]
        let at = Date(timeIntervalSince1970: 1_796_385_652.042)
        var generator = SystemRandomNumberGenerator()
        var checked = 0
        // Each optional field absent or present, with every text and integer turning up in every field.
        for presence in 0..<(1 << 6) {
            for round in 0..<texts.count {
                let text = { (offset: Int) in texts[(round + offset) % texts.count] }
                let integer = { (offset: Int) in integers[(round + offset) % integers.count] }
                let event = RunEvent(
                    sequence: Int.random(in: 0...1_000_000, using: &generator), step: presence & 1 != 0 ? text(0) : nil,
                    status: text(1), at: at.addingTimeInterval(Double(round) * 86_400.001),
                    attempt: presence & 2 != 0 ? integer(0) : nil, exitCode: presence & 4 != 0 ? integer(1) : nil,
                    message: presence & 8 != 0 ? text(2) : nil, target: presence & 16 != 0 ? text(3) : nil,
                    batch: presence & 32 != 0 ? integer(2) : nil)
                let notification = RunEventNotification(runId: text(4), event: event)
                let bytes = direct(notification)
                #expect(bytes == generic(notification), "\(String(decoding: bytes, as: UTF8.self))")
                // And a client reads back the event it was sent.
                let decoded = try RunEventNotification(notificationJSON: try #require(JSONCoding.parse(bytes)["params"]))
                #expect(decoded.event.sequence == event.sequence && decoded.event.message == event.message && decoded.runId == notification.runId)
                checked += 1
            }
        }
        #expect(checked == 64 * texts.count)
    }
}
