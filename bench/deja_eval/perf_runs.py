"""The pieces of bench/perf: deja-load runs and load sweeps, the ingest
sampler, process and disk figures, the readable table.

Every deja-load run is saved raw (its table and its JSON line) under the
run's output directory, so any figure of the report can be traced back.
"""
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time

# A load point is saturated when the load generator dropped arrivals, when
# less than this share of the offered rate was achieved, or when p99 went
# above this many ms: a series stops at its first saturated point.
ACHIEVED_SHARE = 0.9
SATURATED_P99_MS = 2000.0


class StepError(RuntimeError):
    """A step of the benchmark failed; the message says which and why."""


class Progress:
    """One line per step on stderr, with the time since the run began."""

    def __init__(self):
        self.began = time.monotonic()

    def elapsed(self):
        return time.monotonic() - self.began

    def say(self, text):
        print("[perf %7.1fs] %s" % (self.elapsed(), text), file=sys.stderr, flush=True)


def run_tool(argv, what, stdin=None):
    """Runs a tool whose stderr passes through (progress); returns its stdout.
    Raises StepError with the tool's output tail when it fails."""
    try:
        result = subprocess.run(argv, stdout=subprocess.PIPE, stdin=stdin, text=True)
    except OSError as e:
        raise StepError("%s: cannot run %s: %s" % (what, argv[0], e))
    if result.returncode != 0:
        raise StepError("%s failed (exit %d): %s\nstdout tail:\n%s"
                        % (what, result.returncode, " ".join(argv), result.stdout[-2000:]))
    return result.stdout


def last_json_line(text, what):
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise StepError("%s printed no JSON line" % what)


def safe_name(label):
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-")


class LoadRunner:
    """Runs deja-load with the run's common flags and keeps the raw output."""

    def __init__(self, binary, raw_dir, duration, warmup, cpu=None):
        self.binary = binary
        self.raw_dir = raw_dir
        self.duration = duration
        self.warmup = warmup
        self.cpu = cpu
        self.runs = []  # (label, path of the raw JSON)

    def run(self, kind, label, flags):
        """flags: list of extra deja-load flags. Returns the parsed JSON."""
        argv = [self.binary, "--kind", kind, "--duration", str(self.duration),
                "--warmup", str(self.warmup), "--json", "--label", label] + list(flags)
        if self.cpu is not None:
            argv += ["--cpu", str(self.cpu)]
        out = run_tool(argv, "deja-load %s" % label)
        result = last_json_line(out, "deja-load %s" % label)
        base = os.path.join(self.raw_dir, "%03d-%s" % (len(self.runs) + 1, safe_name(label)))
        with open(base + ".txt", "w") as f:
            f.write(" ".join(argv) + "\n\n" + out)
        with open(base + ".json", "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
        self.runs.append((label, base + ".json"))
        return result


def errors_of(result):
    return sum(result.get("errors", {}).values())


def saturation(result):
    """Why an open-loop point is saturated, or None."""
    offered = result.get("offered_rate") or 0
    if result.get("dropped", 0) > 0 or result.get("saturated"):
        return "dropped %d arrivals" % result.get("dropped", 0)
    # OK answers only: a request the server refused (RESOURCE_EXHAUSTED) or
    # that missed its deadline was not served.
    if offered and result["ok_rate"] < ACHIEVED_SHARE * offered:
        return "served %.0f of %.0f/s" % (result["ok_rate"], offered)
    if result["latency_ms"]["p99"] > SATURATED_P99_MS:
        return "p99 %.0f ms" % result["latency_ms"]["p99"]
    return None


def point_of(results):
    """One load point from K runs at the same rate: medians, with the
    min-max spread of p50 and p99 (equal to the value when K = 1)."""
    def med(values):
        values = [v for v in values if v is not None]
        return round(statistics.median(values), 4) if values else None

    def low(values):
        values = [v for v in values if v is not None]
        return min(values) if values else None

    def high(values):
        values = [v for v in values if v is not None]
        return max(values) if values else None

    # Latency covers OK answers only: a run without one has no latency.
    lat = [r["latency_ms"] if r["latency_ms"]["count"] else dict.fromkeys(
        ("p50", "p90", "p99", "p999")) for r in results]
    server_cpu = [r["server_cpu_ms_per_req"] for r in results
                  if r.get("server_cpu_ms_per_req") is not None]
    reasons = [saturation(r) for r in results]
    return {
        "offered": results[0].get("offered_rate"),
        "concurrency": results[0].get("concurrency"),
        "runs": len(results),
        "achieved": med([r["achieved_rate"] for r in results]),
        "ok_rate": med([r["ok_rate"] for r in results]),
        "p50": med([x["p50"] for x in lat]), "p90": med([x["p90"] for x in lat]),
        "p99": med([x["p99"] for x in lat]), "p999": med([x["p999"] for x in lat]),
        "p50_min": low([x["p50"] for x in lat]), "p50_max": high([x["p50"] for x in lat]),
        "p99_min": low([x["p99"] for x in lat]), "p99_max": high([x["p99"] for x in lat]),
        "errors": int(statistics.median([errors_of(r) for r in results])),
        "error_codes": results[-1].get("errors", {}),
        "dropped": int(statistics.median([r.get("dropped", 0) for r in results])),
        "server_cpu_ms_per_req": med(server_cpu) if server_cpu else None,
        "client_cpu_ms_per_req": med([r["client_cpu_ms_per_req"] for r in results]),
        "saturated": next((x for x in reasons if x), None),
    }


def sweep(runner, progress, kind, name, rates, key_rate, repeat, flags):
    """Open-loop points at rising rates until one saturates; the key rate
    runs `repeat` times (and runs even when the series stopped before it, so
    the comparison table always has it). Returns (points, key point)."""
    points, key = [], None
    stopped = None
    for rate in rates:
        if stopped and rate != key_rate:
            continue
        times = repeat if rate == key_rate else 1
        results = []
        for k in range(times):
            progress.say("  %s at %g/s%s" % (name, rate,
                                             " (run %d of %d)" % (k + 1, times) if times > 1 else ""))
            results.append(runner.run(kind, "%s-rate%g-run%d" % (name, rate, k + 1),
                                      flags + ["--rate", str(rate)]))
        point = point_of(results)
        if rate == key_rate:
            key = point
        if not stopped:
            points.append(point)
            if point["saturated"]:
                stopped = point["saturated"]
                progress.say("  %s saturated at %g/s (%s): series stops" % (name, rate, stopped))
    return points, key


class IngestSampler(threading.Thread):
    """Once a second: postmortems stored (count(*) through psql) and
    documents indexed (GetIndexStatus), under a phase label."""

    def __init__(self, psql, index_status, interval=1.0):
        super().__init__(daemon=True)
        self.psql = psql
        self.index_status = index_status
        self.interval = interval
        self.rows = []  # (phase, seconds into the phase, stored, indexed, pending)
        self._phase = None
        self._phase_began = 0.0
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def phase(self, name):
        with self._lock:
            self._phase, self._phase_began = name, time.monotonic()
        self.sample()

    def pause(self):
        with self._lock:
            self._phase = None

    def sample(self):
        with self._lock:
            phase, began = self._phase, self._phase_began
        if phase is None:
            return
        t = time.monotonic() - began
        try:
            stored = int(self.psql("SELECT count(*) FROM postmortems;").strip())
            status = self.index_status()
            self.rows.append((phase, round(t, 2), stored, status.documents, status.pending))
        except Exception as e:  # a missed sample is no reason to stop the run
            print("[perf] ingest sample failed: %s" % e, file=sys.stderr)

    def run(self):
        while not self._stopping.wait(self.interval):
            self.sample()

    def stop(self):
        self._stopping.set()
        self.join(timeout=10)


def proc_memory_mb(pid):
    """VmRSS and VmHWM (peak) of a process, in MB (10^6 bytes)."""
    figures = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                figures[key.lower() + "_mb"] = round(int(value.split()[0]) * 1024 / 1e6, 1)
    return figures


def du_bytes(path):
    out = subprocess.run(["du", "-sb", path], capture_output=True, text=True)
    if out.returncode != 0:
        raise StepError("du -sb %s failed: %s" % (path, out.stderr.strip()))
    return int(out.stdout.split()[0])


def machine():
    info = {"nproc": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "kernel": os.uname().release, "load_average": [round(x, 2) for x in os.getloadavg()]}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        m = re.search(r"^Model name:\s*(.+)$", lscpu, re.M)
        info["cpu_model"] = m.group(1).strip() if m else "unknown"
    except OSError:
        info["cpu_model"] = "unknown (no lscpu)"
    try:
        with open("/proc/meminfo") as f:
            info["mem_total_mb"] = round(int(f.readline().split()[1]) * 1024 / 1e6)
    except OSError:
        pass
    return info


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


LATENCY_CSV_HEADER = ("offered", "ok_rate", "p50", "p90", "p99", "p999", "p50_min",
                      "p50_max", "p99_min", "p99_max", "errors", "dropped", "runs", "saturated")


def latency_rows(points):
    def cell(value):
        return "NaN" if value is None else value  # gnuplot skips NaN

    return [tuple(cell(p[k]) for k in ("offered", "ok_rate", "p50", "p90", "p99", "p999",
                                       "p50_min", "p50_max", "p99_min", "p99_max"))
            + (p["errors"], p["dropped"], p["runs"], p["saturated"] or "") for p in points]


def fmt(value, spec="%.2f"):
    return "n/a" if value is None else spec % value


def spread(point, key):
    """ "p99 4.10 (3.90-4.40)" style text of a repeated point."""
    if point is None or point[key] is None:
        return "n/a"
    if point["runs"] == 1:
        return "%.2f" % point[key]
    return "%.2f (%.2f-%.2f)" % (point[key], point[key + "_min"], point[key + "_max"])
