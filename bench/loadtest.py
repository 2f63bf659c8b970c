"""The concurrent load test: gunicorn (several sync workers) serving the bench database, locust (headless)
running bench/locustfile.py against it, and the workers' resident memory sampled throughout.

Reports throughput, p50/p95/p99 and errors (overall and per request kind), every failure message, whether the
server logged "database is locked", and each worker's peak RSS.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class RssSampler(threading.Thread):
    """Peak RSS of every worker of a gunicorn master, sampled every `every` seconds."""

    def __init__(self, master: int, every: float = 0.25):
        super().__init__(daemon=True)
        self.master, self.every = master, every
        self.peak: dict[int, float] = {}
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            for pid in _children(self.master):
                rss = _rss_mb(pid)
                if rss is not None:
                    self.peak[pid] = max(self.peak.get(pid, 0.0), rss)
            self.stop.wait(self.every)


def _workload(targets) -> dict:
    """Study ids (the largest and a sample of others) and sites that take new subjects."""
    from trialdesk.sites.models import StudySite
    from trialdesk.studies.models import Study

    studies = [targets.largest_study] + list(
        Study.objects.exclude(pk=targets.largest_study).order_by("?").values_list("pk", flat=True)[:49])
    sites = list(StudySite.objects.filter(study_id__in=studies, status__in=["activated", "enrolling"])
                 .order_by("?").values_list("pk", flat=True)[:40])
    if not sites:
        sites = list(StudySite.objects.filter(study_id__in=studies).values_list("pk", flat=True)[:40])
    return {"studies": studies, "sites": sites}


def _wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own local server
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer {url} within {seconds} s")


def _warm_up(port: int, token: str, studies: list[int]) -> int:
    """One enrollment summary per study before the clock starts: the steady state has every study's forecast
    in the shared cache (a forecast is computed again only when its data change)."""
    done = 0
    for study in studies:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/enrollment/studies/{study}/summary",
                                         headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - our own local server
                done += response.status == 200
        except OSError:
            pass
    return done


def run(*, url: str, home: Path, user, seconds: int, users: int, workers: int, targets,
        wait: str = "0.5,1.5", warm: bool = True) -> dict:
    from django.db import connections

    from trialdesk.accounts.services import api_token_create

    _token, secret = api_token_create(actor=None, user=user, name="bench load test", expires_days=1)
    work = _workload(targets)
    connections.close_all()

    port = _free_port()
    env = {**os.environ, "TRIALDESK_DATABASE_URL": url, "TRIALDESK_HOME": str(home),
           "TRIALDESK_ALLOWED_HOSTS": "127.0.0.1,localhost", "PYTHONPATH": str(REPO / "src")}
    out = Path(tempfile.mkdtemp(prefix="trialdesk-load-"))
    server_log = out / "gunicorn.log"
    print(f"\nLoad test: gunicorn with {workers} sync workers on 127.0.0.1:{port}, locust {users} users for "
          f"{seconds} s (think time {wait} s) ...", flush=True)
    with server_log.open("w") as log:
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "trialdesk.wsgi:application", "--workers", str(workers), "--bind",
             f"127.0.0.1:{port}", "--timeout", "120", "--log-level", "warning"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    sampler, warmed = None, 0
    try:
        _wait_for(f"http://127.0.0.1:{port}/healthz")
        sampler = RssSampler(server.pid)
        sampler.start()
        idle = {pid: _rss_mb(pid) for pid in _children(server.pid)}
        warmed = _warm_up(port, secret, work["studies"]) if warm else 0
        locust_env = {**env, "BENCH_TOKEN": secret, "BENCH_STUDIES": json.dumps(work["studies"]),
                      "BENCH_SITES": json.dumps(work["sites"]), "BENCH_LARGEST": str(targets.largest_study),
                      "BENCH_WAIT": wait}
        started = time.time()
        subprocess.run(
            [str(BIN / "locust"), "-f", str(REPO / "bench" / "locustfile.py"), "--headless", "-u", str(users),
             "-r", str(users), "-t", f"{seconds}s", "--host", f"http://127.0.0.1:{port}", "--csv",
             str(out / "locust"), "--only-summary", "--loglevel", "WARNING"],
            env=locust_env, check=False, cwd=REPO, stdout=subprocess.DEVNULL, stderr=(out / "locust.log").open("w"))
        elapsed = time.time() - started
    finally:
        if sampler is not None:
            sampler.stop.set()
            sampler.join()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    return _summary(out, server_log, sampler, idle, elapsed, users=users, workers=workers, seconds=seconds,
                    wait=wait, url=url, warmed_forecasts=warmed)


def _num(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _summary(out: Path, server_log: Path, sampler, idle: dict, elapsed: float, **setup) -> dict:
    rows = list(csv.DictReader((out / "locust_stats.csv").open()))
    per_kind = []
    total = None
    for row in rows:
        entry = {"name": row["Name"], "method": row["Type"], "requests": int(row["Request Count"]),
                 "failures": int(row["Failure Count"]), "rps": _num(row["Requests/s"]),
                 "p50_ms": _num(row["50%"]), "p95_ms": _num(row["95%"]), "p99_ms": _num(row["99%"]),
                 "max_ms": _num(row["Max Response Time"])}
        if row["Name"] == "Aggregated":
            total = entry
        else:
            per_kind.append(entry)
    failures = []
    failures_file = out / "locust_failures.csv"
    if failures_file.exists():
        failures = [{"name": r["Name"], "error": r["Error"][:300], "occurrences": int(r["Occurrences"])}
                    for r in csv.DictReader(failures_file.open())]
    log_text = server_log.read_text(errors="replace")
    peak = sorted(sampler.peak.values(), reverse=True) if sampler else []
    return {
        **setup, "elapsed_s": round(elapsed, 1), "total": total, "requests": per_kind, "failures": failures,
        "database_is_locked_in_server_log": "database is locked" in log_text,
        "server_errors_in_log": log_text.count("Traceback"),
        "worker_rss_mb": {"idle": [round(v, 1) for v in idle.values() if v], "peak": [round(v, 1) for v in peak],
                          "max": round(max(peak), 1) if peak else None},
        "artifacts": str(out),
    }


def print_summary(load: dict) -> None:
    total = load["total"] or {}
    print(f"\n{load['users']} users, {load['workers']} workers, {load['seconds']} s; forecasts of "
          f"{load['warmed_forecasts']} studies computed before the clock started")
    print(f"{'request':32} {'count':>7} {'fail':>5} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    for r in load["requests"] + ([total] if total else []):
        print(f"{r['name'][:32]:32} {r['requests']:7d} {r['failures']:5d} {r['rps'] or 0:7.1f} "
              f"{r['p50_ms'] or 0:7.0f} {r['p95_ms'] or 0:7.0f} {r['p99_ms'] or 0:7.0f}")
    for failure in load["failures"]:
        print(f"  failure x{failure['occurrences']}: {failure['name']}: {failure['error']}")
    rss = load["worker_rss_mb"]
    print(f"throughput {total.get('rps') or 0:.1f} req/s, p95 {total.get('p95_ms')} ms, "
          f"errors {total.get('failures')}; "
          f"'database is locked' in server log: {load['database_is_locked_in_server_log']}; "
          f"worker RSS idle {rss['idle']} MB, peak {rss['peak']} MB")
