# A throwaway systemd container (systemd-nspawn over the host's own /usr, see
# ../shared/recipes/systemd-in-nspawn.md), for the end-to-end scripts. Source
# it after common.sh, then:
#
#   container_boot NAME VOLATILE WORKDIR [--bind…/--bind-ro… nspawn options]
#
# VOLATILE is `yes` (a fresh tmpfs root, /usr read-only) or `overlay` (the
# host's root under a tmpfs overlay: everything writable, nothing of it
# reaching the host, for installing packages). It sets LEADER (the container's PID 1, as the host sees it) and
# tears the container down on exit. `ct CMD…` runs a command inside;
# `check WHAT CMD…` runs one and prints ok or FAIL (counted in `failures`).

failures=0
NSPAWN_PID=""
LEADER=""
CONTAINER_NAME=""
CONTAINER_WORK=""

container_teardown() {
    set +e
    if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
        kill -TERM "$NSPAWN_PID"
        for _ in $(seq 100); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
    fi
    for tree in systemd unified; do
        dir="/sys/fs/cgroup/$tree/$CONTAINER_NAME"
        [ -n "$CONTAINER_NAME" ] && [ -d "$dir" ] || continue
        find "$dir" -name cgroup.procs -exec cat {} \; 2>/dev/null | xargs -r kill -KILL 2>/dev/null
        sleep 0.2
        find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    [ -n "$CONTAINER_WORK" ] && rm -rf "$CONTAINER_WORK"
}

container_boot() {
    CONTAINER_NAME="$1"
    local volatile="$2"
    CONTAINER_WORK="$3"
    shift 3
    [ "$(id -u)" -eq 0 ] || { echo "$0: must run as root (it boots a systemd container)" >&2; exit 1; }
    ensure_debian_packages systemd-container iproute2 procps
    trap container_teardown EXIT
    # Boot: own cgroup, private mounts with a tmpfs /run, the container on the host's loopback.
    mkdir -p "/sys/fs/cgroup/systemd/$CONTAINER_NAME" "/sys/fs/cgroup/unified/$CONTAINER_NAME"
    (
        echo $BASHPID >"/sys/fs/cgroup/systemd/$CONTAINER_NAME/cgroup.procs"
        echo $BASHPID >"/sys/fs/cgroup/unified/$CONTAINER_NAME/cgroup.procs"
        exec unshare --mount --propagation private sh -c '
            mount -t tmpfs tmpfs /run
            name="$1"; volatile="$2"; work="$3"; shift 3
            if [ "$volatile" = overlay ]; then
                # nspawn refuses --volatile=overlay on /: the host root under a tmpfs overlay, made here.
                mkdir -p "$work/overlay" && mount -t tmpfs tmpfs "$work/overlay"
                mkdir -p "$work/overlay/upper" "$work/overlay/work" "$work/overlay/root"
                mount -t overlay overlay -o lowerdir=/,upperdir="$work/overlay/upper",workdir="$work/overlay/work" "$work/overlay/root"
                exec systemd-nspawn --boot --directory="$work/overlay/root" --register=no --keep-unit --machine="$name" \
                    "$@" -- systemd.mask=systemd-firstboot.service
            fi
            exec systemd-nspawn --boot --directory=/ --volatile="$volatile" --register=no --keep-unit --machine="$name" \
                "$@" -- systemd.mask=systemd-firstboot.service' \
            sh "$CONTAINER_NAME" "$volatile" "$CONTAINER_WORK" "$@"
    ) >"$CONTAINER_WORK/nspawn.log" 2>&1 &
    NSPAWN_PID=$!
    for _ in $(seq 200); do
        inner="$(pgrep -f -- "--machine=$CONTAINER_NAME" | head -1 || true)"
        [ -n "$inner" ] && LEADER="$(pgrep -P "$inner" -x systemd || true)"
        [ -n "$LEADER" ] && break
        sleep 0.1
    done
    [ -n "$LEADER" ] || { cat "$CONTAINER_WORK/nspawn.log" >&2; echo "the container did not boot" >&2; exit 1; }
    # The system bus comes up a moment after PID 1; wait for the boot to finish.
    local booted="" state=""
    for _ in $(seq 300); do
        state="$(ct systemctl is-system-running 2>/dev/null || true)"
        case "$state" in running|degraded) booted=yes; break ;; esac
        sleep 0.1
    done
    [ -n "$booted" ] || { cat "$CONTAINER_WORK/nspawn.log" >&2; echo "the container did not finish booting (state: ${state:-none})" >&2; exit 1; }
}

ct() { env -u ORCHCTL_SOCKET -u NOTIFY_SOCKET nsenter -t "$LEADER" -a "$@"; }
pass() { printf '  ok    %s\n' "$1"; }
fail() { printf '  FAIL  %s\n' "$1"; failures=$((failures + 1)); }
check() { local what="$1"; shift; if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi; }
wait_until() { local seconds="$1"; shift; for _ in $(seq $((seconds * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
# The path of the Swift toolchain, for binaries built without --static-swift-stdlib.
swift_toolchain() { dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")"; }
