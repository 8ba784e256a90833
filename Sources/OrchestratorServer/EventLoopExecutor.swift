import NIOCore

/// Runs a connection's requests on the event loop that reads its socket, so
/// a request and its answer cross no thread between the socket and the
/// database driver's thread (a hop to Swift's cooperative pool and back
/// was most of the daemon's own time on a read). Only work that never
/// blocks may run here: handlers hand every libmongoc call to the driver's
/// threads, and the peer's authorization, which may ask NSS for groups, is
/// settled before a connection moves here.
final class EventLoopExecutor: TaskExecutor {
    private let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        eventLoop.execute { job.runSynchronously(on: executor) }
    }
}
