"""A minimal job scheduler for containers (deploy/compose.yaml's `jobs` service): runs Trialdesk commands daily.

TRIALDESK_JOBS lists "HH:MM command [args]" entries separated by ";", e.g.
    "01:30 flag_missed_visits; 07:00 send_reminders"
Times are in TRIALDESK_JOBS_TZ (default UTC). Each job runs as `trialdesk <command>` in its own process, one
at a time, outside any web request; its output goes to this process's output (the container log) and a
failure is logged with its exit status without stopping the scheduler. With systemd, use the timer units in
deploy/systemd instead.

    python deploy/scheduler.py           run forever
    python deploy/scheduler.py --list    print the parsed schedule and the next run of each job
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Job:
    at: dt.time
    args: tuple[str, ...]

    @property
    def name(self) -> str:
        return " ".join(self.args)


def parse_jobs(spec: str) -> list[Job]:
    jobs = []
    for entry in (e.strip() for e in spec.split(";")):
        if not entry:
            continue
        when, _, command = entry.partition(" ")
        try:
            at = dt.time.fromisoformat(when)
        except ValueError:
            raise ValueError(f"TRIALDESK_JOBS: {entry!r} does not start with a time HH:MM") from None
        args = tuple(shlex.split(command))
        if not args:
            raise ValueError(f"TRIALDESK_JOBS: {entry!r} names no command")
        jobs.append(Job(at=at, args=args))
    return jobs


def next_run(job: Job, now: dt.datetime) -> dt.datetime:
    """The next time (after `now`, same time zone) at which the job is due."""
    candidate = now.replace(hour=job.at.hour, minute=job.at.minute, second=0, microsecond=0)
    return candidate if candidate > now else candidate + dt.timedelta(days=1)


def log(message: str) -> None:
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ} scheduler: {message}", flush=True)


def run(job: Job) -> int:
    log(f"starting `trialdesk {job.name}`")
    started = time.monotonic()
    status = subprocess.call([sys.executable, "-m", "trialdesk", *job.args])  # noqa: S603 - our own command
    log(f"`trialdesk {job.name}` {'finished' if status == 0 else f'FAILED (exit status {status})'} "
        f"in {time.monotonic() - started:.1f} s")
    return status


def main(argv: list[str]) -> int:
    tz = ZoneInfo(os.environ.get("TRIALDESK_JOBS_TZ", "UTC"))
    jobs = parse_jobs(os.environ.get("TRIALDESK_JOBS", ""))
    if not jobs:
        log("TRIALDESK_JOBS is empty: nothing to schedule")
        return 2
    if "--list" in argv:
        now = dt.datetime.now(tz)
        for job in jobs:
            print(f"{job.at:%H:%M} {job.name}  (next: {next_run(job, now):%Y-%m-%d %H:%M %Z})")
        return 0
    due = {job: next_run(job, dt.datetime.now(tz)) for job in jobs}
    log("schedule: " + "; ".join(f"{job.at:%H:%M} {job.name}" for job in jobs) + f" ({tz.key})")
    while True:
        job = min(due, key=due.get)
        wait = (due[job] - dt.datetime.now(tz)).total_seconds()
        if wait > 0:
            time.sleep(min(wait, 300))  # wake up now and then: clock changes, container pauses
            continue
        run(job)
        due[job] = next_run(job, dt.datetime.now(tz))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
