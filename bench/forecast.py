"""Time the enrollment forecast (trialdesk.forecasting) on synthetic studies.

    .venv/bin/python bench/forecast.py [--sites 100 500 1000] [--simulations 4000] [--runs 5]

For each study size: 75% of the sites active (activated over the past 18 months, rates drawn from
a gamma distribution with mean 1/month and cv 0.7, one date per enrolled subject), 25% planned over
the next 6 months; the target is twice the number enrolled. Prints the median wall time of --runs
runs (milliseconds of wall time, and of this process's CPU time, which other load on the machine
does not inflate) of

  * forecast: fit (ML + parameter draws), Monte Carlo, completion-date quantiles and probability on time;
  * full output: the same plus per-site rates and contributions, the curve, the warnings and the
    JSON document the command prints.

No database, no Django.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from trialdesk.forecasting.bottlenecks import bottleneck_warnings  # noqa: E402
from trialdesk.forecasting.io import dumps, forecast_to_dict  # noqa: E402
from trialdesk.forecasting.model import MONTH_DAYS, Site, Study, forecast  # noqa: E402

AS_OF = dt.date(2025, 6, 30)


def synthetic_study(n_sites: int, seed: int = 0) -> Study:
    rng = np.random.default_rng(seed)
    sites = []
    for i in range(n_sites):
        planned = AS_OF - dt.timedelta(days=int(rng.integers(-180, 540)))
        if i % 4 == 3 or planned > AS_OF:
            sites.append(Site(str(i), planned_activation=max(planned, AS_OF - dt.timedelta(days=30))))
            continue
        activated = min(planned + dt.timedelta(days=int(rng.gamma(2.0, 15.0))), AS_OF)
        days = (AS_OF - activated).days + 1
        rate = rng.gamma(2.0, 0.5) / MONTH_DAYS
        offsets = np.sort(rng.integers(0, days, rng.poisson(rate * days)))
        sites.append(Site(str(i), activated=activated, planned_activation=planned,
                          enrolled=tuple(activated + dt.timedelta(days=int(d)) for d in offsets)))
    enrolled = sum(s.count for s in sites)
    return Study(AS_OF, 2 * enrolled, tuple(sites), planned_last_subject_in=AS_OF + dt.timedelta(days=365))


def _median_ms(fn, runs: int) -> tuple[float, float]:
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--simulations", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    forecast(synthetic_study(50), simulations=args.simulations)  # warm-up: imports, first allocations
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{args.simulations} simulations, median of {args.runs} runs; load average {load} on {os.cpu_count()} CPUs")
    print(f"{'sites':>6} {'active':>6} {'enrolled':>8} {'forecast ms (cpu)':>18} {'full output ms (cpu)':>21}  "
          "completion p05 / p50 / p95")
    for n in args.sites:
        study = synthetic_study(n, seed=n)

        def full(study=study):
            result = forecast(study, simulations=args.simulations)
            return dumps(forecast_to_dict(result, warnings=bottleneck_warnings(result)))

        core = _median_ms(lambda study=study: forecast(study, simulations=args.simulations), args.runs)
        total = _median_ms(full, args.runs)
        result = forecast(study, simulations=args.simulations)
        done = result.completion
        active = sum(s.is_active for s in study.sites)
        print(f"{n:>6} {active:>6} {result.enrolled:>8} {core[0]:>10.0f} ({core[1]:>4.0f}) {total[0]:>13.0f} "
              f"({total[1]:>4.0f})  {done['p05']} / {done['p50']} / {done['p95']}")
    print(f"method (last study): {result.method}")

if __name__ == "__main__":
    main()
