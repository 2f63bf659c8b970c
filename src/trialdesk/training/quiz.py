"""Quiz scoring (pure, no Django): each question is worth one point; it counts as right only when the chosen
options are exactly the correct ones (single or multiple choice). Pass when the score reaches the pass mark."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Question:
    id: int
    text: str
    options: tuple[str, ...]
    correct: frozenset[int]


@dataclass(frozen=True)
class QuestionResult:
    question_id: int
    chosen: tuple[int, ...]
    correct: bool


@dataclass(frozen=True)
class Score:
    right: int
    total: int
    percent: float
    passed: bool
    results: tuple[QuestionResult, ...]


def question_errors(text: str, options: list, correct: list) -> dict[str, list[str]]:
    """Field errors for a question as entered: at least two distinct options, at least one correct one."""
    errors: dict[str, list[str]] = {}
    if not (text or "").strip():
        errors["text"] = ["Enter the question."]
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        errors["options"] = ["Options must be a list of texts."]
        return errors
    cleaned = [o.strip() for o in options]
    if len([o for o in cleaned if o]) < 2 or any(not o for o in cleaned):
        errors["options"] = ["Give at least two answer options, none of them empty."]
    elif len({o.casefold() for o in cleaned}) != len(cleaned):
        errors["options"] = ["Answer options must differ from one another."]
    if not isinstance(correct, list) or not correct or not all(isinstance(i, int) and not isinstance(i, bool)
                                                               for i in correct):
        errors["correct"] = ["Mark at least one option as correct."]
    elif any(i < 0 or i >= len(options) for i in correct):
        errors["correct"] = [f"A correct answer must be one of the options (0 to {len(options) - 1})."]
    elif len(set(correct)) != len(correct):
        errors["correct"] = ["Each correct option once."]
    return errors


def answer_errors(questions: Iterable[Question], answers: Mapping[int, Iterable[int]]) -> dict[str, list[str]]:
    """Field errors for a submitted attempt: every question answered, only existing options chosen."""
    errors: dict[str, list[str]] = {}
    qs = list(questions)
    known = {q.id for q in qs}
    unknown = sorted(set(answers) - known)
    if unknown:
        errors["answers"] = [f"Answers to questions that are not in this quiz: {unknown}."]
    for q in qs:
        chosen = list(answers.get(q.id, []))
        key = f"q{q.id}"
        if not chosen:
            errors[key] = ["Answer this question."]
        elif any(not isinstance(i, int) or isinstance(i, bool) or i < 0 or i >= len(q.options) for i in chosen):
            errors[key] = ["Choose one of the options shown."]
    return errors


def score(questions: Iterable[Question], answers: Mapping[int, Iterable[int]], pass_mark: int) -> Score:
    """Score an attempt. A quiz with no questions cannot be passed (nothing was assessed)."""
    results = []
    for q in questions:
        chosen = tuple(sorted(set(answers.get(q.id, ()))))
        results.append(QuestionResult(question_id=q.id, chosen=chosen, correct=frozenset(chosen) == q.correct))
    total = len(results)
    right = sum(1 for r in results if r.correct)
    percent = round(100.0 * right / total, 1) if total else 0.0
    return Score(right=right, total=total, percent=percent, passed=total > 0 and percent >= pass_mark,
                 results=tuple(results))
