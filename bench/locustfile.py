"""The concurrent API workload for `bench/run.py` (locust, headless): mostly reads, some writes.

Each simulated client is an API client with the bench user's token, pausing 0.5-1.5 s between requests (a
person clicking, or an integration polling). Reads: the portfolio, studies, site lists, the screening log
(offset and keyset), enrollment summaries, audit history. Writes: a new subject in a screening log, and moving
one of the client's own subjects from pre-screened to screened (its own, so no optimistic-lock conflicts:
every non-2xx answer is an error here).

Settings come from the environment (bench/loadtest.py sets them): BENCH_TOKEN, BENCH_STUDIES (JSON list of
study ids), BENCH_SITES (JSON list of site ids for new subjects), BENCH_LARGEST (study id), BENCH_WAIT ("0.5,1.5").
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random

from locust import HttpUser, between, task

TOKEN = os.environ.get("BENCH_TOKEN", "")
STUDIES = json.loads(os.environ.get("BENCH_STUDIES", "[]"))
SITES = json.loads(os.environ.get("BENCH_SITES", "[]"))
LARGEST = int(os.environ.get("BENCH_LARGEST", "0") or 0)
WAIT = [float(x) for x in os.environ.get("BENCH_WAIT", "0.5,1.5").split(",")]
API = "/api/v1"


class ApiClient(HttpUser):
    wait_time = between(*WAIT)

    def on_start(self):
        self.client.headers.update({"Authorization": f"Bearer {TOKEN}"})
        self.mine: list[tuple[int, int]] = []   # (subject id, version) created by this client, still pre-screened
        self.next_cursor = None

    def _study(self) -> int:
        return random.choice(STUDIES)

    # --- reads
    @task(3)
    def portfolio(self):
        self.client.get(f"{API}/studies/portfolio", name="portfolio API")

    @task(2)
    def study(self):
        self.client.get(f"{API}/studies/{self._study()}", name="study")

    @task(3)
    def site_list(self):
        self.client.get(f"{API}/sites", params={"study_id": self._study(), "limit": 50,
                                                "offset": random.choice([0, 0, 50, 100])}, name="site list")

    @task(2)
    def subject_list(self):
        params = {"study_id": LARGEST, "limit": 50}
        if self.next_cursor:
            params["cursor"] = self.next_cursor
        with self.client.get(f"{API}/subjects", params=params, name="subject list (keyset)",
                             catch_response=True) as response:
            if response.status_code == 200:
                self.next_cursor = response.json().get("next_cursor")
                response.success()

    @task(2)
    def enrollment_summary(self):
        self.client.get(f"{API}/enrollment/studies/{self._study()}/summary", name="enrollment summary")

    @task(1)
    def audit(self):
        self.client.get(f"{API}/audit/studies/{self._study()}", name="study audit history")

    # --- writes
    @task(1)
    def subject_create(self):
        with self.client.post(f"{API}/subjects", json={"site_id": random.choice(SITES), "status": "pre_screened",
                                                      "reason": "load test"},
                              name="subject create", catch_response=True) as response:
            if response.status_code == 201:
                body = response.json()
                self.mine.append((body["id"], body["version"]))
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")

    @task(1)
    def subject_screen(self):
        if not self.mine:
            return
        subject_id, version = self.mine.pop()
        with self.client.post(f"{API}/subjects/{subject_id}/transition",
                              json={"status": "screened", "on": dt.date.today().isoformat(),
                                    "reason": "load test", "version": version},
                              name="subject transition", catch_response=True) as response:
            if response.status_code == 200:
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")
