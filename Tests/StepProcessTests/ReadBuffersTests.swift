import Testing

@testable import OrchestratorEngine

/// A step's supervising thread reads its output into a buffer kept for the
/// next step; a burst of steps leaves no more than the kept number behind.
@Suite struct ReadBuffersTests {
    @Test func aBufferGivenBackIsTheNextOneTaken() {
        let buffers = ReadBuffers(kept: 2)
        let first = buffers.take()
        #expect(first.count == ReadBuffers.size)
        buffers.giveBack(first)
        #expect(buffers.take().baseAddress == first.baseAddress)
    }

    @Test func noMoreThanTheKeptNumberWaitAfterABurst() {
        let buffers = ReadBuffers(kept: 2)
        let burst = (0..<5).map { _ in buffers.take() }
        for buffer in burst { buffers.giveBack(buffer) }
        let again = (0..<3).map { _ in buffers.take() }
        let kept = Set(burst.prefix(2).map(\.baseAddress))
        // The first two given back were kept; the third taken is a new one.
        #expect(Set(again.prefix(2).map(\.baseAddress)) == kept)
        #expect(!kept.contains(again[2].baseAddress))
        for buffer in again { buffers.giveBack(buffer) }
    }
}
