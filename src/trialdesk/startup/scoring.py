"""Feasibility scoring and past performance (pure Python, no Django).

Each scored question gives its answer a score between 0 and 1:

* yes/no: 1 when the answer is the preferred one, else 0 (no preferred answer: not scored);
* number: linear from `score_min` (0) to `score_max` (1), clamped; `score_min > score_max` means lower is
  better; equal bounds score 1 for an answer at least that bound, else 0 (a bound missing: not scored);
* choice: the chosen option's own score;
* text: never scored.

The questionnaire's score is the weighted mean over scored questions (weight > 0), times 100. While the
questionnaire is being answered only answered questions count; once submitted, an unanswered scored question
counts 0.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any

KINDS = ("yes_no", "number", "choice", "text")


@dataclass(frozen=True)
class QuestionRule:
    """What scoring needs of a question."""

    id: int
    kind: str
    weight: float = 1.0
    preferred_answer: str = ""
    score_min: float | None = None
    score_max: float | None = None
    choices: Sequence[dict] = ()
    required: bool = False

    @property
    def scored(self) -> bool:
        if self.weight <= 0:
            return False
        if self.kind == "yes_no":
            return self.preferred_answer in ("yes", "no")
        if self.kind == "number":
            return self.score_min is not None and self.score_max is not None
        if self.kind == "choice":
            return bool(self.choices)
        return False


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def normalize_answer(rule: QuestionRule, value: Any) -> tuple[Any, str | None]:
    """(the value to store, an error message or None). Blank values normalize to None (unanswered)."""
    if is_blank(value):
        return None, None
    if rule.kind == "yes_no":
        if isinstance(value, bool):
            return ("yes" if value else "no"), None
        text = str(value).strip().lower()
        if text in ("yes", "no"):
            return text, None
        return None, "Answer yes or no."
    if rule.kind == "number":
        if isinstance(value, bool):
            return None, "Enter a number."
        try:
            number = float(str(value).strip().replace(",", ".")) if isinstance(value, str) else float(value)
        except (TypeError, ValueError):
            return None, "Enter a number."
        if not math.isfinite(number) or abs(number) > 1e12:
            return None, "Enter a finite number."
        return (int(number) if number.is_integer() else number), None
    if rule.kind == "choice":
        labels = [c["label"] for c in rule.choices]
        text = str(value).strip()
        if text in labels:
            return text, None
        return None, "Choose one of the options: " + "; ".join(labels) + "."
    text = value if isinstance(value, str) else str(value)
    text = text.strip()
    if len(text) > 5000:
        return None, "Keep the answer under 5000 characters."
    return text, None


def answer_score(rule: QuestionRule, value: Any) -> float | None:
    """The answer's score between 0 and 1; None when the question is not scored or not answered."""
    if not rule.scored or is_blank(value):
        return None
    if rule.kind == "yes_no":
        return 1.0 if str(value).lower() == rule.preferred_answer else 0.0
    if rule.kind == "number":
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        lo, hi = float(rule.score_min), float(rule.score_max)
        if lo == hi:
            return 1.0 if number >= hi else 0.0
        return min(1.0, max(0.0, (number - lo) / (hi - lo)))
    if rule.kind == "choice":
        for choice in rule.choices:
            if choice.get("label") == value:
                return min(1.0, max(0.0, float(choice.get("score", 0) or 0)))
        return 0.0
    return None


def weighted_score(rules: Iterable[QuestionRule], answers: dict[int, Any], *, submitted: bool) -> float | None:
    """The questionnaire's score 0..100 (one decimal); None when nothing scored counts yet."""
    total_weight = 0.0
    total = 0.0
    for rule in rules:
        if not rule.scored:
            continue
        score = answer_score(rule, answers.get(rule.id))
        if score is None:
            if not submitted:
                continue
            score = 0.0
        total_weight += rule.weight
        total += rule.weight * score
    if total_weight <= 0:
        return None
    return round(100 * total / total_weight, 1)


def missing_required(rules: Iterable[QuestionRule], answers: dict[int, Any]) -> list[int]:
    """Ids of required questions without an answer."""
    return [rule.id for rule in rules if rule.required and is_blank(answers.get(rule.id))]


def parse_choices(text: str) -> tuple[list[dict], str | None]:
    """Options typed one per line as "Label | score" (score 0..1, default 0) -> ([{"label", "score"}], error)."""
    choices: list[dict] = []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        label, _, score_text = line.rpartition("|") if "|" in line else (line, "", "")
        label = label.strip()
        score = 0.0
        if score_text.strip():
            try:
                score = float(score_text.strip().replace(",", "."))
            except ValueError:
                return [], f"Line {number}: the score after '|' must be a number between 0 and 1."
        if not label:
            return [], f"Line {number}: the option needs a label."
        choices.append({"label": label, "score": score})
    error = choices_error(choices)
    return (choices, None) if error is None else ([], error)


def choices_error(choices: Any) -> str | None:
    """Why a list of choices is not acceptable, or None."""
    if not isinstance(choices, list):
        return "Choices are a list of options."
    seen: set[str] = set()
    for choice in choices:
        if not isinstance(choice, dict) or not isinstance(choice.get("label"), str) or not choice["label"].strip():
            return "Every option needs a label."
        if len(choice["label"]) > 200:
            return "Keep option labels under 200 characters."
        score = choice.get("score", 0)
        if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
            return f"The score of option '{choice['label']}' must be between 0 and 1."
        if choice["label"] in seen:
            return f"The option '{choice['label']}' appears twice."
        seen.add(choice["label"])
        if set(choice) - {"label", "score"}:
            return "Options have a label and a score only."
    return None


def format_choices(choices: Sequence[dict]) -> str:
    def number(value) -> str:
        return f"{float(value):g}"

    return "\n".join(f"{c['label']} | {number(c.get('score', 0))}" for c in choices)


# --- Past performance of an institution in other studies -------------------------------------------------

@dataclass(frozen=True)
class PastSite:
    """One earlier participation of the institution (another study)."""

    enrolled: int
    selected: dt.date | None
    activated: dt.date | None
    closed: dt.date | None


@dataclass(frozen=True)
class PastPerformance:
    studies: int                     # participations in other studies (selected or beyond)
    enrollment_rate: float | None    # subjects per site-month active, pooled over the activated sites
    activation_days: float | None    # median days from selection to activation
    activated_sites: int             # how many participations the rates rest on
    deviation_rate: float | None = None  # no deviation records yet: always None ("—")


DAYS_PER_MONTH = 365.25 / 12


def past_performance(rows: Iterable[PastSite], today: dt.date) -> PastPerformance:
    rows = list(rows)
    enrolled = 0
    months = 0.0
    activation: list[int] = []
    activated = 0
    for row in rows:
        if row.activated is not None and row.activated <= today:
            end = min(row.closed or today, today)
            if end > row.activated:
                activated += 1
                enrolled += row.enrolled
                months += (end - row.activated).days / DAYS_PER_MONTH
        if row.selected is not None and row.activated is not None and row.activated >= row.selected:
            activation.append((row.activated - row.selected).days)
    rate = round(enrolled / months, 2) if months >= 0.5 else None
    return PastPerformance(studies=len(rows), enrollment_rate=rate,
                           activation_days=float(median(activation)) if activation else None,
                           activated_sites=activated)


def rank(items: Sequence[Any], score_of) -> list[tuple[int | None, Any]]:
    """(rank, item) by score, highest first; items without a score come last, unranked. Ties share a rank."""
    scored = sorted((i for i in items if score_of(i) is not None), key=lambda i: -score_of(i))
    out: list[tuple[int | None, Any]] = []
    previous = None
    position = 0
    for index, item in enumerate(scored, start=1):
        if score_of(item) != previous:
            position = index
            previous = score_of(item)
        out.append((position, item))
    out.extend((None, i) for i in items if score_of(i) is None)
    return out
