"""Toggle→served latency: toggles a bool flag in core N times and, for every edge given, measures
the time from just before the toggle request is sent until the edge's /v1/evaluate serves the
new value. Bounded: each toggle waits at most --timeout seconds per edge (then fails).

Between toggles it pauses a random 0..--jitter-ms (seeded), so that toggles fall at random
phases of the edges' refresh timers. Polls each edge every --poll-ms on a kept-alive
connection, one thread per edge. Prints a table and writes JSON (--out).

Usage: python3 propagation_bench.py --core URL --token TOKEN --env ENV --flag KEY
         --client-key KEY --edge NAME=URL [--edge NAME=URL ...] [--toggles 100]
"""

import argparse
import http.client
import json
import random
import statistics
import sys
import threading
import time
import urllib.parse


class Http:
    """One kept-alive HTTP/1.1 connection to a base URL."""

    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)

    def call(self, method, path, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else None
        h = {"content-type": "application/json", **(headers or {})}
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=h)
                r = self.conn.getresponse()
                return r.status, dict(r.getheaders()), r.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
                if attempt == 2:
                    raise


def percentile(values, p):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--core", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--env", required=True)
    ap.add_argument("--flag", required=True)
    ap.add_argument("--client-key", required=True)
    ap.add_argument("--edge", action="append", required=True, help="NAME=URL")
    ap.add_argument("--toggles", type=int, default=100)
    ap.add_argument("--poll-ms", type=float, default=2.0)
    ap.add_argument("--jitter-ms", type=float, default=1000.0)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    edges = [tuple(e.split("=", 1)) for e in args.edge]
    core = Http(args.core)
    auth = {"authorization": f"Bearer {args.token}"}
    flag_path = f"/api/v1/flags/{urllib.parse.quote(args.flag)}"

    status, headers, body = core.call("GET", flag_path, headers=auth)
    if status != 200:
        sys.exit(f"GET {flag_path}: {status} {body[:200]!r}")
    flag = json.loads(body)
    state = flag["environments"][args.env]
    etag = headers.get("ETag") or headers.get("etag")

    def served(conn, expected):
        status, _, body = conn.call(
            "POST", "/v1/evaluate", {"context": {"user_id": "bench"}, "flags": [args.flag]},
            {"authorization": f"Bearer {args.client_key}"})
        if status != 200:
            return False
        answer = json.loads(body)
        return answer["flags"][0]["value"] == expected

    conns = {name: Http(url) for name, url in edges}
    latencies = {name: [] for name, _ in edges}
    commit_ms = []
    for i in range(args.toggles):
        time.sleep(rng.uniform(0, args.jitter_ms) / 1000.0)
        state = {**state, "enabled": not state["enabled"]}
        # Enabled serves the default variation, disabled the off variation.
        expected = flag["variations"][state["default_variation"] if state["enabled"]
                                      else state["off_variation"]]
        results = {}
        start = threading.Barrier(len(edges) + 1)

        def watch(name, t0_box):
            conn = conns[name]
            start.wait()
            t0 = t0_box[0]
            deadline = t0 + args.timeout
            while time.monotonic() < deadline:
                if served(conn, expected):
                    results[name] = time.monotonic() - t0
                    return
                time.sleep(args.poll_ms / 1000.0)

        t0_box = [0.0]
        threads = [threading.Thread(target=watch, args=(name, t0_box)) for name, _ in edges]
        for t in threads:
            t.start()
        t0_box[0] = time.monotonic()
        start.wait()
        status, headers, body = core.call(
            "PUT", f"{flag_path}/environments/{urllib.parse.quote(args.env)}", state,
            {**auth, "if-match": etag})
        commit_ms.append((time.monotonic() - t0_box[0]) * 1000)
        if status != 200:
            sys.exit(f"toggle {i}: PUT answered {status} {body[:300]!r}")
        etag = headers.get("ETag") or headers.get("etag")
        for t in threads:
            t.join()
        for name, _ in edges:
            if name not in results:
                sys.exit(f"toggle {i}: edge {name} did not serve {expected!r} within "
                         f"{args.timeout} s")
            latencies[name].append(results[name] * 1000)

    summary = {"toggles": args.toggles, "poll_ms": args.poll_ms, "jitter_ms": args.jitter_ms,
               "core_commit_ms": {"p50": statistics.median(commit_ms),
                                  "p95": percentile(commit_ms, 95), "max": max(commit_ms)},
               "edges": {}}
    print(f"{'edge':<24} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'min ms':>8}")
    for name, values in latencies.items():
        s = {"n": len(values), "p50": statistics.median(values), "p95": percentile(values, 95),
             "max": max(values), "min": min(values), "mean": statistics.fmean(values)}
        summary["edges"][name] = s
        print(f"{name:<24} {s['n']:>4} {s['p50']:>8.1f} {s['p95']:>8.1f} {s['max']:>8.1f} "
              f"{s['min']:>8.1f}")
    c = summary["core_commit_ms"]
    print(f"{'(core PUT answered)':<24} {args.toggles:>4} {c['p50']:>8.1f} {c['p95']:>8.1f} "
          f"{c['max']:>8.1f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(summary, f, indent=2)


if __name__ == "__main__":
    main()
