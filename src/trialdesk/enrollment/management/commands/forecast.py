"""`trialdesk forecast INPUT.json`: enrollment forecast from a JSON file (format: docs/forecasting.md).

Reads no database: the study's data come from the file, the statistics from trialdesk.forecasting.
Bad input exits with code 1 and a message naming the file and the offending field.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from trialdesk.forecasting import io as fio
from trialdesk.forecasting.bottlenecks import bottleneck_warnings
from trialdesk.forecasting.model import forecast
from trialdesk.forecasting.whatif import what_if

MIN_SIMULATIONS, MAX_SIMULATIONS = 100, 100_000


def _read(path: str, what: str):
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise CommandError(f"{path}: cannot read {what}: {exc.strerror or exc}")
    try:
        return fio.load_json(raw)
    except fio.ForecastInputError as exc:
        raise CommandError(f"{path}: {exc}")


class Command(BaseCommand):
    help = ("Forecast enrollment (Poisson–gamma model) from a JSON file and print the forecast as JSON: "
            "completion date with 90% interval, probability on time, per-site rates, curve, warnings.")

    def add_arguments(self, parser):
        parser.add_argument("input", metavar="INPUT.json", help="The study's enrollment data (see docs/forecasting.md)")
        parser.add_argument("--seed", type=int, default=0, help="Random seed (default 0; same seed, same forecast)")
        parser.add_argument("--simulations", type=int, default=4000,
                            help=f"Monte Carlo simulations ({MIN_SIMULATIONS}-{MAX_SIMULATIONS}, default 4000)")
        parser.add_argument("--target", type=int, default=None, help="Target for the selected sites (default: the "
                                                                     "file's target)")
        parser.add_argument("--sites", default=None, help="Only these site ids, comma-separated")
        parser.add_argument("--country", default=None, help="Only sites in this country")
        parser.add_argument("--horizon", default=None, metavar="YYYY-MM-DD",
                            help="Count per-site expected additional subjects up to this date "
                                 "(default: the median completion date)")
        parser.add_argument("--scenario", default=None, metavar="SCENARIO.json",
                            help="A what-if scenario: print baseline, scenario and their difference")
        parser.add_argument("--idle-days", type=int, default=60, help="Warn about sites without enrollment for "
                                                                      "this many days (default 60)")
        parser.add_argument("--on-time-threshold", type=float, default=0.5,
                            help="Warn when the probability of finishing on time is below this (default 0.5)")
        parser.add_argument("--no-curve", action="store_true", help="Leave the enrollment curve out")

    def handle(self, *args, input, seed, simulations, target, sites, country, horizon, scenario, idle_days,
               on_time_threshold, no_curve, **options):
        if not MIN_SIMULATIONS <= simulations <= MAX_SIMULATIONS:
            raise CommandError(f"--simulations must be between {MIN_SIMULATIONS} and {MAX_SIMULATIONS}")
        if target is not None and target < 1:
            raise CommandError("--target must be at least 1")
        if idle_days < 1:
            raise CommandError("--idle-days must be at least 1")
        if not 0 <= on_time_threshold <= 1:
            raise CommandError("--on-time-threshold must be between 0 and 1")
        try:
            horizon_date = None if horizon is None else dt.date.fromisoformat(horizon)
        except ValueError:
            raise CommandError(f"--horizon: {horizon!r} is not a date (YYYY-MM-DD)")

        try:
            study = fio.parse_study(_read(input, "the input"))
        except fio.ForecastInputError as exc:
            raise CommandError(f"{input}: {exc}")
        if horizon_date is not None and horizon_date <= study.as_of:
            raise CommandError(f"--horizon {horizon_date} must be after as_of {study.as_of}")

        site_filter = None
        if sites is not None:
            ids = [s.strip() for s in sites.split(",") if s.strip()]
            unknown = sorted(set(ids) - {s.id for s in study.sites})
            if not ids or unknown:
                raise CommandError(f"--sites: no site with id {', '.join(unknown)} in {input}" if unknown
                                   else "--sites: give site ids, comma-separated")
            site_filter = ids
        if country is not None:
            wanted = country.strip().casefold()
            if not any((s.country or "").casefold() == wanted for s in study.sites):
                raise CommandError(f"--country: no site in {country!r} in {input}")
            chosen = set(site_filter) if site_filter is not None else None
            site_filter = [s.id for s in study.sites
                           if (s.country or "").casefold() == wanted and (chosen is None or s.id in chosen)]

        options = {"idle_days": idle_days, "on_time_threshold": on_time_threshold}
        if scenario is not None:
            try:
                spec = fio.parse_scenario(_read(scenario, "the scenario"), study)
            except fio.ForecastInputError as exc:
                raise CommandError(f"{scenario}: {exc}")
            result = what_if(study, spec, simulations=simulations, seed=seed, site_filter=site_filter,
                             horizon=horizon_date, target=target)
            output = fio.what_if_to_dict(result, baseline_warnings=bottleneck_warnings(result.baseline, **options),
                                         scenario_warnings=bottleneck_warnings(result.scenario, **options),
                                         curve=not no_curve)
        else:
            result = forecast(study, target=target, site_filter=site_filter, simulations=simulations, seed=seed,
                              horizon=horizon_date)
            output = fio.forecast_to_dict(result, warnings=bottleneck_warnings(result, **options),
                                          curve=not no_curve)
        self.stdout.write(fio.dumps(output))
