import ArgumentParser
import Foundation
import OrchestratorModel
import OrchestratorProtocol

struct SecretCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret",
        abstract: "Keep device credentials for steps: set, list and delete secrets (admins only).",
        discussion: """
            A secret's value is encrypted in MongoDB under the daemon's key (secret-key-file) and \
            never shown again: not by orchctl, not in runs, not in the journal. A step gets it as \
            {{secrets.NAME}} in its argv or env, or as $ORCH_SECRET_<NAME> when it lists the name \
            under 'secrets:'; whatever a step prints of it is masked as ***.
            """,
        subcommands: [SecretSet.self, SecretList.self, SecretDelete.self]
    )
}

struct SecretName: ParsableArguments {
    @Argument(help: "The secret's name.")
    var name: String

    func validate() throws {
        try checkName(name, what: "secret name")
    }
}

struct SecretSet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Create a secret or replace its value, read from the terminal (not echoed) or from standard input.",
        discussion: """
            The value is never taken from an argument, which 'ps' and shell history would show. \
            On a terminal it is asked for twice, without echo. From standard input, everything is \
            read; a single line loses its final newline (echo and here-strings add one), a \
            multi-line value (a private key) is kept exactly. At most 64 KiB.

            Examples:
              orchctl secret set enable-password
              orchctl secret set lab-api-token < token.txt
              orchctl secret set deploy-key < ~/.ssh/deploy_ed25519
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var secret: SecretName

    func run() throws {
        try reporting {
            let value = try SecretInput.read(for: secret.name)
            let record = try global.call(RPCMethods.secretSet, SecretSetParams(name: secret.name, value: value))
            global.emit(record) { "secret \($0.name) set (key \($0.keyId)); steps see it as {{secrets.\($0.name)}} or $\(SecretRules.environmentName($0.name))\n" }
        }
    }
}

struct SecretList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List secrets: names, who set them and when, and the key they are encrypted under (never values).",
        discussion: "Example:\n  orchctl secret list")

    @OptionGroup var global: GlobalOptions
    @Option(parsing: .unconditional, help: "Secrets per page (1-1000).") var limit: Int = 100
    @Option(help: "Start after this name (the 'next' cursor of the previous page).") var after: String?

    func validate() throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000") }
    }

    func run() throws {
        try reporting {
            let page = try global.call(RPCMethods.secretList, WorkflowListParams(limit: limit, after: after))
            global.emit(page) { page in
                guard !page.items.isEmpty else { return "No secrets. Set one with 'orchctl secret set NAME'.\n" }
                var table = Table("NAME", "SET BY", "SET AT", "KEY")
                for s in page.items { table.add(s.name, "uid \(s.setBy)", Render.text(s.setAt), s.keyId) }
                var out = table.render()
                if let next = page.next { out += Render.more("secret list", limit: limit, after: next) }
                return out
            }
        }
    }
}

struct SecretDelete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete a secret (runs that use it fail their steps with a clear error until it is set again).",
        discussion: "Example:\n  orchctl secret delete old-enable-password")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var secret: SecretName

    func run() throws {
        try reporting {
            let deleted = try global.call(RPCMethods.secretDelete, NameParams(name: secret.name))
            global.emit(deleted) { _ in "secret \(secret.name) deleted\n" }
        }
    }
}

/// Reads a secret's value: from the terminal without echo (twice), or all of standard input.
enum SecretInput {
    /// `oneLine`: from standard input, one line (several values are read one after the other).
    static func read(for name: String, what: String = "secret", oneLine: Bool = false) throws -> String {
        if isatty(0) == 1 {
            let first = try prompt("Value of \(what) \(name): ")
            let second = try prompt("Again: ")
            guard first == second else { throw Failure(message: "the two values differ; nothing was set", code: 64) }
            guard !first.isEmpty else { throw Failure(message: "the value is empty; nothing was set", code: 64) }
            return first
        }
        if oneLine {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw Failure(message: "no value for \(what) \(name) on standard input (one line per name, in order)", code: 64)
            }
            return line
        }
        let data = FileHandle.standardInput.readDataToEndOfFile()
        guard let text = String(data: data, encoding: .utf8) else {
            throw Failure(message: "standard input is not UTF-8 text; nothing was set", code: 64)
        }
        var value = text
        if value.hasSuffix("\n"), !value.dropLast().contains("\n") { value.removeLast() }
        if value.hasSuffix("\r") && !value.contains("\n") { value.removeLast() }
        guard !value.isEmpty else { throw Failure(message: "standard input was empty; nothing was set (pipe the value in, or run on a terminal)", code: 64) }
        return value
    }

    /// One line from the terminal with echo off, restored whatever happens.
    private static func prompt(_ text: String) throws -> String {
        FileHandle.standardError.write(Data(text.utf8))
        var saved = termios()
        let hasTerminal = tcgetattr(0, &saved) == 0
        if hasTerminal {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(0, TCSAFLUSH, &quiet)
        }
        defer {
            if hasTerminal { tcsetattr(0, TCSAFLUSH, &saved) }
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard let line = readLine(strippingNewline: true) else { throw Failure(message: "no value read; nothing was set", code: 64) }
        return line
    }
}
