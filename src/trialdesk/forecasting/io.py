"""JSON input and output of the ``trialdesk forecast`` command (format: docs/forecasting.md).

Pure; no Django. The input is untrusted: :func:`parse_study` and :func:`parse_scenario` either
return valid model objects or raise :class:`ForecastInputError` naming the offending field by
its path (``sites[3].activated``), so the command can say exactly what to fix.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import math
import re
from typing import Any

from trialdesk.forecasting.model import (
    MONTH_DAYS,
    ActivationDelay,
    Forecast,
    Prior,
    Site,
    Study,
)
from trialdesk.forecasting.whatif import Scenario, WhatIf

__all__ = [
    "ForecastInputError",
    "dumps",
    "forecast_to_dict",
    "load_json",
    "parse_scenario",
    "parse_study",
    "what_if_to_dict",
]

_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MONTH_RE = re.compile(r"([0-9]{4})-([0-9]{2})")
_STUDY_KEYS = {"study", "as_of", "target", "planned_last_subject_in", "sites", "prior", "activation_delay"}
_SITE_KEYS = {"id", "country", "activated", "planned_activation", "closed", "enrolled", "enrolled_by_month",
              "planned_rate_per_month", "rate_override_per_month", "screened", "screen_failed"}
_SCENARIO_KEYS = {"label", "add_sites", "drop_sites", "rate_changes", "activation_changes", "target"}
MAX_TARGET = 10_000_000


class ForecastInputError(ValueError):
    """Bad forecast input; ``field`` is the path of the offending value ("" for the whole document)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def load_json(text: str | bytes) -> Any:
    """Parse JSON; invalid JSON becomes a ForecastInputError naming line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ForecastInputError("", f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")
    except UnicodeDecodeError as exc:
        raise ForecastInputError("", f"not UTF-8 text ({exc.reason} at byte {exc.start})")


# --------------------------------------------------------------------------- field readers


def _object(value: Any, path: str, allowed: set[str]) -> dict:
    if not isinstance(value, dict):
        raise ForecastInputError(path or "", f"expected an object, got {_show(value)}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        where = f"{path}." if path else ""
        expected = ", ".join(sorted(allowed))
        raise ForecastInputError(f"{where}{unknown[0]}", f"unknown field (expected one of: {expected})")
    return value


def _date(value: Any, path: str) -> dt.date:
    if isinstance(value, str) and _DATE_RE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ForecastInputError(path, f"{_show(value)} is not a date (YYYY-MM-DD)")


def _optional_date(data: dict, key: str, path: str) -> dt.date | None:
    value = data.get(key)
    return None if value is None else _date(value, path)


def _number(value: Any, path: str, *, minimum: float = 0.0, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ForecastInputError(path, f"{_show(value)} is not a number")
    if value < minimum or (strict and value == minimum):
        raise ForecastInputError(path, f"{_show(value)} must be {'>' if strict else '>='} {minimum:g}")
    return float(value)


def _integer(value: Any, path: str, *, minimum: int = 0, maximum: int = MAX_TARGET) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ForecastInputError(path, f"{_show(value)} is not a whole number")
    if not minimum <= value <= maximum:
        raise ForecastInputError(path, f"{value} must be between {minimum} and {maximum}")
    return value


def _site_id(value: Any, path: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
        raise ForecastInputError(path, f"{_show(value)} is not a site id (a non-empty string or a number)")
    return str(value).strip()


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


# --------------------------------------------------------------------------- study


def parse_site(data: Any, path: str, as_of: dt.date, *, planned_only: bool = False) -> Site:
    data = _object(data, path, _SITE_KEYS)
    if "id" not in data:
        raise ForecastInputError(f"{path}.id", "required")
    site_id = _site_id(data["id"], f"{path}.id")
    activated = _optional_date(data, "activated", f"{path}.activated")
    planned = _optional_date(data, "planned_activation", f"{path}.planned_activation")
    closed = _optional_date(data, "closed", f"{path}.closed")
    if planned_only and activated is not None:
        raise ForecastInputError(f"{path}.activated", "an added site is not active yet: give planned_activation")
    if activated is None and planned is None:
        raise ForecastInputError(path, 'needs "activated" (an active site) or "planned_activation" '
                                       "(a site not yet active)")
    if activated is not None and activated > as_of:
        raise ForecastInputError(f"{path}.activated", f"{activated} is after as_of {as_of}; a site not yet "
                                                      "active has planned_activation instead")
    if closed is not None and activated is not None and closed < activated:
        raise ForecastInputError(f"{path}.closed", f"{closed} is before activated {activated}")
    last_day = min(as_of, closed) if closed else as_of

    enrolled: list[dt.date] = []
    exact = True
    if "enrolled" in data and "enrolled_by_month" in data:
        raise ForecastInputError(f"{path}.enrolled_by_month", 'give "enrolled" or "enrolled_by_month", not both')
    if data.get("enrolled") is not None:
        if not isinstance(data["enrolled"], list):
            raise ForecastInputError(f"{path}.enrolled", "expected a list of dates, one per enrolled subject")
        for j, raw in enumerate(data["enrolled"]):
            day = _date(raw, f"{path}.enrolled[{j}]")
            if activated is None:
                raise ForecastInputError(f"{path}.enrolled", 'subjects enrolled at a site without "activated"')
            if not activated <= day <= last_day:
                raise ForecastInputError(f"{path}.enrolled[{j}]", f"{day} is outside the site's recruiting period "
                                                                  f"{activated} to {last_day}")
            enrolled.append(day)
    if data.get("enrolled_by_month") is not None:
        by_month = data["enrolled_by_month"]
        if not isinstance(by_month, dict):
            raise ForecastInputError(f"{path}.enrolled_by_month", 'expected an object {"YYYY-MM": count}')
        exact = False
        for key, raw in by_month.items():
            mpath = f"{path}.enrolled_by_month.{key}"
            match = _MONTH_RE.fullmatch(key)
            if not match or not 1 <= int(match.group(2)) <= 12:
                raise ForecastInputError(mpath, f"{_show(key)} is not a month (YYYY-MM)")
            count = _integer(raw, mpath)
            if count == 0:
                continue
            if activated is None:
                raise ForecastInputError(f"{path}.enrolled_by_month", 'subjects enrolled at a site without "activated"')
            year, month = int(match.group(1)), int(match.group(2))
            if (year, month) < (activated.year, activated.month) or (year, month) > (last_day.year, last_day.month):
                raise ForecastInputError(mpath, f"month {key} is outside the site's recruiting period "
                                                f"{activated} to {last_day}")
            # A month's subjects stand at its last recruiting day (for ordering and "date reached").
            enrolled.extend([min(_month_end(year, month), last_day)] * count)

    planned_rate = (None if data.get("planned_rate_per_month") is None
                    else _number(data["planned_rate_per_month"], f"{path}.planned_rate_per_month"))
    override = (None if data.get("rate_override_per_month") is None
                else _number(data["rate_override_per_month"], f"{path}.rate_override_per_month"))
    screened = None if data.get("screened") is None else _integer(data["screened"], f"{path}.screened")
    failed = None
    if data.get("screen_failed") is not None:
        if screened is None:
            raise ForecastInputError(f"{path}.screen_failed", 'needs "screened" as well')
        failed = _integer(data["screen_failed"], f"{path}.screen_failed", maximum=screened)
    country = data.get("country")
    if country is not None and not isinstance(country, str):
        raise ForecastInputError(f"{path}.country", f"{_show(country)} is not a string")
    return Site(id=site_id, activated=activated, planned_activation=planned, enrolled=tuple(sorted(enrolled)),
                enrolled_exact=exact, planned_rate_per_month=planned_rate, closed=closed, screened=screened,
                screen_failed=failed, country=country or None, rate_override_per_month=override)


def parse_study(data: Any) -> Study:
    """The forecast input document as a :class:`Study` (see docs/forecasting.md for the format)."""
    data = _object(data, "", _STUDY_KEYS)
    for key in ("as_of", "target", "sites"):
        if key not in data:
            raise ForecastInputError(key, "required")
    as_of = _date(data["as_of"], "as_of")
    target = _integer(data["target"], "target", minimum=1)
    lsi = _optional_date(data, "planned_last_subject_in", "planned_last_subject_in")
    name = data.get("study")
    if name is not None and not isinstance(name, str):
        raise ForecastInputError("study", f"{_show(name)} is not a string")

    prior = None
    if data.get("prior") is not None:
        raw = _object(data["prior"], "prior", {"rate_per_month", "cv", "mean_cv"})
        if "rate_per_month" not in raw:
            raise ForecastInputError("prior.rate_per_month", "required")
        prior = Prior(rate_per_month=_number(raw["rate_per_month"], "prior.rate_per_month", strict=True),
                      cv=_number(raw.get("cv", 0.5), "prior.cv", strict=True),
                      mean_cv=None if raw.get("mean_cv") is None else _number(raw["mean_cv"], "prior.mean_cv"))
    delay = None
    if data.get("activation_delay") is not None:
        raw = _object(data["activation_delay"], "activation_delay", {"mean_days", "sd_days"})
        for key in ("mean_days", "sd_days"):
            if key not in raw:
                raise ForecastInputError(f"activation_delay.{key}", "required")
        mean = _number(raw["mean_days"], "activation_delay.mean_days")
        sd = _number(raw["sd_days"], "activation_delay.sd_days")
        if sd > 0 and mean == 0:
            raise ForecastInputError("activation_delay.mean_days", "must be > 0 when sd_days > 0")
        delay = ActivationDelay(mean, sd)

    if not isinstance(data["sites"], list):
        raise ForecastInputError("sites", "expected a list of sites")
    sites: list[Site] = []
    first: dict[str, int] = {}
    for i, raw in enumerate(data["sites"]):
        site = parse_site(raw, f"sites[{i}]", as_of)
        if site.id in first:
            raise ForecastInputError(f"sites[{i}].id", f"{_show(site.id)} is also the id of sites[{first[site.id]}]")
        first[site.id] = i
        sites.append(site)
    return Study(as_of=as_of, target=target, sites=tuple(sites), planned_last_subject_in=lsi, prior=prior,
                 activation_delay=delay, name=name)


def parse_scenario(data: Any, study: Study, path: str = "scenario") -> Scenario:
    """A what-if document (see docs/forecasting.md) checked against ``study``."""
    data = _object(data, path, _SCENARIO_KEYS)
    known = {s.id: s for s in study.sites}

    def existing(value: Any, at: str) -> str:
        site_id = _site_id(value, at)
        if site_id not in known:
            raise ForecastInputError(at, f"no site with id {_show(site_id)}")
        return site_id

    added: list[Site] = []
    raw_add = data.get("add_sites") or []
    if not isinstance(raw_add, list):
        raise ForecastInputError(f"{path}.add_sites", "expected a list of sites")
    for i, raw in enumerate(raw_add):
        site = parse_site(raw, f"{path}.add_sites[{i}]", study.as_of, planned_only=True)
        if site.id in known or site.id in {s.id for s in added}:
            raise ForecastInputError(f"{path}.add_sites[{i}].id", f"{_show(site.id)} is already a site id")
        added.append(site)
    raw_drop = data.get("drop_sites") or []
    if not isinstance(raw_drop, list):
        raise ForecastInputError(f"{path}.drop_sites", "expected a list of site ids")
    dropped = tuple(existing(v, f"{path}.drop_sites[{i}]") for i, v in enumerate(raw_drop))
    rates: dict[str, float] = {}
    raw_rates = data.get("rate_changes") or {}
    if not isinstance(raw_rates, dict):
        raise ForecastInputError(f"{path}.rate_changes", "expected an object {site id: rate per month}")
    for key, value in raw_rates.items():
        rates[existing(key, f"{path}.rate_changes.{key}")] = _number(value, f"{path}.rate_changes.{key}")
    moves: dict[str, dt.date] = {}
    raw_moves = data.get("activation_changes") or {}
    if not isinstance(raw_moves, dict):
        raise ForecastInputError(f"{path}.activation_changes", "expected an object {site id: date}")
    for key, value in raw_moves.items():
        at = f"{path}.activation_changes.{key}"
        site_id = existing(key, at)
        if known[site_id].is_active:
            raise ForecastInputError(at, f"site {site_id} is already active")
        moves[site_id] = _date(value, at)
    target = None if data.get("target") is None else _integer(data["target"], f"{path}.target", minimum=1)
    label = data.get("label")
    if label is not None and not isinstance(label, str):
        raise ForecastInputError(f"{path}.label", f"{_show(label)} is not a string")
    return Scenario(add_sites=tuple(added), drop_sites=dropped, rate_changes=rates, activation_changes=moves,
                    target=target, label=label)


# --------------------------------------------------------------------------- output


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _num(value: float | None, digits: int) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _history(forecast: Forecast) -> list[dict]:
    """Actual cumulative enrolment at each month end (the last point is as_of)."""
    starts = [s.activated for s in forecast.selected if s.activated is not None]
    if not starts:
        return []
    dates = sorted(d for s in forecast.selected for d in s.enrolled)
    out, year, month, i = [], min(starts).year, min(starts).month, 0
    while True:
        point = min(_month_end(year, month), forecast.as_of)
        while i < len(dates) and dates[i] <= point:
            i += 1
        out.append({"date": point.isoformat(), "enrolled": i})
        if point >= forecast.as_of:
            return out
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def forecast_to_dict(forecast: Forecast, *, warnings: list[dict] | None = None, curve: bool = True) -> dict:
    """The forecast in the command's JSON output format."""
    fit = forecast.fit
    completion = forecast.completion or {"p05": None, "p50": None, "p95": None}
    out: dict[str, Any] = {
        "study": forecast.study.name,
        "as_of": forecast.as_of.isoformat(),
        "target": forecast.target,
        "enrolled": forecast.enrolled,
        "remaining": forecast.remaining,
        "completion_date": {k: _iso(v) for k, v in completion.items()},
        "planned_last_subject_in": _iso(forecast.study.planned_last_subject_in),
        "probability_on_time": _num(forecast.probability_on_time, 3),
        "reason": forecast.reason,
        "method": forecast.method,
        "parameters": {
            "regime": fit.regime,
            "alpha": _num(fit.alpha, 4),
            "beta_days": _num(fit.beta, 4),
            "mean_rate_per_month": _num(fit.alpha / fit.beta * MONTH_DAYS, 4) if fit.regime != "none" else None,
            "cv": _num(fit.cv, 4) if fit.regime != "none" else None,
            "active_sites": fit.n_sites,
            "site_months": _num(fit.site_days / MONTH_DAYS, 2),
            "subjects": fit.subjects,
            "effective_draws": _num(fit.effective_draws, 0),
        },
        "activation_delay": forecast.delays.method,
        "simulations": forecast.simulations,
        "seed": forecast.seed,
        "expected_additional_by": forecast.horizon.isoformat(),
        "sites": [],
    }
    for site, sf in zip(forecast.selected, forecast.sites, strict=True):
        row: dict[str, Any] = {
            "id": sf.id, "status": sf.status, "enrolled": sf.enrolled,
            "rate_per_month": {k: _num(v, 3) for k, v in sf.rate_per_month.items()},
            "rate_mean_per_month": _num(sf.rate_mean_per_month, 3),
            "expected_additional": _num(sf.expected_additional, 2),
        }
        if site.country:
            row["country"] = site.country
        if sf.activation:
            row["activation"] = {k: _iso(v) for k, v in sf.activation.items()}
        out["sites"].append(row)
    out["history"] = _history(forecast)
    if curve:
        out["curve"] = [{"date": p["date"].isoformat(), "mean": _num(p["mean"], 1), "p05": _num(p["p05"], 0),
                         "p50": _num(p["p50"], 0), "p95": _num(p["p95"], 0)} for p in forecast.curve()]
    if warnings is not None:
        out["warnings"] = warnings
    return out


def what_if_to_dict(result: WhatIf, *, baseline_warnings: list[dict] | None = None,
                    scenario_warnings: list[dict] | None = None, curve: bool = True) -> dict:
    return {
        "label": result.scenario_spec.label,
        "baseline": forecast_to_dict(result.baseline, warnings=baseline_warnings, curve=curve),
        "scenario": forecast_to_dict(result.scenario, warnings=scenario_warnings, curve=curve),
        "difference": result.difference(),
    }


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def dumps(obj: Any) -> str:
    """JSON text (dates as ISO strings, non-finite numbers as null)."""
    return json.dumps(_clean(obj), indent=2, ensure_ascii=False)
