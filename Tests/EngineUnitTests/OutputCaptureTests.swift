@testable import OrchestratorEngine
import Testing

@Suite struct OutputCaptureTests {
    /// Past the cap, the journal and followers are told once that lines stop there.
    @Test func linesPastTheCapAreNotForwardedAndTheCapIsSaidOnce() {
        var capture = OutputCapture()
        var forwarded: [String] = []
        let lines = (1...(OutputCapture.maximumForwardedLines + 2)).map { "line \($0)\n" }.joined()
        capture.append(Array(lines.utf8)[...]) { forwarded.append($0) }
        capture.finish { forwarded.append($0) }
        #expect(forwarded.count == OutputCapture.maximumForwardedLines + 1)
        #expect(forwarded[OutputCapture.maximumForwardedLines - 1] == "line \(OutputCapture.maximumForwardedLines)")
        #expect(forwarded.last == OutputCapture.capNotice)
        #expect(capture.droppedLines == 2)
        // The run's record keeps the tail all the same.
        #expect(capture.text.hasSuffix("line \(OutputCapture.maximumForwardedLines + 2)\n"))
    }
}
