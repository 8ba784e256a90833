import OrchestratorModel
import OrchestratorStorage

/// Secrets and secret parameters as a run's steps start: read just before
/// their start (a secret changed meanwhile is used as it is now), handed to
/// the process only, masked in what it prints.
extension RunExecutor {
    /// The run has secret parameters whose values this daemon does not hold
    /// (it restarted, or took the run over from the daemon that did).
    var lacksSecretParams: Bool {
        !run.secretParams.isEmpty && vault.params(for: run.id) == nil
    }

    /// What step `step` is given besides its run's record.
    func stepSecrets(for step: Step) -> StepSecrets {
        var given = StepSecrets(params: vault.params(for: run.id) ?? [:])
        for name in SecretRules.used(by: step) { given.values[name] = secretValues[name] }
        return given
    }

    /// Reads the secrets the steps about to start use. False when the
    /// database cannot answer now: nothing starts, and the executor looks
    /// again in a second. A secret that is gone or does not open fails the
    /// steps that use it, with the reason (`secretProblems`).
    func readSecrets(for names: [String], rollingBack: Set<String>) async -> Bool {
        secretProblems = [:]
        var users: [String: [String]] = [:]
        for name in names {
            let step = rollingBack.contains(name) ? definition(name)?.undoing : definition(name)
            if let step { users[name] = SecretRules.used(by: step) }
        }
        let needed = Array(Set(users.values.joined())).sorted()
        guard !needed.isEmpty else { return true }
        do {
            secretValues = try await secrets.reveal(needed)
            return true
        } catch where error.isTransient {
            return retryReadingSecrets(error)
        } catch {
            // Tell each step which of its secrets failed: read them one by one.
            secretValues = [:]
            for (step, names) in users.sorted(by: { $0.key < $1.key }) where !names.isEmpty {
                for name in names where secretValues[name] == nil {
                    do {
                        secretValues.merge(try await secrets.reveal([name])) { _, new in new }
                    } catch where error.isTransient {
                        return retryReadingSecrets(error)
                    } catch {
                        secretProblems[step] = "not started: \(error.message)"
                        break
                    }
                }
            }
            return true
        }
    }

    /// The database cannot answer now: nothing starts, and the executor looks again in a second.
    private func retryReadingSecrets(_ error: OrchestratorError) -> Bool {
        logger.warning("cannot read the secrets of the steps about to start (\(error.message)); trying again in a second")
        let (clock, mailbox) = (self.clock, self.mailbox)
        world.spawn {
            await clock.sleep(for: .seconds(1))
            mailbox.post(.tick)
        }
        return false
    }

    /// The values of the run's secret parameters lived only in the memory
    /// of the daemon that started (or resumed) it, and are gone: the run
    /// cannot go on. It ends failed with the reason, without rollbacks
    /// (they would need the values too); `run.resume` with the values goes
    /// on from where it stopped.
    func endForLostSecretParams() {
        let names = run.secretParams.sorted().joined(separator: ", ")
        let reason = "the values of its secret parameters (\(names)) were kept only in the memory of the daemon that started it, "
            + "which restarted or gave the run up; resume it with them: orchctl run resume \(run.id) "
            + run.secretParams.sorted().map { "-p \($0)=…" }.joined(separator: " ")
        logger.error("run ended: \(reason)", metadata: ["runStatus": "\(cancelRequested ? "cancelled" : "failed")"])
        // A cancel asked for meanwhile is what the operator wanted: the run ends cancelled.
        let ending: RunStatus = cancelRequested ? .cancelled : .failed
        var change = RunChange(status: ending, finishedAt: clock.now().milliseconds)
        for (index, record) in run.steps.enumerated() where !record.status.isFinal && !record.status.isExecuting {
            var skipped = record
            skipped.status = .skipped
            skipped.waitingFor = nil
            change.steps[index] = skipped
            change.events.append(event(step: record.name, status: StepStatus.skipped.rawValue, sequenceOffset: change.events.count))
        }
        change.events.append(event(step: nil, status: ending.rawValue, message: reason, sequenceOffset: change.events.count))
        stage(change)
        for (_, record) in change.steps { show(record.name, record.status) }
    }
}
