# Shared by the scripts in scripts/: paths and the one-time set-up of what the
# project needs on a fresh Debian machine. Source it; don't run it.

ORCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ORCH_VENV="${ORCH_VENV:-$ORCH_ROOT/.venv}"
SECANTUSDB_VERSION="${SECANTUSDB_VERSION:-0.7.0b3}"
# Ansible's own inventory reader, for the tests' round trips of inventories.
ANSIBLE_CORE_VERSION="${ANSIBLE_CORE_VERSION:-2.19.14}"
# A second opinion on cron fire times, for the schedule tests.
CRONITER_VERSION="${CRONITER_VERSION:-7.0.0}"

# libmongoc's shared-memory counters outlive a crashed process in /dev/shm.
export MONGOC_DISABLE_SHM=1

log() { printf '==> %s\n' "$*" >&2; }

# `within MINUTES COMMAND...`: runs COMMAND, and stops it with a clear error
# if it has not finished by then. A test that hangs then fails the run with
# its name on the screen (Swift Testing prints each test as it starts)
# instead of holding CI until CI's own limit cuts everything off unread.
within() {
    local minutes="$1"; shift
    local status=0
    timeout --kill-after=30s "${minutes}m" "$@" || status=$?
    if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
        echo "'$*' did not finish within $minutes minutes: a test hangs (the ones started above and never ended)" >&2
    fi
    return "$status"
}

# `help_if_asked "$@"` right after sourcing this: -h or --help as the first
# argument prints the script's own header comment (its usage) and exits 0.
help_if_asked() {
    case "${1:-}" in
    -h|--help)
        awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
        exit 0 ;;
    esac
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages that are missing (only those, so a machine
# that has them needs no network and no root).
ensure_debian_packages() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

# A Python venv in the project with SecantusDB, the MongoDB-compatible server
# the tests and the local demo run against.
ensure_secantusdb() {
    if [ ! -x "$ORCH_VENV/bin/secantusd-py" ]; then
        log "installing SecantusDB $SECANTUSDB_VERSION into $ORCH_VENV"
        python3 -m venv "$ORCH_VENV"
        "$ORCH_VENV/bin/pip" install -q --disable-pip-version-check "SecantusDB==$SECANTUSDB_VERSION"
    fi
}

# ansible-inventory in the venv (tests only: inventories read by Ansible itself).
ensure_ansible_core() {
    ensure_secantusdb
    if [ ! -x "$ORCH_VENV/bin/ansible-inventory" ]; then
        log "installing ansible-core $ANSIBLE_CORE_VERSION into $ORCH_VENV (for the inventory tests)"
        "$ORCH_VENV/bin/pip" install -q --disable-pip-version-check "ansible-core==$ANSIBLE_CORE_VERSION"
    fi
}

# croniter in the venv (tests only: a second opinion on cron fire times).
ensure_croniter() {
    ensure_secantusdb
    if ! "$ORCH_VENV/bin/python" -c 'import croniter' 2>/dev/null; then
        log "installing croniter $CRONITER_VERSION into $ORCH_VENV (for the cron tests)"
        "$ORCH_VENV/bin/pip" install -q --disable-pip-version-check "croniter==$CRONITER_VERSION"
    fi
}

ensure_build_dependencies() {
    ensure_debian_packages libmongoc-dev libsystemd-dev pkg-config
    # Debian's python3 lacks venv without python3-venv; other Pythons carry it.
    python3 -c 'import ensurepip, venv' 2>/dev/null || ensure_debian_packages python3-venv
    ensure_secantusdb
}

# Builds the release binaries as they are installed, packaged and measured,
# and prints their directory: the Swift products given, with the Swift
# runtime linked in (nothing to install besides them, and orchctl starts in
# about half the time), and always orchestrator-step-gate, compiled as the
# plain C program it is. SwiftPM links every product through swiftc, which
# brings the Swift runtime and libstdc++ along: an 8.7 MB gate that the
# dynamic loader relocated at every step's start, 1.5 ms of CPU against
# 0.4 (docs/benchmarks.md, fourth round).
# How release builds are made (build_release, scripts/simulate): one set of
# flags, or every module is compiled again whenever the two alternate.
RELEASE_BUILD_FLAGS=(-c release --static-swift-stdlib -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections)

build_release() {
    # Called as $(build_release ...), where set -e does not reach: each failure returns.
    local product bin order
    # Every function in a section of its own, so that the linker lays out
    # the code a program runs at start and at rest together, in the order
    # of its order file (packaging/order/, scripts/order-files): spread over
    # the whole of .text, the 1.3 MB the daemon runs kept 13 MiB of it
    # resident (the kernel maps 64 KiB around each page faulted in).
    local flags=("${RELEASE_BUILD_FLAGS[@]}")
    for product in "$@"; do
        order="$ORCH_ROOT/packaging/order/$product.order"
        if [ -f "$order" ]; then
            # SwiftPM does not know the file: a new one is linked by removing what was linked with the old.
            [ "$order" -nt "$ORCH_ROOT/.build/release/$product" ] && rm -f "$ORCH_ROOT/.build/release/$product"
            # Symbols gone since the file was made are skipped: an old file only lays out less.
            swift build "${flags[@]}" -Xlinker "--symbol-ordering-file=$order" -Xlinker --no-warn-symbol-ordering --product "$product" >&2 || return 1
        else
            swift build "${flags[@]}" --product "$product" >&2 || return 1
        fi
    done
    bin="$(swift build "${flags[@]}" --show-bin-path)" || return 1
    mkdir -p "$bin" || return 1
    # The toolchain's clang (beside swift), as SwiftPM compiles C targets,
    # whatever else PATH holds; hardened as Debian builds executables.
    local cc
    cc="$(dirname "$(readlink -f "$(command -v swift)")")/clang"
    [ -x "$cc" ] || cc="${CC:-cc}"
    "$cc" -std=gnu11 -O2 -Wall -Wextra -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE -pie \
        -Wl,-z,relro,-z,now -Wl,--as-needed -o "$bin/orchestrator-step-gate" "$ORCH_ROOT/Sources/StepGate/main.c" >&2 || return 1
    echo "$bin"
}

# A port the kernel considers free right now on loopback.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Waits until something accepts TCP connections on 127.0.0.1:$1.
wait_for_port() {
    local port="$1" tries="${2:-300}"
    for _ in $(seq "$tries"); do
        if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.2)' "$port" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# The journal tests read back what the daemon wrote. Outside systemd no
# journald runs, so start the standalone one (root only); it keeps running.
ensure_journald() {
    if [ -S /run/systemd/journal/socket ] && pgrep -x systemd-journal >/dev/null 2>&1; then return 0; fi
    if [ "$(id -u)" -ne 0 ]; then
        log "not root: cannot start systemd-journald; the journal tests will say so"
        return 0
    fi
    mkdir -p /run/systemd/journal
    log "starting a standalone systemd-journald"
    /lib/systemd/systemd-journald >/dev/null 2>&1 &
    for _ in $(seq 50); do [ -S /run/systemd/journal/socket ] && return 0; sleep 0.1; done
    log "systemd-journald did not create its socket"
}
