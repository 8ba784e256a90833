// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

// Release executables are linked by lld with packed relative relocations
// (DT_RELR, glibc 2.36) and without exporting every symbol of our own modules
// (the static runtime's link arguments ask for -export-dynamic, which nothing
// here uses): the daemon's idle memory is 3.7 MiB smaller, and orchctl starts
// with fewer pages to fault in (docs/benchmarks.md, fourth round).
let releaseLinking: [LinkerSetting] = [
    .unsafeFlags(
        ["-use-ld=lld", "-Xlinker", "--no-export-dynamic", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"],
        .when(platforms: [.linux], configuration: .release)),
]

let package = Package(
    name: "orchestrator",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "orchestratord", targets: ["orchestratord"]),
        .executable(name: "orchctl", targets: ["orchctl"]),
        .executable(name: "orchestrator-bench", targets: ["orchestrator-bench"]),
        .executable(name: "orchestrator-step-gate", targets: ["orchestrator-step-gate"]),
        .executable(name: "orchestrator-simulate", targets: ["orchestrator-simulate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // C libraries, found through pkg-config, installed from Debian's -dev packages.
        .systemLibrary(
            name: "CMongoC",
            pkgConfig: "libmongoc-1.0",
            providers: [.apt(["libmongoc-dev"])]
        ),
        .systemLibrary(name: "CMalloc"),
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),

        // The domain: workflows, steps, actions, validation, errors. No I/O.
        .target(name: "OrchestratorModel", swiftSettings: strict),

        // JSON-RPC 2.0 types, framing and the wire form of the model. No I/O:
        // shared by the daemon and orchctl.
        .target(name: "OrchestratorProtocol", dependencies: ["OrchestratorModel"], swiftSettings: strict),

        // A blocking JSON-RPC client over a Unix socket, for orchctl and tests.
        .target(name: "OrchestratorClient", dependencies: ["OrchestratorProtocol"], swiftSettings: strict),

        // A small Swift layer over libmongoc: pool, leased clients, BSON, errors.
        .target(
            name: "MongoKit",
            dependencies: [
                "CMongoC",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // posix_spawn with the file actions and attributes a step needs.
        .target(name: "CSpawn"),

        // Where things are kept, as protocols and value types: no database here.
        .target(name: "OrchestratorStorage", dependencies: ["OrchestratorModel"], swiftSettings: strict),

        // The storage protocols in MongoDB.
        .target(
            name: "MongoStorage",
            dependencies: ["OrchestratorModel", "OrchestratorStorage", "MongoKit", .product(name: "Metrics", package: "swift-metrics")],
            swiftSettings: strict
        ),

        // The storage protocols in memory, with the same guarded writes: for tests and the simulation only.
        .target(name: "InMemoryStorage", dependencies: ["OrchestratorModel", "OrchestratorStorage"], swiftSettings: strict),

        // The workflow engine: executes runs while it holds their leases; its
        // clock, processes and store are injected (EngineWorld).
        .target(
            name: "OrchestratorEngine",
            dependencies: [
                "OrchestratorModel", "OrchestratorStorage", "CSpawn",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),

        // Inventories (Ansible YAML or JSON) read into targets, every problem with its line.
        .target(
            name: "OrchestratorInventory",
            dependencies: ["OrchestratorModel", "OrchestratorProtocol", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),

        // The rules: what is valid, what a run starts as, cancel, resume, delete-while-active.
        .target(
            name: "OrchestratorServices",
            dependencies: [
                "OrchestratorModel", "OrchestratorStorage", "OrchestratorEngine", "OrchestratorInventory",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),

        // A seeded, deterministic simulation of several engines over the
        // in-memory store, with faults (docs/architecture.md).
        .target(
            name: "EngineSimulation",
            dependencies: [
                "OrchestratorModel", "OrchestratorStorage", "InMemoryStorage", "OrchestratorEngine", "OrchestratorServices",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "orchestrator-simulate", dependencies: ["EngineSimulation"], swiftSettings: strict),

        // sd_notify, socket activation, the journal log handler.
        .target(
            name: "SystemdSupport",
            dependencies: [
                "CSystemd",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),

        // The daemon as a library: settings, transport, dispatch, harnesses, lifecycle.
        .target(
            name: "OrchestratorServer",
            dependencies: [
                "OrchestratorModel", "OrchestratorProtocol", "OrchestratorStorage", "MongoStorage", "OrchestratorEngine", "OrchestratorServices",
                "OrchestratorInventory", "MongoKit", "SystemdSupport", "CSystemd", "CMalloc",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "orchestratord",
            dependencies: ["OrchestratorServer", "OrchestratorModel", "SystemdSupport"],
            swiftSettings: strict,
            linkerSettings: releaseLinking
        ),
        // orchctl's commands, one file per command under a noun folder.
        .target(
            name: "OrchctlCommands",
            dependencies: [
                "OrchestratorModel", "OrchestratorProtocol", "OrchestratorClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "orchctl", dependencies: ["OrchctlCommands"], swiftSettings: strict, linkerSettings: releaseLinking),
        // What a step starts as: waits until the daemon has recorded it, then execs the step (C, tiny).
        // Release builds compile it with clang alone (scripts/lib/common.sh, build_release): linked by
        // swiftc it carries the Swift runtime, which the loader relocates at every step's start.
        .executableTarget(name: "orchestrator-step-gate", path: "Sources/StepGate"),

        // Benchmarks against their floors (scripts/bench, docs/benchmarks.md).
        .executableTarget(
            name: "orchestrator-bench",
            dependencies: ["MongoKit", "OrchestratorClient", "OrchestratorProtocol"],
            path: "Benchmarks/OrchestratorBench",
            swiftSettings: strict
        ),

        // Fixtures shared by the test targets: a real database server per test run.
        .target(
            name: "TestSupport",
            dependencies: ["MongoKit", "OrchestratorClient", "CSpawn"],
            path: "Tests/TestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "OrchestratorModelTests",
            dependencies: ["OrchestratorModel", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "InventoryTests",
            dependencies: ["OrchestratorInventory", "OrchestratorModel", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "OrchestratorProtocolTests",
            dependencies: ["OrchestratorProtocol", "OrchestratorModel"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DaemonTests",
            dependencies: ["OrchestratorProtocol", "OrchestratorClient", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EngineTests",
            dependencies: ["OrchestratorProtocol", "OrchestratorClient", "TestSupport", "MongoKit"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "StepProcessTests",
            dependencies: ["OrchestratorEngine", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "StorageTests",
            dependencies: [
                "OrchestratorStorage", "MongoStorage", "InMemoryStorage", "OrchestratorServices", "OrchestratorEngine", "OrchestratorModel",
                "MongoKit", "OrchestratorServer", "TestSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ServerUnitTests",
            dependencies: ["OrchestratorServer", .product(name: "NIOConcurrencyHelpers", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EngineUnitTests",
            dependencies: ["OrchestratorEngine", "OrchestratorModel", "OrchestratorStorage", "InMemoryStorage", "OrchestratorServices", "EngineSimulation"],
            swiftSettings: strict
        ),
    ]
)
