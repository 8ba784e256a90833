import Foundation
import OrchestratorModel
import OrchestratorServer
import SystemdSupport

// Taken first, while the process has one thread: sd_listen_fds unsets the
// LISTEN_* variables so no step process inherits them.
let activatedSocket = SocketActivation.takeListeningSocket()

let defaultConfigFile = "/etc/orchestrator/orchestratord.conf"

func usage() -> String {
    var text = """
        USAGE: orchestratord [--config FILE] [--KEY VALUE]...

        The orchestrator daemon: runs workflows, keeps their state in MongoDB, and
        serves line-delimited JSON-RPC 2.0 on a Unix socket (see docs/protocol.md).
        Meant to be started by systemd (orchestratord.service, Type=notify); when
        started by orchestratord.socket it serves the socket systemd passes.

        OPTIONS:
          --config FILE   configuration file (default: \(defaultConfigFile);
                          a missing default file is fine, a missing named file is an error)
          --help          show this help
          --version       print the version

        Every configuration key is also a flag, and flags win over the file:

        """
    for key in DaemonSettings.keyNames {
        text += "  --\(key.padding(toLength: 28, withPad: " ", startingAt: 0)) \(DaemonSettings.help(for: key))\n"
    }
    text += """

        EXAMPLES:
          orchestratord --socket /tmp/orch.sock --mongodb-uri mongodb://127.0.0.1:27017/ --log-target stderr
          kill -HUP $(pidof orchestratord)     # re-read the config file (log-level applies live)

        """
    return text
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("orchestratord: \(message)\nTry 'orchestratord --help'.\n".utf8))
    exit(64)  // EX_USAGE
}

var configFile = defaultConfigFile
var configIsExplicit = false
var flags: [(key: String, value: String)] = []
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--help", "-h":
        print(usage(), terminator: "")
        exit(0)
    case "--version":
        print("orchestratord \(OrchestratorVersion.current)")
        exit(0)
    default:
        guard argument.hasPrefix("--") else { fail("unexpected argument '\(argument)'") }
        var name = String(argument.dropFirst(2))
        var value: String?
        if let equals = name.firstIndex(of: "=") {
            value = String(name[name.index(after: equals)...])
            name = String(name[..<equals])
        }
        guard name == "config" || DaemonSettings.keyNames.contains(name) else { fail("unknown option '--\(name)'") }
        guard let given = value ?? arguments.popFirst() else { fail("option '--\(name)' needs a value") }
        if name == "config" {
            configFile = given
            configIsExplicit = true
        } else {
            flags.append((name, given))
        }
    }
}

let invocation = Daemon.Invocation(
    configFile: configFile, configFileIsExplicit: configIsExplicit, flags: flags, activatedSocket: activatedSocket)
// Not an async main: that ends in dispatch_main, whose pthread_exit unwinds
// the main thread's stack and so reads the binary's unwind tables, about
// half a MiB that then stays resident for the daemon's life. The main
// thread waits here instead, as dispatch_main would have left it: in a
// signal wait, with no signal blocked. Nothing runs on the main actor.
Task.detached {
    exit(await Daemon.run(invocation))
}
while true { pause() }
