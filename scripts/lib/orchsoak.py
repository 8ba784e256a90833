"""Fault-injection soak for orchestratord (run through scripts/soak).

Two daemons share one SecantusDB. Daemon b's clock is a minute ahead
(faketime, when it is installed) and it reaches the database through a proxy
that can drop the database's answers or cut it off. Client threads keep
starting runs of mixed workflows (short and long steps, failures, retries,
parallel groups), with request ids and one retry as orchctl does, and
cancelling and resuming some, while a chaos thread kill -9s a daemon, stops
one with SIGTERM (a drain beside its peer), stops the database, or makes the
proxy drop answers or partition for longer than a lease. At the end every run
must settle, and invariants are checked against the database and against
what the steps themselves wrote to disk. Loopback only; bounded in time.
"""

import argparse
import base64
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from pymongo import MongoClient

# Connection-string options for every client of the database (set by main).
OPTIONS = ""

STEP_SCRIPT = r'''
d="$1"
key="$ORCH_RUN_ID.$ORCH_STEP"
exec 9>"$d/lock.$key"
if ! flock -n 9; then echo "OVERLAP $key $ORCH_ATTEMPT $(date +%s.%N)" >> "$d/markers"; fi
echo "START $key $ORCH_ATTEMPT $$ $(date +%s.%N)" >> "$d/markers"
[ -n "$SLEEP" ] && sleep "$SLEEP"
rc=0
if [ "$FAIL_FIRST" = 1 ] && [ "$ORCH_ATTEMPT" = 1 ]; then rc=1; fi
if [ "$FAILS_ON_PARAM" = 1 ] && [ "$ORCH_PARAM_FAIL" = yes ]; then rc=7; fi
echo "END $key $ORCH_ATTEMPT $rc $(date +%s.%N)" >> "$d/markers"
exit $rc
'''


def step(name, order, work, sleep="", fail_first=False, fails_on_param=False, **extra):
    s = {
        "name": name, "executionOrder": order,
        "action": {"exec": ["/bin/sh", "-c", STEP_SCRIPT, "step", work],
                   "env": {"SLEEP": sleep, "FAIL_FIRST": "1" if fail_first else "0",
                           "FAILS_ON_PARAM": "1" if fails_on_param else "0"}},
    }
    s.update(extra)
    return s


def workflows(markers):
    """`markers` is the work directory the steps write their markers and locks in."""
    return [
        {"name": "soak-short", "steps": [
            step("a", 0, markers), step("b1", 1, markers), step("b2", 1, markers), step("c", 2, markers)]},
        {"name": "soak-long", "steps": [
            step("wait", 0, markers, sleep="1.5", idempotent=True, retries=1),
            step("after", 1, markers, idempotent=True)]},
        {"name": "soak-flaky", "steps": [
            step("flaky", 0, markers, fail_first=True, retries=2, retryDelaySeconds=0, idempotent=True),
            step("p1", 1, markers, sleep="0.3"), step("p2", 1, markers, sleep="0.3"), step("p3", 1, markers, sleep="0.3")]},
        {"name": "soak-failing", "steps": [
            step("maybe", 0, markers, fails_on_param=True), step("tolerant", 0, markers, fails_on_param=True, continueOnFailure=True),
            step("later", 1, markers)]},
        {"name": "soak-unsafe", "steps": [
            step("push", 0, markers, sleep="1"), step("verify", 1, markers)]},
    ]


class RPCError(Exception):
    def __init__(self, error):
        super().__init__(error.get("message", "error"))
        self.code = error.get("code")


def call(path, method, params=None, timeout=10):
    """One JSON-RPC call on a fresh connection. Raises OSError when the daemon
    cannot be reached, RPCError for an error answer."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall((json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                raise OSError("connection closed")
            data += chunk
    answer = json.loads(data)
    if "error" in answer:
        raise RPCError(answer["error"])
    return answer["result"]


def run_for(threads, seconds, stop):
    """Starts the threads, lets them work for `seconds`, then stops and joins them."""
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


class Database:
    def __init__(self, secantusd, work):
        self.secantusd, self.port = secantusd, free_port()
        self.storage = os.path.join(work, "db")
        self.log = open(os.path.join(work, "db.log"), "ab")
        self.proc = None

    @property
    def uri(self):
        return f"mongodb://127.0.0.1:{self.port}/?{OPTIONS}"

    def start(self):
        self.proc = subprocess.Popen(
            [self.secantusd, "--host", "127.0.0.1", "--port", str(self.port), "--storage-path", self.storage,
             "--log-level", "WARNING"], stdout=self.log, stderr=self.log)
        if not wait_port(self.port):
            raise SystemExit("SecantusDB did not start")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Proxy:
    """A TCP proxy to the database: forwards, drops the database's answers
    (requests still land), or partitions (nothing passes)."""

    def __init__(self, upstream_port):
        self.upstream, self.mode, self.lock = upstream_port, "forward", threading.Lock()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.links = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def uri(self):
        return f"mongodb://127.0.0.1:{self.port}/?{OPTIONS}"

    def set(self, mode):
        with self.lock:
            self.mode = mode
            links, self.links = (self.links, []) if mode == "forward" else (self.links, self.links)
        if mode == "forward":
            # Connections that lost answers are useless to the driver now: close them.
            for a, b in links:
                for sock in (a, b):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
                server = socket.create_connection(("127.0.0.1", self.upstream), 2)
            except OSError:
                continue
            with self.lock:
                self.links.append((client, server))
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source, destination, is_reply):
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            with self.lock:
                mode = self.mode
            if mode == "partition" or (is_reply and mode == "drop"):
                continue
            try:
                destination.sendall(data)
            except OSError:
                break
        for sock in (source, destination):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# The faketime wrapper (a Swift daemon with libfaketime preloaded directly
# loses its arguments). It passes no signal on: they go to the process group.
FAKETIME = shutil.which("faketime")


def secret_key(work):
    """The key the daemons of one soak share (secret-key-file), made once, mode 0600."""
    path = os.path.join(work, "secret.key")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as key:
            key.write(base64.b64encode(os.urandom(32)) + b"\n")
    return path


class Daemon:
    def __init__(self, name, binary, work, uri, database, ahead=False):
        self.name, self.binary = name, binary
        self.socket = os.path.join(work, f"{name}.sock")
        self.args = [binary, "--socket", self.socket, "--mongodb-uri", uri, "--database", database,
                     "--log-target", "stderr", "--socket-group", "root", "--admin-group", "root",
                     "--lease-seconds", "3", "--server-selection-timeout-ms", "1000", "--stop-timeout-seconds", "5",
                     "--secret-key-file", secret_key(work)]
        # A clock a minute ahead (faketime cannot set one behind for a Swift
        # process: its timers then wait the offset too).
        self.ahead = ahead and FAKETIME is not None
        if self.ahead:
            self.args = [FAKETIME, "-f", "+60s"] + self.args
        self.log = open(os.path.join(work, f"{name}.log"), "ab")
        self.proc = None

    def start(self):
        env = dict(os.environ, MONGOC_DISABLE_SHM="1")
        for key in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "LISTEN_FDS", "LISTEN_PID"):
            env.pop(key, None)
        if self.ahead:
            env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
        # A session of its own: signals go to the whole group (the wrapper and the daemon).
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=self.log, env=env, start_new_session=True)

    def wait_serving(self, seconds=60):
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                call(self.socket, "daemon.status", timeout=5)
                return True
            except (OSError, RPCError, ValueError):
                time.sleep(0.2)
        return False

    def signal(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def group_alive(self):
        self.proc.poll()  # reaps the wrapper, whose zombie would keep the group
        try:
            os.killpg(self.proc.pid, 0)
            return True
        except ProcessLookupError:
            return False

    def kill(self):
        if self.proc and self.group_alive():
            self.signal(signal.SIGKILL)
            self.proc.wait()
            while self.group_alive():
                time.sleep(0.05)
            self.forget_wrapper()

    def forget_wrapper(self):
        """Removes what the faketime wrapper named after its pid in /dev/shm
        (a semaphore, a shared memory segment): it removes them as it exits,
        but a signal to the group ends it first. A later wrapper given the
        same pid (pid_max is 32768 here) then cannot start: "sem_open: File
        exists", and the soak stopped with "daemon b did not start"."""
        if not (self.ahead and self.proc):
            return
        for name in (f"sem.faketime_sem_{self.proc.pid}", f"faketime_shm_{self.proc.pid}"):
            try:
                os.unlink(os.path.join("/dev/shm", name))
            except FileNotFoundError:
                pass

    def stop(self):
        """SIGTERM: a drain (stop timeout 5 s; the whole drain ends within
        15 s). Returns the daemon's exit status (under the wrapper, which
        dies of the signal at once: 0 once the group is gone), None when it
        had to be killed."""
        if not (self.proc and self.group_alive()):
            return self.proc.returncode if self.proc else None
        self.signal(signal.SIGTERM)
        deadline = time.time() + 40
        while self.group_alive() and time.time() < deadline:
            time.sleep(0.05)
        if self.group_alive():
            self.kill()
            return None
        status = self.proc.wait()
        self.forget_wrapper()
        return 0 if self.ahead else status


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--secantusd", required=True)
    parser.add_argument("--duration", type=float, default=120, help="seconds of load and chaos (default 120)")
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--settle", type=float, default=300, help="seconds every run gets to finish after the chaos (default 300)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--mongodb-options", default="retryWrites=false",
                        help="connection-string options for the daemons and the checks (default retryWrites=false, "
                             "as the shipped configuration recommends for a single SecantusDB server: it rereads "
                             "every retryable write of the last 30 minutes on each write, which slows a long soak "
                             "until runs cannot settle)")
    args = parser.parse_args()
    global OPTIONS
    OPTIONS = args.mongodb_options
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="orch-soak-")
    markers = os.path.join(work, "markers")
    open(markers, "a").close()
    print(f"soak: seed {args.seed}, {args.duration:.0f}s, {args.clients} clients, work in {work}", flush=True)

    db = Database(args.secantusd, work)
    db.start()
    database = f"soak_{args.seed}"
    proxy = Proxy(db.port)
    # The daemons are restarted from copies: a build meanwhile must not
    # change (or, while it links, lock) the binary the soak restarts.
    bin_dir = os.path.join(work, "bin")
    os.makedirs(bin_dir)
    for name in ("orchestratord", "orchestrator-step-gate"):
        shutil.copy2(os.path.join(args.bin_dir, name), bin_dir)
    binary = os.path.join(bin_dir, "orchestratord")
    daemons = [Daemon("a", binary, work, db.uri, database), Daemon("b", binary, work, proxy.uri, database, ahead=True)]
    for d in daemons:
        d.start()
    for d in daemons:
        if not d.wait_serving():
            raise SystemExit(f"daemon {d.name} did not start")
    for wf in workflows(work):
        call(daemons[0].socket, "workflow.create", wf)

    acknowledged, lock = set(), threading.Lock()
    counts = {"starts": 0, "cancels": 0, "resumes": 0}
    refusals = {}
    faults = {"daemon_kill9": 0, "daemon_sigterm": 0, "db_stop": 0, "answers_dropped": 0, "partition": 0}
    requests = {}  # request id -> the answers its attempts got
    slow_drains = []
    stop = threading.Event()

    def client(seed):
        r = random.Random(seed)
        names = [wf["name"] for wf in workflows(work)]
        while not stop.is_set():
            d = r.choice(daemons)
            try:
                roll = r.random()
                if roll < 0.75 or not acknowledged:
                    start(r, d, names)
                elif roll < 0.87:
                    with lock:
                        target = r.choice(sorted(acknowledged))
                    call(d.socket, "run.cancel", {"id": target})
                    with lock:
                        counts["cancels"] += 1
                else:
                    with lock:
                        target = r.choice(sorted(acknowledged))
                    call(d.socket, "run.resume", {"id": target})
                    with lock:
                        counts["resumes"] += 1
            except RPCError as e:
                with lock:
                    refusals[str(e.code)] = refusals.get(str(e.code), 0) + 1
            except (OSError, ValueError):
                with lock:
                    refusals["unreachable"] = refusals.get("unreachable", 0) + 1
            time.sleep(r.uniform(0.4, 1.2))

    def start(r, d, names):
        """run.start as orchctl does it: a request id, and once more with it
        when the daemon was unreachable or answered -32005/-32007."""
        request_id = f"soak-{r.random():.12f}"
        params = {"workflow": r.choice(names), "params": {"fail": r.choice(["yes", "no", "no"])}, "requestId": request_id}
        with lock:
            requests[request_id] = []
        for attempt in (1, 2):
            try:
                run = call(d.socket, "run.start", params)
                with lock:
                    requests[request_id].append("ok")
                    acknowledged.add(run["id"])
                    counts["starts"] += 1
                return
            except RPCError as e:
                with lock:
                    requests[request_id].append(str(e.code))
                if e.code not in (-32005, -32007) or attempt == 2:
                    raise
            except (OSError, ValueError):
                with lock:
                    requests[request_id].append("unreachable")
                if attempt == 2:
                    raise
            time.sleep(r.uniform(0.5, 2))

    def chaos():
        while not stop.wait(rng.uniform(3, 7)):
            roll = rng.random()
            if roll < 0.35:
                d = rng.choice(daemons)
                d.kill()
                faults["daemon_kill9"] += 1
                time.sleep(rng.uniform(0.3, 2))
                d.start()
            elif roll < 0.55:
                d = rng.choice(daemons)
                began = time.time()
                status = d.stop()
                faults["daemon_sigterm"] += 1
                if status != 0 or time.time() - began > 25:
                    slow_drains.append(f"daemon {d.name}: SIGTERM drain exited {status} after {time.time() - began:.1f}s")
                d.start()
            elif roll < 0.75:
                # Answers lost (writes land), or b cut off for longer than a lease (3 s).
                mode = rng.choice(["drop", "partition"])
                proxy.set(mode)
                faults["answers_dropped" if mode == "drop" else "partition"] += 1
                time.sleep(rng.uniform(1, 3) if mode == "drop" else rng.uniform(3.5, 8))
                proxy.set("forward")
            else:
                db.stop(rng.choice([signal.SIGTERM, signal.SIGKILL]))
                faults["db_stop"] += 1
                time.sleep(rng.uniform(0.5, 3))
                db.start()

    threads = [threading.Thread(target=client, args=(args.seed + i,)) for i in range(args.clients)]
    threads.append(threading.Thread(target=chaos))
    run_for(threads, args.duration, stop)

    # Settle: everything up again, then every run must reach a terminal state.
    if db.proc.poll() is not None:
        db.start()
    for d in daemons:
        if d.proc.poll() is not None:
            d.start()
        d.wait_serving()
    mongo = MongoClient(db.uri, serverSelectionTimeoutMS=5000)
    runs_collection = mongo[database]["runs"]
    deadline = time.time() + args.settle
    while time.time() < deadline:
        active = runs_collection.count_documents({"status": {"$in": ["queued", "running"]}})
        if active == 0:
            break
        time.sleep(1)
    runs = list(runs_collection.find({}, {"events": 0}))
    for d in daemons:
        d.stop()
    db.stop()

    breaches = list(slow_drains)
    by_id = {str(r["_id"]): r for r in runs}
    by_request = {}
    for r in runs:
        if r.get("requestId"):
            by_request.setdefault(r["requestId"], []).append(str(r["_id"]))
    for request_id, answers in sorted(requests.items()):
        made = by_request.get(request_id, [])
        if len(made) > 1:
            breaches.append(f"request {request_id} started {len(made)} runs: {made}")
        if made and answers and all(a == "-32005" for a in answers):
            breaches.append(f"request {request_id} was answered -32005 (nothing written) every time, yet run {made[0]} exists")
    for run_id in sorted(acknowledged - set(by_id)):
        breaches.append(f"run {run_id} was acknowledged but is not in the database")
    lines = [line.split() for line in open(markers)]
    starts, ends = {}, {}
    for parts in lines:
        if parts[0] == "OVERLAP":
            breaches.append(f"two attempts of {parts[1]} ran at once (attempt {parts[2]})")
        elif parts[0] == "START":
            starts.setdefault(parts[1], []).append(int(parts[2]))
        elif parts[0] == "END":
            ends[(parts[1], int(parts[2]))] = int(parts[3])
    for r in runs:
        rid, status = str(r["_id"]), r["status"]
        if status not in ("succeeded", "failed", "cancelled"):
            breaches.append(f"run {rid} is still {status}")
        if status == "succeeded" and any(s["status"] != "succeeded" for s in r["steps"]):
            breaches.append(f"run {rid} succeeded with steps {[(s['name'], s['status']) for s in r['steps']]}")
        for s in r["steps"]:
            key = f"{rid}.{s['name']}"
            if s["status"] == "succeeded":
                if ends.get((key, s["attempts"])) != 0:
                    breaches.append(f"{key} is recorded succeeded (attempt {s['attempts']}) but the step did not write a successful end for it")
                later = [a for a in starts.get(key, []) if a > s["attempts"]]
                if later:
                    breaches.append(f"{key} ran again (attempts {later}) after it was recorded succeeded at attempt {s['attempts']}")
            elif s["status"] == "failed" and s.get("exitCode") is not None:
                if (key, s["attempts"]) in ends and ends[(key, s["attempts"])] != s["exitCode"]:
                    breaches.append(f"{key} recorded exit {s['exitCode']} but the step wrote {ends[(key, s['attempts'])]}")

    # A soak that ran nothing proves nothing.
    if not starts:
        breaches.append("no step ran at all")
    if not any(r["status"] == "succeeded" for r in runs):
        breaches.append("no run succeeded")

    statuses = {}
    for r in runs:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    step_attempts = sum(len(v) for v in starts.values())
    print(f"soak: runs {len(runs)} {json.dumps(statuses, sort_keys=True)}, acknowledged starts {len(acknowledged)}, "
          f"step attempts {step_attempts}, cancels {counts['cancels']}, resumes {counts['resumes']}")
    print(f"soak: requests not served, by error code (-32005 database down, -32002 not cancellable/resumable, unreachable = daemon down): "
          f"{json.dumps(refusals, sort_keys=True)}")
    print(f"soak: faults injected {sum(faults.values())} {json.dumps(faults, sort_keys=True)}"
          f"{'' if daemons[1].ahead else ' (faketime missing: daemon b ran on this clock)'}")
    print(f"soak: breaches {len(breaches)}")
    for b in breaches[:50]:
        print(f"  BREACH {b}")
    if args.keep or breaches:
        print(f"soak: work directory kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if breaches else 0)


if __name__ == "__main__":
    main()
