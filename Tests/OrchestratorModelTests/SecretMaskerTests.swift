import OrchestratorModel
import Testing

/// Masking secret values in a step's output as it streams in.
@Suite struct SecretMaskerTests {
    /// The output as the masker lets it through, fed in chunks of `size` bytes.
    private func masked(_ text: String, _ values: [String], chunk size: Int) -> String {
        var masker = SecretMasker(values)
        var out: [UInt8] = []
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            out += masker.feed(bytes[index..<min(index + size, bytes.count)])
            index += size
        }
        out += masker.finish()
        return String(decoding: out, as: UTF8.self)
    }

    @Test(arguments: [1, 2, 3, 5, 7, 64]) func valuesSplitAcrossChunksAreMaskedAndTheRestPassesIntact(_ size: Int) {
        let values = ["hunter2", "hunter2-long", "s3cr3t"]
        let text = "pw=hunter2 long=hunter2-long x=s3cr3 y=s3cr3t hunter hunter2hunter2\n"
        #expect(masked(text, values, chunk: size) == "pw=*** long=*** x=s3cr3 y=*** hunter ******\n")
    }

    @Test func eachLineOfAMultiLineValueIsMaskedOnItsOwnTooAndNothingElseChanges() {
        let key = "-----BEGIN KEY-----\nAAAAB3NzaC1yc2E\n-----END KEY-----"
        #expect(masked("x " + key + " y", [key], chunk: 4) == "x *** y")
        #expect(masked("AAAAB3NzaC1yc2E printed alone", [key], chunk: 3) == "*** printed alone")
        #expect(SecretMasker(["abc"]).redact("cannot start /bin/abc: no such file") == "cannot start /bin/***: no such file")
        #expect(masked("nothing to hide, ünïcode ✓", [], chunk: 2) == "nothing to hide, ünïcode ✓")
        #expect(SecretMasker([""]).isEmpty)
    }
}

/// Placeholders are filled in one pass over the text as written.
@Suite struct PlaceholderTests {
    @Test func aValueFilledInIsNeverReadForPlaceholders() {
        let action = Action(
            exec: ["/usr/bin/curl", "{{params.url}}", "--token={{secrets.api}}", "{{target.host}}", "{{params.missing}}", "{{nothing}}"],
            env: ["PW": "{{secrets.api}}", "T": "{{params.tricky}}"])
        let resolved = Parameters.resolve(
            action, ["url": "https://evil/?{{secrets.api}}", "tricky": "{{target.host}}"],
            target: FleetTarget(name: "leaf1", vars: ["host": "10.0.0.1"], batch: 1, runId: "r"), secrets: ["api": "tok"])
        #expect(resolved.exec == ["/usr/bin/curl", "https://evil/?{{secrets.api}}", "--token=tok", "10.0.0.1", "{{params.missing}}", "{{nothing}}"])
        #expect(resolved.env == ["PW": "tok", "T": "{{target.host}}"])
    }
}
