"""Start-up cycle times: per site, then summarized per country and for the study (pure Python, no Django).

A cycle time is the number of days between two recorded (actual) dates. Three are tracked:

* selection → activation: "selected" to "activated";
* IRB/IEC: "irb_submitted" to "irb_approval";
* contract: "budget_agreed" (when recorded, else "selected") to "contract_executed".

A summary gives n, the median, the quartiles (linear interpolation between order statistics, as
spreadsheets' QUARTILE.INC), and the minimum and maximum.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# (key, label, start keys in order of preference, end key)
CYCLES: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("selection_to_activation", "Selection to activation", ("selected",), "activated"),
    ("irb", "IRB/IEC submission to approval", ("irb_submitted",), "irb_approval"),
    ("contract", "Contract (budget agreed or selection to execution)", ("budget_agreed", "selected"),
     "contract_executed"),
)
CYCLE_LABELS = {key: label for key, label, _, _ in CYCLES}


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    q1: float
    q3: float
    minimum: float
    maximum: float

    def as_dict(self) -> dict:
        return {"n": self.n, "median": self.median, "q1": self.q1, "q3": self.q3, "min": self.minimum,
                "max": self.maximum}


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of sorted values, linear between order statistics."""
    if not sorted_values:
        raise ValueError("no values")
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    position = (len(sorted_values) - 1) * q
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    return float(sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction)


def summarize(values: Iterable[float | None]) -> Summary | None:
    data = sorted(float(v) for v in values if v is not None)
    if not data:
        return None
    return Summary(n=len(data), median=quantile(data, 0.5), q1=quantile(data, 0.25), q3=quantile(data, 0.75),
                   minimum=data[0], maximum=data[-1])


def days(start: dt.date | None, end: dt.date | None) -> int | None:
    if start is None or end is None or end < start:
        return None
    return (end - start).days


def site_cycle_times(actuals: Mapping[str, dt.date | None]) -> dict[str, int | None]:
    """{cycle key: days or None} from one site's actual dates by milestone key."""
    out: dict[str, int | None] = {}
    for key, _label, starts, end in CYCLES:
        start = next((actuals.get(s) for s in starts if actuals.get(s) is not None), None)
        out[key] = days(start, actuals.get(end))
    return out


@dataclass(frozen=True)
class GroupCycles:
    label: str                       # country name, or "Study"
    sites: int
    summaries: dict[str, Summary | None]


def group_cycle_times(rows: Iterable[tuple[str, Mapping[str, int | None]]]) -> tuple[list[GroupCycles],
                                                                                    GroupCycles]:
    """rows: (country, site cycle times). Returns (per country sorted by name, the whole study)."""
    rows = list(rows)
    countries: dict[str, list[Mapping[str, int | None]]] = {}
    for country, times in rows:
        countries.setdefault(country or "(no country)", []).append(times)

    def group(label: str, members: list[Mapping[str, int | None]]) -> GroupCycles:
        return GroupCycles(label=label, sites=len(members),
                           summaries={key: summarize(m.get(key) for m in members) for key, *_ in CYCLES})

    per_country = [group(name, members) for name, members in sorted(countries.items())]
    return per_country, group("Study", [times for _, times in rows])
