"""Start-up milestone planning for one site (pure Python, no Django).

Milestones form a dependency graph (the study's template). For one site:

* planned date: the date stored for the site's milestone, else derived: the latest of its dependencies'
  dates (actual when done, else planned) plus the milestone's target duration; a milestone without
  dependencies counts from the site's anchor date (its selection). Not-applicable dependencies are skipped.
  No target duration, or a dependency without any date: no derived plan.
* projected date (open milestones): as the derived plan, but using the dependencies' projected dates, never
  earlier than the milestone's own plan and never earlier than today (an open milestone that is late will
  happen today at the earliest). A late open dependency so pushes everything after it.
* flags: overdue = open with a planned date before today; at risk = open, not overdue, and projected after
  planned, or planned within RISK_WINDOW_DAYS while a dependency is still open.
* order: an actual date may only be recorded when every dependency is done (or not applicable), and not
  before any dependency's actual date (21 CFR 11.10(f) operational sequencing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

RISK_WINDOW_DAYS = 14

STATES = {
    "done": "Done",
    "not_applicable": "Not applicable",
    "overdue": "Overdue",
    "at_risk": "At risk",
    "on_track": "On track",
    "unplanned": "Not planned",
}


class CycleError(ValueError):
    def __init__(self, cycle: Sequence[str]):
        super().__init__(" → ".join(cycle))
        self.cycle = list(cycle)


@dataclass(frozen=True)
class Milestone:
    key: str
    label: str = ""
    depends_on: tuple[str, ...] = ()
    target_days: int | None = None
    planned: dt.date | None = None     # stored for the site (overrides the derived plan)
    actual: dt.date | None = None
    not_applicable: bool = False
    mandatory: bool = True

    @property
    def done(self) -> bool:
        return self.actual is not None

    @property
    def closed(self) -> bool:
        """Done or not applicable: no longer holds anything up."""
        return self.actual is not None or self.not_applicable


@dataclass(frozen=True)
class MilestonePlan:
    key: str
    planned: dt.date | None
    planned_derived: bool
    projected: dt.date | None
    state: str
    open_dependencies: tuple[str, ...] = field(default_factory=tuple)

    @property
    def overdue(self) -> bool:
        return self.state == "overdue"

    @property
    def at_risk(self) -> bool:
        return self.state == "at_risk"

    @property
    def state_label(self) -> str:
        return STATES[self.state]

    def days_late(self, today: dt.date) -> int | None:
        if self.state == "overdue" and self.planned is not None:
            return (today - self.planned).days
        return None


def topological_order(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """Keys so that each comes after its dependencies (stable: input order among equals). Unknown dependency
    keys are ignored. Raises CycleError naming the keys of a cycle."""
    keys = list(graph)
    known = set(keys)
    deps = {k: [d for d in graph[k] if d in known] for k in keys}
    state: dict[str, int] = {}  # 1 visiting, 2 done
    out: list[str] = []

    def visit(key: str, path: list[str]) -> None:
        mark = state.get(key)
        if mark == 2:
            return
        if mark == 1:
            start = path.index(key)
            raise CycleError([*path[start:], key])
        state[key] = 1
        path.append(key)
        for dep in deps[key]:
            visit(dep, path)
        path.pop()
        state[key] = 2
        out.append(key)

    for key in keys:
        visit(key, [])
    return out


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    try:
        topological_order(graph)
    except CycleError as exc:
        return exc.cycle
    return None


def ancestors(graph: Mapping[str, Iterable[str]], key: str) -> set[str]:
    """Every milestone `key` depends on, directly or not."""
    seen: set[str] = set()
    stack = list(graph.get(key, ()))
    while stack:
        current = stack.pop()
        if current in seen or current not in graph:
            continue
        seen.add(current)
        stack.extend(graph.get(current, ()))
    return seen


def _add(day: dt.date | None, days: int | None) -> dt.date | None:
    if day is None or days is None:
        return None
    return day + dt.timedelta(days=days)


def _latest(dates: Iterable[dt.date | None]) -> tuple[bool, dt.date | None]:
    """(every date known, the latest of them)."""
    values = list(dates)
    if any(v is None for v in values):
        return False, None
    return True, max(values) if values else None


def plan_site(milestones: Sequence[Milestone], *, anchor: dt.date | None, today: dt.date,
              risk_window: int = RISK_WINDOW_DAYS) -> dict[str, MilestonePlan]:
    """Planned and projected dates and a state for each milestone of one site."""
    by_key = {m.key: m for m in milestones}
    order = topological_order({m.key: m.depends_on for m in milestones})
    planned: dict[str, dt.date | None] = {}
    derived: dict[str, bool] = {}
    projected: dict[str, dt.date | None] = {}
    out: dict[str, MilestonePlan] = {}
    for key in order:
        m = by_key[key]
        deps = [by_key[d] for d in m.depends_on if d in by_key and not by_key[d].not_applicable]
        # Planned: stored, else from the dependencies' actual/planned dates (or the anchor) + target.
        if m.planned is not None:
            planned[key], derived[key] = m.planned, False
        else:
            if deps:
                known, base = _latest(d.actual or planned[d.key] for d in deps)
                base = base if known else None
            else:
                base = anchor
            planned[key], derived[key] = _add(base, m.target_days), True
            if planned[key] is None:
                derived[key] = False
        open_deps = tuple(d.key for d in deps if not d.closed)
        if m.not_applicable:
            projected[key] = None
            out[key] = MilestonePlan(key, planned[key], derived[key], None, "not_applicable")
            continue
        if m.done:
            projected[key] = m.actual
            out[key] = MilestonePlan(key, planned[key], derived[key], m.actual, "done")
            continue
        # Projected: from the dependencies' projections, not before the plan, not before today.
        candidates: list[dt.date] = []
        if planned[key] is not None:
            candidates.append(planned[key])
        if deps:
            known, base = _latest(projected[d.key] for d in deps)
            base = base if known else None
        else:
            base = anchor
        if base is not None:
            candidates.append(_add(base, m.target_days) if m.target_days is not None else base)
        projection = max(candidates) if candidates else None
        if projection is not None and projection < today:
            projection = today
        projected[key] = projection
        plan = planned[key]
        if plan is None:
            state = "unplanned"
        elif plan < today:
            state = "overdue"
        elif (projection is not None and projection > plan) or \
                (open_deps and (plan - today).days <= risk_window):
            state = "at_risk"
        else:
            state = "on_track"
        out[key] = MilestonePlan(key, plan, derived[key], projection, state, open_deps)
    return out


def order_error(milestones: Mapping[str, Milestone], key: str, actual: dt.date | None,
                labels: Mapping[str, str] | None = None) -> str | None:
    """Why `key` may not get the actual date `actual` (its dependencies), or None."""
    if actual is None:
        return None
    m = milestones[key]
    name = (labels or {}).get
    open_deps = [d for d in m.depends_on if d in milestones and not milestones[d].closed]
    if open_deps:
        names = ", ".join(name(d, d) for d in open_deps)
        return (f"{name(key, key)} cannot be recorded before the milestones it depends on are done "
                f"(or marked not applicable): {names}.")
    for d in m.depends_on:
        dep = milestones.get(d)
        if dep is not None and dep.actual is not None and actual < dep.actual:
            return (f"{name(key, key)} cannot be dated before {name(d, d)} ({dep.actual.isoformat()}), "
                    "which it depends on.")
    return None


def dependents_error(milestones: Mapping[str, Milestone], key: str, *, new_actual: dt.date | None,
                     new_not_applicable: bool, labels: Mapping[str, str] | None = None) -> str | None:
    """Why `key` may not change to (new_actual, new_not_applicable) given milestones recorded after it."""
    name = (labels or {}).get
    after = [m for m in milestones.values() if key in m.depends_on and m.actual is not None]
    if not after:
        return None
    if new_actual is None and not new_not_applicable:
        names = ", ".join(name(m.key, m.key) for m in after)
        return (f"{name(key, key)} must stay done: milestones that depend on it are recorded ({names}). "
                "Clear those first.")
    if new_actual is not None:
        too_early = [m for m in after if m.actual < new_actual]
        if too_early:
            names = ", ".join(f"{name(m.key, m.key)} ({m.actual.isoformat()})" for m in too_early)
            return f"{name(key, key)} cannot be dated after the milestones that depend on it: {names}."
    return None


def projected_activation(plans: Mapping[str, MilestonePlan], activation_key: str = "activated") -> dt.date | None:
    plan = plans.get(activation_key)
    return plan.projected if plan is not None else None
