import Foundation
@testable import EngineSimulation
import OrchestratorEngine
import OrchestratorModel
import Testing

/// The real engine over the simulated world (in-memory database, simulated
/// processes and time), one scripted scenario each: behaviour an operator
/// would see, checked in milliseconds without a database or a process.
@Suite struct EngineScenarioTests {
    func step(_ name: String, order: Int = 0, retries: Int = 0, idempotent: Bool = false, continueOnFailure: Bool = false) -> Step {
        Step(name: name, executionOrder: order, action: Action(exec: ["/bin/true"]), retries: retries, retryDelaySeconds: 2,
             continueOnFailure: continueOnFailure, idempotent: idempotent)
    }

    /// One daemon (lease 10 s, `slots` step slots), one workflow, one run started at 1 s; `more` adds faults.
    func play(
        _ steps: [(Step, StepBehaviour)], slots: Int = 4, _ more: @escaping (Simulation, SimDaemon) -> Void = { _, _ in }
    ) -> SimulationReport {
        let simulation = Simulation(
            seed: 1, faults: [], traceLength: 400, swarm: Swarm(daemons: 1, lease: .seconds(10), maxParallelSteps: slots)
        ) { simulation in
            simulation.addWorkflow("change", steps)
            let daemon = simulation.addDaemon("d1")
            simulation.start("change", on: daemon, at: .seconds(1))
            more(simulation, daemon)
        }
        return simulation.run()
    }

    func quick(failing: Bool = false) -> StepBehaviour {
        StepBehaviour(duration: 1...1, failure: failing ? 1 : 0)
    }

    @Test func aStepThatKeepsFailingIsTriedRetriesPlusOneTimesAndLaterGroupsAreSkipped() throws {
        let report = play([(step("push", retries: 2), quick(failing: true)), (step("verify", order: 1), quick())])
        #expect(report.breaches.isEmpty, "\(report.breaches)")
        let run = try #require(report.finalRuns.first)
        #expect(run.status == .failed)
        #expect(run.step("push")?.status == .failed)
        #expect(run.step("push")?.attempts == 3)
        #expect(run.step("verify")?.status == .skipped)
        #expect(report.executions.filter { $0.step == "push" }.map(\.attempt) == [1, 2, 3])
        #expect(report.executions.allSatisfy { $0.step != "verify" })
        // Each retry waits its delay, doubled after the first: 2 s, then 4 s.
        let push = report.executions.filter { $0.step == "push" }
        let gaps = zip(push, push.dropFirst()).map { $1.began - ($0.ended ?? .zero) }
        #expect(gaps.map { $0 >= .seconds(2) && $0 < .seconds(3) } == [true, false])
        #expect(gaps.last.map { $0 >= .seconds(4) && $0 < .seconds(5) } == true)
        #expect(run.events.contains { $0.message?.contains("will retry in 2s") == true })
    }

    @Test func aFailureThatContinueOnFailureAllowsLetsTheRunGoOnButNotSucceed() throws {
        let report = play([(step("probe", continueOnFailure: true), quick(failing: true)), (step("push", order: 1), quick())])
        let run = try #require(report.finalRuns.first)
        #expect(run.step("push")?.status == .succeeded)
        #expect(run.status == .failed)
    }

    @Test func aGroupRunsInParallelWithinTheStepSlots() throws {
        let group = (1...5).map { (step("leaf\($0)"), StepBehaviour(duration: 5...5, failure: 0)) }
        let report = play(group + [(step("verify", order: 1), quick())], slots: 2)
        let run = try #require(report.finalRuns.first)
        #expect(run.status == .succeeded)
        // At most two at once, and the next group only once the whole group is done.
        var peak = 0
        for execution in report.executions {
            let running = report.executions.filter { $0.began <= execution.began && ($0.ended ?? .seconds(1_000_000)) > execution.began }
            peak = max(peak, running.count)
        }
        #expect(peak == 2)
        let verify = try #require(report.executions.first { $0.step == "verify" })
        #expect(report.executions.filter { $0.step.hasPrefix("leaf") }.allSatisfy { ($0.ended ?? .zero) <= verify.began })
    }

    @Test func aCrashMidStepFailsARunWhoseStepIsNotIdempotentAndNothingRunsTwice() throws {
        let report = play([(step("push"), StepBehaviour(duration: 20...20, failure: 0))]) { simulation, daemon in
            simulation.crash(daemon, at: .seconds(5), restartAfter: .seconds(3))
        }
        #expect(report.breaches.isEmpty, "\(report.breaches)")
        let run = try #require(report.finalRuns.first)
        #expect(run.status == .failed)
        #expect(run.step("push")?.status == .interrupted)
        #expect(report.executions.count == 1)
    }

    @Test func aCrashMidStepRunsAnIdempotentStepAgainAndTheRunSucceeds() throws {
        let report = play([(step("backup", idempotent: true), StepBehaviour(duration: 20...20, failure: 0))]) { simulation, daemon in
            simulation.crash(daemon, at: .seconds(5), restartAfter: .seconds(3))
        }
        #expect(report.breaches.isEmpty, "\(report.breaches)")
        let run = try #require(report.finalRuns.first)
        #expect(run.status == .succeeded)
        #expect(run.step("backup")?.attempts == 2)
        // The restarted daemon killed what its earlier life left before running the step again.
        #expect(report.executions.map(\.daemon) == ["d1#1", "d1#2"])
        #expect(report.executions.first?.ended ?? .zero <= report.executions.last?.began ?? .zero)
    }

    @Test func anOutageLongerThanTheLeaseStopsTheStepAndItCountsAsInterrupted() throws {
        let report = play([(step("push"), StepBehaviour(duration: 30...30, failure: 0))]) { simulation, _ in
            simulation.world.after(.seconds(3)) { simulation.database.outageUntil = .seconds(25) }
        }
        #expect(report.breaches.isEmpty, "\(report.breaches)")
        let run = try #require(report.finalRuns.first)
        #expect(run.status == .failed)
        #expect(run.step("push")?.status == .interrupted)
        // Stopped here within the kill grace once no renewal came for a whole lease, long before its 30 s.
        let push = try #require(report.executions.first)
        #expect((push.ended ?? .seconds(1_000)) < .seconds(1 + 10 + 5 + 1))
    }

    @Test func aRunWhoseEndTheDatabaseRefusesForGoodEndsFailedWithTheReasonInsteadOfRetryingForever() throws {
        let report = play([(step("push"), quick()), (step("verify", order: 1), quick())]) { simulation, _ in
            simulation.database.refusesRunEnds = true
        }
        #expect(report.breaches.isEmpty, "\(report.breaches)")
        let run = try #require(report.finalRuns.first)
        #expect(run.status == .failed)
        // What the steps did is kept, without their output.
        #expect(run.step("push")?.status == .succeeded)
        #expect(run.step("verify")?.status == .succeeded)
        #expect(run.events.last?.status == "failed")
        #expect(run.events.last?.message?.contains("MongoDB refused to record the run's progress") == true)
        #expect(run.events.map(\.sequence) == Array(0..<run.events.count))
        #expect(report.executions.count == 2)
    }

    /// The run is stored with its first step recorded running, and
    /// cancelled before the answer to its insert comes back: the step's
    /// process never leaves its gate, the step is put back and cancelled.
    @Test func aRunCancelledWhileItsInsertIsAnsweredNeverStartsItsFirstStep() throws {
        let report = play([(step("push"), quick()), (step("verify", order: 1), quick())]) { simulation, daemon in
            simulation.database.createAnswerDelay = .seconds(2)
            simulation.cancelEveryRun(on: daemon, at: .seconds(2))
        }
        #expect(report.breaches.isEmpty, "\(report.breaches)")
        let run = try #require(report.finalRuns.first)
        #expect(run.status == .cancelled)
        #expect(run.step("push")?.status == .cancelled)
        #expect(run.step("verify")?.status == .cancelled)
        #expect(report.executions.isEmpty)
        #expect(run.events.contains { $0.message?.contains("not started: the run was cancelled while it was being stored") == true }, "\(run.events)")
    }

    @Test func aDrainStopsWhatStillRunsAtTheStopTimeoutAndRecordsItInterrupted() throws {
        let report = play([(step("push"), StepBehaviour(duration: 60...60, failure: 0))]) { simulation, daemon in
            simulation.world.after(.seconds(5)) { daemon.terminate(simulation, timeout: .seconds(3)) {} }
        }
        #expect(report.breaches.isEmpty, "\(report.breaches)")
        let run = try #require(report.finalRuns.first)
        #expect(run.status == .failed)
        #expect(run.step("push")?.status == .interrupted)
        let push = try #require(report.executions.first)
        // SIGTERM at 5 s, the stop timeout 3 s later: stopped then, not at the end of its 60 s.
        #expect((push.ended ?? .seconds(1_000)) < .seconds(5 + 3 + 5 + 1))
    }

    @Test func aRetryDelayIsKeptAcrossARestart() throws {
        var push = step("push", retries: 1)
        push.retryDelaySeconds = 30
        // Fails at 2 s and waits 30 s for its second attempt; the daemon is killed at 5 s and back at 7 s.
        let report = play([(push, StepBehaviour(duration: 1...1, failure: 1))]) { simulation, daemon in
            simulation.crash(daemon, at: .seconds(5), restartAfter: .seconds(2))
        }
        #expect(report.breaches.isEmpty, "\(report.breaches)")
        let attempts = report.executions.filter { $0.step == "push" }
        #expect(attempts.count == 2)
        let gap = (attempts.last?.began ?? .zero) - (attempts.first?.ended ?? .zero)
        #expect(gap >= .seconds(30) && gap < .seconds(31), "second attempt \(gap) after the first")
        #expect(report.finalRuns.first?.step("push")?.retryAt == nil)
    }

    /// A run left queued because the daemon had no room is taken as soon as
    /// a run's end makes room, not at the next periodic look (every 2 s).
    /// Two step slots allow four active runs: the fifth waits for room.
    @Test func aRunQueuedForWantOfRoomStartsWhenARunEndsMakesRoom() throws {
        let (hold, probe, push) = (step("hold"), step("probe"), step("push"))
        let simulation = Simulation(seed: 1, faults: [], traceLength: 400, swarm: Swarm(daemons: 1, lease: .seconds(10), maxParallelSteps: 2)) { simulation in
            simulation.addWorkflow("long", [(hold, StepBehaviour(duration: 3...3, failure: 0))])
            simulation.addWorkflow("short", [(probe, StepBehaviour(duration: 0.1...0.1, failure: 0))])
            simulation.addWorkflow("late", [(push, StepBehaviour(duration: 0.1...0.1, failure: 0))])
            let daemon = simulation.addDaemon("d1")
            for (workflow, at) in [("long", 1000), ("long", 1000), ("short", 1100), ("short", 1100), ("late", 1200)] {
                simulation.start(workflow, on: daemon, at: .milliseconds(at))
            }
        }
        let report = simulation.run()
        #expect(report.breaches.isEmpty, "\(report.breaches)")
        #expect(report.finalRuns.count == 5 && report.finalRuns.allSatisfy { $0.status == .succeeded })
        let held = report.executions.filter { $0.step == "hold" }.compactMap(\.ended)
        let late = try #require(report.executions.first { $0.step == "push" })
        let roomMade = try #require(held.min())
        // The short runs take the freed slots for 0.1 s; the queued run follows them (the periodic look would come at 6 s).
        #expect(late.began >= roomMade && late.began < roomMade + .milliseconds(500), "room made at \(roomMade), the queued run began at \(late.began)")
    }
}

/// A watcher in the daemon that executes the run is told of its events by
/// the executor (`RunFeed`), not by reading MongoDB: it must still be told
/// of nothing before it is stored, and of every event once.
@Suite struct RunFeedScenarioTests {
    /// What the watcher took, checked against the database as it took it.
    final class Watcher: @unchecked Sendable {
        var subscription: RunFeed.Subscription?
        var runId: String?
        var taken: [RunEvent] = []
        var unstored: [String] = []
        var incomplete = 0
        var ended = false
    }

    @Test func aLocalWatcherIsToldOfEachEventOnceAndOnlyOnceItIsStored() throws {
        let steps = (0..<8).map { index in
            (Step(name: "s\(index)", executionOrder: index / 2, action: Action(exec: ["/bin/true"]), retries: 2, retryDelaySeconds: 1, idempotent: true),
             StepBehaviour(duration: 1...3, failure: 0.3))
        }
        let watcher = Watcher()
        let simulation = Simulation(seed: 7, faults: [], traceLength: 400, swarm: Swarm(daemons: 1, lease: .seconds(10), maxParallelSteps: 2)) { simulation in
            simulation.addWorkflow("change", steps)
            let daemon = simulation.addDaemon("d1")
            simulation.start("change", on: daemon, at: .seconds(1))
            // Writes whose answers are lost, and an outage: the executor retries them, and publishes each once it knows it landed.
            simulation.database.lostEngineReply = 0.3
            simulation.world.after(.seconds(4)) { simulation.database.outageUntil = .seconds(9) }
            @Sendable func look() {
                let database = simulation.database
                if watcher.subscription == nil, let id = database.runs.allRunIds.first, let engine = daemon.engine {
                    watcher.runId = id
                    watcher.subscription = engine.feed.subscribe(id)
                }
                if let id = watcher.runId, let subscription = watcher.subscription {
                    let stored = database.runs.snapshot(id)?.events ?? []
                    let (updates, complete) = subscription.take()
                    if !complete { watcher.incomplete += 1 }
                    for update in updates {
                        for event in update.events {
                            if !stored.contains(event) { watcher.unstored.append("\(event.sequence) \(event.status) \(event.step ?? "")") }
                            watcher.taken.append(event)
                        }
                        watcher.ended = watcher.ended || update.ended
                    }
                }
                if !watcher.ended { simulation.world.after(.milliseconds(1), look) }
            }
            simulation.world.after(.seconds(1), look)
        }
        let report = simulation.run()
        #expect(report.breaches.isEmpty, "\(report.breaches)")
        let run = try #require(report.finalRuns.first)
        #expect(run.status.isTerminal)
        #expect(watcher.ended)
        #expect(watcher.unstored.isEmpty, "told before stored: \(watcher.unstored)")
        #expect(watcher.incomplete == 0)
        // Every event once, in order: from the first one the watcher was told of (it subscribed as the run was stored) to the end.
        let first = try #require(watcher.taken.first?.sequence)
        #expect(watcher.taken == Array(run.events.drop { $0.sequence < first }))
        #expect(first <= 1)
    }
}
