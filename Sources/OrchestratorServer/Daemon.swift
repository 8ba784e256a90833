import Foundation
import Logging
import MongoKit
import MongoStorage
import OrchestratorModel
import OrchestratorEngine
import OrchestratorServices
import ServiceLifecycle
import SystemdSupport

/// The daemon's life: configuration, logging, the database (waited for),
/// the socket and readiness; then its services in one ServiceGroup (server,
/// engine, watchdog, signals: reload and graceful stop).
public enum Daemon {
    public struct Invocation: Sendable {
        public var configFile: String
        public var configFileIsExplicit: Bool
        public var flags: [(key: String, value: String)]
        /// The listening socket systemd passed, taken before any thread started.
        public var activatedSocket: Int32?

        public init(configFile: String, configFileIsExplicit: Bool, flags: [(key: String, value: String)], activatedSocket: Int32?) {
            self.configFile = configFile
            self.configFileIsExplicit = configFileIsExplicit
            self.flags = flags
            self.activatedSocket = activatedSocket
        }
    }

    /// Runs until SIGTERM or SIGINT; returns the process exit code.
    public static func run(_ invocation: Invocation) async -> Int32 {
        let settings: DaemonSettings
        do {
            settings = try DaemonSettings.load(
                file: invocation.configFile, fileIsExplicit: invocation.configFileIsExplicit, flags: invocation.flags)
        } catch {
            StandardError.write("orchestratord: configuration error: \(error)\n")
            return 78  // EX_CONFIG
        }
        let level = SharedLogLevel(settings.logLevel)
        let target = settings.logTarget.resolved()
        // Before anything counts: a figure made earlier would count nowhere.
        _ = MetricsExport.shared
        LoggingSystem.bootstrap { _ in
            DaemonLogHandler(identifier: "orchestratord", level: level, sink: target == .journal ? .journal : .stderr)
        }
        let logger = Logger(label: "orchestratord")
        let notifier = SystemdNotifier()
        let signals = SignalSource()
        signal(SIGPIPE, SIG_IGN)

        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        guard let stepGate = EngineSettings.stepGate(besides: executable) else {
            let directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
            logger.critical(
                "\(EngineSettings.stepGateName) is missing: it must be installed in \(directory.deletingLastPathComponent().path)/libexec/orchestrator/ or next to \(executable) (scripts/install puts it there)")
            return 69  // EX_UNAVAILABLE
        }

        // Read before anything else is done: a daemon that could not open its secrets must not start.
        let keyring: SecretKeyring
        do {
            keyring = try SecretKeyring.load(
                current: settings.secretKeyFile, previous: settings.secretPreviousKeyFile.isEmpty ? nil : settings.secretPreviousKeyFile)
        } catch {
            logger.critical("cannot start: \(error) (secret-key-file; scripts/install creates it)")
            notifier.status("failed: \(error)")
            return 78  // EX_CONFIG
        }

        let pool: MongoPool
        do {
            pool = try MongoPool(MongoConfiguration(
                uri: settings.mongodbURI, database: settings.database,
                serverSelectionTimeoutMS: Int32(settings.serverSelectionTimeoutMS), maxConnections: 8,
                writeConcern: settings.writeConcern == "majority" ? .majority : .nodes(Int32(settings.writeConcern) ?? 1),
                journal: settings.journalWrites))
        } catch {
            logger.critical("cannot use mongodb-uri: \(error.message)")
            return 78
        }
        let store = MongoWorkflowStore(pool: pool)
        let runStore = MongoRunStore(pool: pool)
        let targetStore = MongoTargetStore(pool: pool)
        let scheduleStore = MongoScheduleStore(pool: pool)
        let secretStore = MongoSecretStore(pool: pool)

        let prepare: [@Sendable () async throws(OrchestratorError) -> Void] = [
            store.prepare, runStore.prepare, targetStore.prepare, scheduleStore.prepare, secretStore.prepare,
        ]
        guard await waitForDatabase(preparing: prepare, signals: signals, notifier: notifier, logger: logger) else {
            notifier.stopping(status: "stopped before MongoDB became reachable")
            await pool.close()
            return 0
        }

        // Checked again when the socket is bound; first here, where it is quicker to tell than the daemon id.
        if invocation.activatedSocket == nil, UnixSocketProbe.accepts(settings.socketPath) {
            logger.critical("cannot serve \(settings.socketPath): \(UnixSocketProbe.served(settings.socketPath))")
            await pool.close()
            return 1
        }
        let ownerId = settings.daemonId.isEmpty ? DaemonIdentity.defaultId(socketPath: settings.socketPath) : settings.daemonId
        let identity = DaemonIdentity(
            registry: MongoDaemonRegistry(pool: pool), record: DaemonIdentity.thisProcess(id: ownerId), lease: .seconds(settings.leaseSeconds))
        notifier.status("checking that no other live daemon uses daemon id \(ownerId)")
        if case .refused(let why) = await identity.establish(serverTime: { () throws(OrchestratorError) in try await runStore.serverTime() }, logger: logger) {
            logger.critical("\(why)")
            notifier.status("failed: \(why)")
            await pool.close()
            return 1
        }

        var world = EngineWorld.system
        if settings.clockOffsetSeconds != 0 {
            world.clock = SystemClock(offset: TimeInterval(settings.clockOffsetSeconds))
            logger.notice("this daemon's wall clock runs \(settings.clockOffsetSeconds) s \(settings.clockOffsetSeconds > 0 ? "ahead of" : "behind") the host's (clock-offset-seconds)")
        }
        let secrets = SecretService(store: secretStore, keyring: keyring, clock: world.clock, logger: logger)
        if let refusal = await checkSecretKey(secrets, keyring: keyring, logger: logger) {
            logger.critical("cannot start: \(refusal)")
            notifier.status("failed: \(refusal)")
            await pool.close()
            return 78
        }

        let address: ListenAddress = invocation.activatedSocket.map { .inherited(fd: $0, path: settings.socketPath) }
            ?? .path(settings.socketPath, group: settings.socketGroup)
        var engineSettings = EngineSettings(
            ownerId: ownerId,
            maxParallelSteps: settings.maxParallelSteps, lease: .seconds(settings.leaseSeconds), stepGate: stepGate,
            runRetention: settings.runRetentionDays == 0 ? nil : .seconds(settings.runRetentionDays * 86400))
        engineSettings.runAsUsers = Set(settings.runAsUsers)
        let runAs = RunAsPolicy(allowedUsers: Set(settings.runAsUsers))
        let engine = Engine(settings: engineSettings, runs: runStore, workflows: store, world: world, secrets: secrets, logger: logger)
        let ids = ObjectIdSource()
        let health = DatabaseHealth()
        let (connections, watchers) = (ConnectionRegistry(), WatcherCount())
        let status = StatusHarness(
            pool: pool, health: health, startedAt: .now, socketPath: settings.socketPath, activeRuns: { await engine.activeRuns },
            connections: connections, watchers: watchers, metrics: { MetricsExport.shared.text })
        let runService = RunService(
            runs: runStore, workflows: store, targets: targetStore, engine: engine, ids: ids, clock: world.clock, logger: logger, schedules: scheduleStore,
            secrets: secrets, runAs: runAs)
        let scheduler = ScheduleRunner(
            schedules: scheduleStore, runs: runService, runStore: runStore, clock: world.clock,
            requester: Requester(uid: getuid(), gid: getgid(), pid: getpid()), logger: logger)
        let memoryTrim = MemoryTrim()
        let dispatcher = RPCDispatcher(
            routes: RPCDispatcher.routes(
                workflows: WorkflowHarness(service: WorkflowService(workflows: store, runs: runStore, ids: ids, clock: world.clock, runAs: runAs)),
                runs: RunHarness(service: runService, watchInterval: .milliseconds(200), watchPace: .milliseconds(20), watchers: watchers),
                targets: TargetHarness(service: TargetService(targets: targetStore, ids: ids, clock: world.clock, logger: logger)),
                schedules: ScheduleHarness(service: ScheduleService(schedules: scheduleStore, workflows: store, ids: ids, clock: world.clock)),
                secrets: SecretHarness(service: secrets),
                status: status),
            maximumBatch: settings.maxBatch, logger: logger, handled: memoryTrim.workHappened)
        let server: RPCServer
        do {
            server = try await RPCServer.start(
                address, maximumLineBytes: settings.maxRequestBytes, maximumConnections: settings.maxConnections, dispatcher: dispatcher,
                authorizer: Authorizer(adminGroup: settings.adminGroup), connections: connections, logger: logger)
        } catch {
            logger.critical("cannot serve \(settings.socketPath): \(error)")
            notifier.status("failed: cannot serve \(settings.socketPath): \(error)")
            await pool.close()
            return 1
        }

        var metricsListener: MetricsListener?
        if let metricsAddress = settings.metricsListen {
            do {
                metricsListener = try await MetricsListener.bind(metricsAddress) { MetricsExport.shared.text }
            } catch {
                logger.critical("cannot serve metrics on \(metricsAddress) (metrics-listen): \(error)")
                notifier.status("failed: cannot serve metrics on \(metricsAddress): \(error)")
                await server.stop()
                await pool.close()
                return 1
            }
        }

        let statusLine = StatusLine(socket: settings.socketPath)
        notifier.ready(status: statusLine.text(activeRuns: 0))
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .named("identity", IdentityService(identity: identity, logger: logger, stopStepsNow: { await engine.shutdown(timeout: .zero) })),
            .named("health", HealthService(health: health, pool: pool)),
            .named("server", ServerService(server: server)),
            .named(
                "engine",
                EngineService(engine: engine, stopTimeout: .seconds(settings.stopTimeoutSeconds)) { active in
                    notifier.status(statusLine.text(activeRuns: active))
                    memoryTrim.workHappened()
                }),
            .named("scheduler", SchedulerService(runner: scheduler, engine: engine)),
        ]
        if let metricsListener { services.append(.named("metrics", metricsListener)) }
        if let interval = notifier.watchdogInterval() {
            services.append(.named("watchdog", WatchdogService(interval: interval / 2, server: server, engine: engine, notifier: notifier)))
        }
        services.append(.named(
            "signals",
            SignalService(
                signals: signals,
                reload: {
                    let active = await engine.activeRuns
                    reload(invocation, current: settings, level: level, notifier: notifier, statusLine: statusLine.text(activeRuns: active), logger: logger)
                },
                stop: { signal in
                    notifier.stopping(status: "stopping: no new runs; running steps get up to \(settings.stopTimeoutSeconds)s")
                    logger.notice("received \(signal == SIGTERM ? "SIGTERM" : "SIGINT"); stopping")
                    await server.stop()
                }),
            successTerminationBehavior: .gracefullyShutdownGroup))
        logger.notice("ready: \(statusLine.text(activeRuns: 0))", metadata: [
            "socket": "\(settings.socketPath)", "activated": "\(invocation.activatedSocket != nil)", "database": "\(settings.database)",
        ])
        do {
            var configuration = ServiceGroupConfiguration(services: services, logger: logger)
            // A backstop: the drain is bounded by the stop timeout; closing what is left must not hang the exit.
            configuration.maximumGracefulShutdownDuration = .seconds(settings.stopTimeoutSeconds + 15)
            try await ServiceGroup(configuration: configuration).run()
        } catch {
            logger.error("stopped on an error: \(error)")
        }
        await pool.close()
        logger.notice("stopped")
        return 0
    }

    /// Re-encrypts what the previous key sealed (a rotation), then refuses
    /// a key that opens none of what is stored: the wrong key file would
    /// otherwise fail every step that uses a secret, one by one. Nil: fine.
    private static func checkSecretKey(_ secrets: SecretService, keyring: SecretKeyring, logger: Logger) async -> String? {
        var delay = Duration.milliseconds(500)
        while true {
            do {
                let (_, unknown) = try await secrets.rotate()
                guard !unknown.isEmpty else { return nil }
                let count = unknown.values.reduce(0, +)
                return "secret key file \(keyring.current.path) (key \(keyring.current.id)) does not open \(count) stored secrets, sealed under key "
                    + unknown.keys.sorted().joined(separator: ", ")
                    + ": is it the wrong key file? Install the key the other daemons use; or, to rotate, set secret-previous-key-file to the old key so they are re-encrypted"
            } catch where error.isTransient {
                logger.warning("cannot check the stored secrets against the key yet: \(error.message)")
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(10))
            } catch {
                return "cannot check the stored secrets against \(keyring.current.path): \(error.message)"
            }
        }
    }

    /// Pings MongoDB and creates every store's indexes, retrying with backoff; STATUS=
    /// says what it is waiting for. False when told to stop meanwhile.
    private static func waitForDatabase(
        preparing stores: [@Sendable () async throws(OrchestratorError) -> Void], signals: SignalSource, notifier: SystemdNotifier, logger: Logger
    ) async -> Bool {
        var delay = Duration.milliseconds(500)
        var attempt = 1
        notifier.status("connecting to MongoDB")
        while true {
            do {
                for prepare in stores { try await prepare() }
                return true
            } catch {
                let text = "waiting for MongoDB (attempt \(attempt), next in \(delay)): \(error.message)"
                notifier.status(text)
                logger.warning("\(text)")
            }
            if await signals.stopRequested(within: delay) { return false }
            delay = min(delay * 2, .seconds(10))
            attempt += 1
        }
    }

    /// SIGHUP: re-reads the file with the same flags. The log level changes
    /// live; other keys need a restart, which the log says.
    private static func reload(
        _ invocation: Invocation, current: DaemonSettings, level: SharedLogLevel, notifier: SystemdNotifier,
        statusLine: String, logger: Logger
    ) {
        notifier.reloading(status: "reloading \(invocation.configFile)")
        do {
            let fresh = try DaemonSettings.load(
                file: invocation.configFile, fileIsExplicit: invocation.configFileIsExplicit, flags: invocation.flags)
            level.level = fresh.logLevel
            var unchangedLive = fresh
            unchangedLive.logLevel = current.logLevel
            if unchangedLive != current {
                logger.warning("configuration reloaded; only log-level applies live, restart to apply the other changes")
            }
            logger.notice("configuration reloaded; log level \(fresh.logLevel)", metadata: ["logLevel": "\(fresh.logLevel)"])
        } catch {
            logger.error("reload failed, keeping the running configuration: \(error)")
        }
        notifier.reloaded(status: statusLine)
    }
}
