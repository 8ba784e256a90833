// libFuzzer entry point for the protocol path (see scripts/fuzz). Compiled
// together with the OrchestratorModel and OrchestratorProtocol sources and the
// harness (Tests/OrchestratorProtocolTests/FuzzHarness.swift) into
// one module, so no `import` of them here.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzHarness.exercise(UnsafeBufferPointer(start: data, count: size))
    return 0
}
