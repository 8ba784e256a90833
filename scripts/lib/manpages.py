#!/usr/bin/env python3
"""Writes the man pages: orchctl(1) from orchctl's own description of its
commands (swift-argument-parser's --experimental-dump-help, so the page
says what --help says), orchestratord(8) from the daemon's --help, and
orchestratord.conf(5) from the shipped configuration file's comments.

    manpages.py --bin-dir DIR --conf etc/orchestrator/orchestratord.conf --out DIR --version V
"""
import argparse
import datetime
import json
import re
import subprocess
import sys
from pathlib import Path


def roff(text):
    """Text as roff reads it: backslashes and hyphens escaped, no line starting with a control character."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line) if line[:1] in (".", "'") else line for line in text.split("\n"))


def paragraphs(text):
    """Discussion text as roff: paragraphs with .PP, indented examples kept verbatim (.EX/.EE)."""
    out = []
    lines = text.strip("\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line.startswith("  "):
            block = []
            while i < len(lines) and (lines[i].startswith("  ") or (not lines[i].strip() and i + 1 < len(lines) and lines[i + 1].startswith("  "))):
                block.append(lines[i][2:] if lines[i].startswith("  ") else "")
                i += 1
            out += [".PP", ".EX"] + [roff(b) for b in block] + [".EE"]
            continue
        block = []
        while i < len(lines) and lines[i].strip() and not lines[i].startswith("  "):
            block.append(lines[i])
            i += 1
        out += [".PP", roff(" ".join(block))]
    return out


def option_synopsis(argument):
    names = argument.get("names", [])
    flags = ", ".join(("-" if n["kind"] == "short" else "--") + n["name"] for n in names)
    if argument["kind"] == "option":
        flags += " " + argument.get("valueName", "value").upper()
    if argument["kind"] == "positional":
        flags = argument.get("valueName", "value").upper()
    return flags


def command_section(command, path):
    out = [".SS " + roff(" ".join(path))]
    if command.get("abstract"):
        out.append(roff(command["abstract"]))
    if command.get("discussion"):
        out += paragraphs(command["discussion"])
    arguments = [a for a in command.get("arguments", []) if a.get("shouldDisplay", True)
                 and a.get("preferredName", {}).get("name") not in ("help", "version", "socket", "output")]
    for argument in arguments:
        out += [".TP", "\\fB" + roff(option_synopsis(argument)) + "\\fR"]
        text = argument.get("abstract", "")
        if argument.get("defaultValue") not in (None, ""):
            text += " (default: %s)" % argument["defaultValue"]
        out.append(roff(text))
    return out


def walk(command, path, out):
    subcommands = [c for c in command.get("subcommands", []) if c.get("shouldDisplay", True) and c["commandName"] != "help"]
    if not subcommands:
        out += command_section(command, path)
        return
    for sub in subcommands:
        walk(sub, path + [sub["commandName"]], out)


def header(name, section, version, title):
    date = datetime.date.today().isoformat()
    return ['.TH %s %s "%s" "orchestrator %s" "%s"' % (name.upper(), section, date, version, title)]


def orchctl_page(bin_dir, version):
    dump = json.loads(subprocess.run([str(bin_dir / "orchctl"), "--experimental-dump-help"], check=True, capture_output=True, text=True).stdout)
    root = dump["command"]
    out = header("orchctl", "1", version, "User Commands")
    out += [".SH NAME", "orchctl \\- " + roff(root.get("abstract", "the orchestrator's command line client"))]
    out += [".SH SYNOPSIS", "\\fBorchctl\\fR [\\fB\\-\\-socket\\fR \\fIPATH\\fR] [\\fB\\-o\\fR \\fItable\\fR|\\fIjson\\fR|\\fIyaml\\fR] \\fICOMMAND\\fR ..."]
    out += [".SH DESCRIPTION"] + paragraphs(root.get("discussion", ""))
    out += [".SH GLOBAL OPTIONS",
            ".TP", "\\fB\\-\\-socket\\fR \\fIPATH\\fR", "Path of orchestratord's socket (default: $ORCHCTL_SOCKET, else /run/orchestrator/orchestratord.sock).",
            ".TP", "\\fB\\-o\\fR, \\fB\\-\\-output\\fR \\fItable\\fR|\\fIjson\\fR|\\fIyaml\\fR", "Tables for people, the protocol's result as JSON or YAML for scripts.",
            ".TP", "\\fB\\-\\-version\\fR", "Print the version."]
    out += [".SH COMMANDS"]
    walk(root, ["orchctl"], out)
    out += [".SH EXIT STATUS",
            "0 success; 1 the operation failed (a followed run did not succeed); 2 \\fBapply \\-\\-dry\\-run\\fR would change something;",
            "3 not found; 4 a conflict, or a value the rules refuse (every problem is listed); 5 permission denied;",
            "64 a command line that cannot be read; 69 the daemon cannot be reached (the message names the socket)."]
    out += [".SH ENVIRONMENT", ".TP", "\\fBORCHCTL_SOCKET\\fR", "The daemon's socket when \\fB\\-\\-socket\\fR is not given."]
    out += [".SH SEE ALSO", "\\fBorchestratord\\fR(8), \\fBorchestratord.conf\\fR(5), \\fBjournalctl\\fR(1)"]
    return out


def daemon_page(bin_dir, version):
    text = subprocess.run([str(bin_dir / "orchestratord"), "--help"], check=True, capture_output=True, text=True).stdout
    keys = re.findall(r"^  --([a-z0-9-]+)\s+(.*)$", text, re.M)
    out = header("orchestratord", "8", version, "System Administration")
    out += [".SH NAME", "orchestratord \\- the orchestrator daemon: runs workflows of steps, keeps their state in MongoDB"]
    out += [".SH SYNOPSIS", "\\fBorchestratord\\fR [\\fB\\-\\-config\\fR \\fIFILE\\fR] [\\fB\\-\\-\\fR\\fIKEY\\fR \\fIVALUE\\fR]..."]
    out += [".SH DESCRIPTION",
            roff("orchestratord runs workflows: ordered steps, each a process, with retries, timeouts, locks, approvals and "
                 "rollbacks. It records every step in MongoDB before the step runs, serves line-delimited JSON-RPC 2.0 on a "
                 "Unix socket (orchctl(1) is its client), and shares its database with other daemons, which take over the "
                 "runs of one that stops."),
            ".PP",
            roff("It is meant to be started by systemd: orchestratord.service (Type=notify: ready once MongoDB answers and the "
                 "socket listens; STATUS= says what it does; the watchdog is pinged while it is healthy) or on the first "
                 "connection through orchestratord.socket. Under systemd it logs to the journal with the fields WORKFLOW=, "
                 "RUN_ID=, STEP=, STEP_STATUS=, ATTEMPT= and PEER_UID=; steps' output lines carry STREAM=.")]
    out += [".SH OPTIONS", ".TP", "\\fB\\-\\-config\\fR \\fIFILE\\fR",
            "The configuration file (default /etc/orchestrator/orchestratord.conf; a missing default file is fine, a missing named file is an error).",
            ".TP", "\\fB\\-\\-help\\fR", "Show the options.", ".TP", "\\fB\\-\\-version\\fR", "Print the version.", ".PP",
            "Every configuration key of \\fBorchestratord.conf\\fR(5) is also a flag, and flags win over the file:"]
    for key, help_text in keys:
        if key in ("config", "help", "version"):
            continue
        out += [".TP", "\\fB\\-\\-" + roff(key) + "\\fR \\fIVALUE\\fR", roff(help_text)]
    out += [".SH SIGNALS", ".TP", "\\fBSIGHUP\\fR", "Read the configuration file again (log\\-level applies at once; other keys need a restart).",
            ".TP", "\\fBSIGTERM\\fR, \\fBSIGINT\\fR",
            "Stop accepting runs, let running steps finish for up to stop\\-timeout\\-seconds, then leave them to be recovered; exit 0."]
    out += [".SH FILES", ".TP", "/etc/orchestrator/orchestratord.conf", "The configuration.",
            ".TP", "/etc/orchestrator/secret.key", "The key secrets are encrypted with (mode 0600).",
            ".TP", "/run/orchestrator/orchestratord.sock", "The socket clients connect to."]
    out += [".SH EXIT STATUS", "0 stopped on a signal; 1 could not serve (the socket is taken, another daemon has its id); 64 a bad command line; 78 a bad configuration."]
    out += [".SH SEE ALSO", "\\fBorchctl\\fR(1), \\fBorchestratord.conf\\fR(5), \\fBsystemctl\\fR(1), \\fBjournalctl\\fR(1)"]
    return out


def daemon_keys(bin_dir):
    text = subprocess.run([str(bin_dir / "orchestratord"), "--help"], check=True, capture_output=True, text=True).stdout
    return {key for key, _ in re.findall(r"^  --([a-z0-9-]+)\s+(.*)$", text, re.M)}


def conf_page(conf, version, keys):
    out = header("orchestratord.conf", "5", version, "File Formats")
    out += [".SH NAME", "orchestratord.conf \\- the orchestrator daemon's configuration"]
    out += [".SH DESCRIPTION",
            roff("One setting per line, key = value; # starts a comment. Every key is also a flag of orchestratord(8) "
                 "(--key value), and flags win. A bad key or value stops the daemon with exit status 78, naming the file, "
                 "the line and the key. SIGHUP reads the file again."),
            ".SH SETTINGS"]
    comment, after_setting = [], False
    for line in conf.read_text().split("\n"):
        stripped = line.strip()
        # A setting, or one left commented out (its default applies): `# database = orchestrator`.
        match = re.match(r"^(#?)\s*([a-z0-9-]+)\s*=\s*(.*)$", stripped)
        if match and match.group(2) in keys:
            commented, key, value = match.groups()
            shown = roff(value or "(empty)") + (" (commented out: the default applies)" if commented else "")
            out += [".TP", "\\fB" + roff(key) + "\\fR = \\fI" + shown + "\\fR"]
            out.append(roff(" ".join(c for c in comment if c)) if any(comment) else roff("(see orchestratord --help)"))
            # The comment above stays with a setting right below this one (mongodb-uri, then #database).
            after_setting = True
        elif stripped.startswith("#"):
            if after_setting:
                comment, after_setting = [], False
            comment.append(stripped.lstrip("#").strip())
        else:
            comment, after_setting = [], False
    out += [".SH FILES", "/etc/orchestrator/orchestratord.conf"]
    out += [".SH SEE ALSO", "\\fBorchestratord\\fR(8), \\fBorchctl\\fR(1)"]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", required=True, type=Path)
    parser.add_argument("--conf", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--version", required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    pages = {
        "orchctl.1": orchctl_page(args.bin_dir, args.version),
        "orchestratord.8": daemon_page(args.bin_dir, args.version),
        "orchestratord.conf.5": conf_page(args.conf, args.version, daemon_keys(args.bin_dir)),
    }
    for name, lines in pages.items():
        (args.out / name).write_text("\n".join(lines) + "\n")
        print(args.out / name)


if __name__ == "__main__":
    sys.exit(main())
