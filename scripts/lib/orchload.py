"""Load test for orchestratord (run through scripts/load).

1. 200 concurrent clients (one connection each) doing mixed reads and writes
   for a bounded time: every answer must be a success (no error is expected
   in this mix); latency percentiles per method are printed.
2. 500 runs started at once: all must succeed, and the steps' own start/end
   stamps must never show more than max-parallel-steps running together.
"""

import argparse
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from orchsoak import Daemon, Database, RPCError, call, run_for  # noqa: E402


class Connection:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(60)
        self.sock.connect(path)
        self.buffer = b""
        self.next_id = 1

    def call(self, method, params=None):
        self.next_id += 1
        self.sock.sendall((json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params or {}}) + "\n").encode())
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("connection closed")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        answer = json.loads(line)
        if "error" in answer:
            raise RPCError(answer["error"])
        return answer["result"]


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--secantusd", required=True)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--max-parallel-steps", type=int, default=4)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="orch-load-")
    db = Database(args.secantusd, work)
    db.start()
    daemon = Daemon("load", os.path.join(args.bin_dir, "orchestratord"), work, db.uri, "load")
    daemon.args += ["--max-parallel-steps", str(args.max_parallel_steps)]
    daemon.start()
    if not daemon.wait_serving():
        raise SystemExit("the daemon did not start")
    failures = []

    # Phase 1: mixed load.
    for i in range(20):
        call(daemon.socket, "workflow.create", {"name": f"base-{i}", "steps": [
            {"name": "s", "executionOrder": 0, "action": {"exec": ["/bin/true"]}}]})
    latencies, lock, stop = {}, threading.Lock(), threading.Event()
    errors = []

    def client(n):
        try:
            c = Connection(daemon.socket)
        except OSError as e:
            errors.append(f"client {n} could not connect: {e}")
            return
        i = 0
        while not stop.is_set():
            i += 1
            op = (n + i) % 10
            if op < 3:
                method, params = "workflow.get", {"name": f"base-{(n + i) % 20}"}
            elif op < 5:
                method, params = "workflow.list", {"limit": 20}
            elif op < 6:
                method, params = "daemon.status", {}
            elif op < 7:
                method, params = "step.list", {"workflow": f"base-{i % 20}"}
            elif op < 8:
                method, params = "workflow.create", {"name": f"c{n}-{i}"}
            elif op < 9:
                method, params = "step.add", {"workflow": f"base-{n % 20}", "step": {
                    "name": f"x{n}-{i}", "executionOrder": 1, "action": {"exec": ["/bin/true"]}}}
            else:
                method, params = "workflow.update", {"name": f"base-{n % 20}", "description": f"by {n} at {i}"}
            started = time.perf_counter()
            try:
                c.call(method, params)
            except (RPCError, OSError, ValueError) as e:
                with lock:
                    errors.append(f"{method}: {e}")
                continue
            elapsed = time.perf_counter() - started
            with lock:
                latencies.setdefault(method, []).append(elapsed)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
    began = time.perf_counter()
    run_for(threads, args.duration, stop)
    wall = time.perf_counter() - began
    total = sum(len(v) for v in latencies.values())
    print(f"load: {args.clients} clients for {args.duration:.0f}s: {total} requests ({total / wall:.0f}/s), {len(errors)} errors")
    print(f"load: {'method':<16} {'count':>7} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9}")
    for method in sorted(latencies):
        v = latencies[method]
        print(f"load: {method:<16} {len(v):>7} {percentile(v, 50) * 1000:>8.1f} {percentile(v, 99) * 1000:>8.1f} {percentile(v, 99.9) * 1000:>9.1f}")
    failures += errors[:20]

    # Phase 2: a burst of runs.
    stamps = os.path.join(work, "stamps")
    script = f'echo "start $(date +%s%N)" >> {stamps}; sleep 0.05; echo "end $(date +%s%N)" >> {stamps}'
    call(daemon.socket, "workflow.create", {"name": "burst", "steps": [
        {"name": f"p{k}", "executionOrder": 0, "action": {"exec": ["/bin/sh", "-c", script]}} for k in range(2)]})
    ids, id_lock = [], threading.Lock()

    def starter(count):
        c = Connection(daemon.socket)
        for _ in range(count):
            run = c.call("run.start", {"workflow": "burst"})
            with id_lock:
                ids.append(run["id"])

    began = time.perf_counter()
    starters = [threading.Thread(target=starter, args=(args.runs // 20,)) for _ in range(20)]
    for t in starters:
        t.start()
    for t in starters:
        t.join()
    queued = time.perf_counter() - began
    deadline = time.time() + 900
    c = Connection(daemon.socket)
    statuses = {}
    while time.time() < deadline:
        statuses = {}
        page = None
        while True:
            result = c.call("run.list", {"workflow": "burst", "limit": 1000, **({"after": page} if page else {})})
            for r in result["items"]:
                statuses[r["status"]] = statuses.get(r["status"], 0) + 1
            page = result["next"]
            if not page:
                break
        if statuses.get("queued", 0) + statuses.get("running", 0) == 0 and sum(statuses.values()) >= len(ids):
            break
        time.sleep(1)
    done = time.perf_counter() - began
    events = []
    for line in open(stamps):
        kind, value = line.split()
        events.append((int(value), 1 if kind == "start" else -1))
    current = peak = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        current += delta
        peak = max(peak, current)
    print(f"load: {len(ids)} runs started in {queued:.1f}s, all finished after {done:.1f}s: {json.dumps(statuses, sort_keys=True)}; "
          f"{len(events) // 2} steps ran, at most {peak} at once (max-parallel-steps {args.max_parallel_steps})")
    if statuses.get("succeeded", 0) != len(ids):
        failures.append(f"not every run succeeded: {statuses}")
    if peak > args.max_parallel_steps:
        failures.append(f"{peak} steps ran at once, more than max-parallel-steps {args.max_parallel_steps}")
    daemon.stop()
    db.stop()
    shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print(f"  FAILURE {f}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
