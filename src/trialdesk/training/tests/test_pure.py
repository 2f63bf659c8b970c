"""The plain modules, without a database: quiz scoring, certificate numbers, matrix states, outline rules."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from trialdesk.training import certnum, quiz, rules
from trialdesk.training import matrix as M

D = dt.date
TODAY = D(2026, 6, 15)


# --- quiz -------------------------------------------------------------------------------------------------------

QUESTIONS = [
    quiz.Question(1, "Single", ("a", "b", "c"), frozenset({1})),
    quiz.Question(2, "Multiple", ("a", "b", "c"), frozenset({0, 2})),
    quiz.Question(3, "Single", ("yes", "no"), frozenset({0})),
    quiz.Question(4, "Single", ("yes", "no"), frozenset({1})),
]


def test_score_counts_exact_answers_only():
    s = quiz.score(QUESTIONS, {1: [1], 2: [0], 3: [0], 4: [1]}, pass_mark=75)
    assert (s.right, s.total, s.percent, s.passed) == (3, 4, 75.0, True)
    assert [r.correct for r in s.results] == [True, False, True, True]     # a partial multiple choice is wrong
    s = quiz.score(QUESTIONS, {1: [1], 2: [2, 0, 0], 3: [1], 4: [0]}, pass_mark=75)
    assert (s.right, s.percent, s.passed) == (2, 50.0, False)


def test_pass_mark_boundaries():
    answers = {1: [1], 2: [0, 2], 3: [0], 4: [0]}   # 3 of 4
    assert quiz.score(QUESTIONS, answers, pass_mark=75).passed
    assert not quiz.score(QUESTIONS, answers, pass_mark=76).passed
    assert quiz.score(QUESTIONS, {}, pass_mark=0).passed                   # 0% reaches a 0 pass mark
    assert not quiz.score([], {}, pass_mark=0).passed                      # nothing assessed: no pass


def test_question_errors():
    assert quiz.question_errors("Q?", ["a", "b"], [0]) == {}
    assert "text" in quiz.question_errors(" ", ["a", "b"], [0])
    assert "options" in quiz.question_errors("Q", ["a"], [0])
    assert "options" in quiz.question_errors("Q", ["a", "A "], [0])
    assert "options" in quiz.question_errors("Q", ["a", ""], [0])
    assert "correct" in quiz.question_errors("Q", ["a", "b"], [])
    assert "correct" in quiz.question_errors("Q", ["a", "b"], [2])
    assert "correct" in quiz.question_errors("Q", ["a", "b"], [True])
    assert "correct" in quiz.question_errors("Q", ["a", "b"], [0, 0])


def test_answer_errors():
    assert quiz.answer_errors(QUESTIONS, {1: [1], 2: [0], 3: [0], 4: [1]}) == {}
    errors = quiz.answer_errors(QUESTIONS, {1: [5], 2: [], 9: [0]})
    assert set(errors) == {"answers", "q1", "q2", "q3", "q4"}


# --- certificate numbers --------------------------------------------------------------------------------------

def test_number_format_and_round_trip():
    number = certnum.new_number(randbits=lambda bits: 0x123456789A)
    assert number.startswith("TC-") and len(number) == len("TC-XXXX-XXXX-00")
    assert certnum.is_valid(number)
    assert certnum.normalize(number.lower().replace("-", " ")) == number
    assert certnum.normalize(number.replace("TC-", "")) == number


def test_every_single_typo_and_neighbour_swap_is_caught():
    number = certnum.new_number(randbits=lambda bits: 0xFEDCBA9876)
    body = number[3:7] + number[8:12]
    digits = number[-2:]
    for i, ch in itertools.product(range(8), certnum.ALPHABET):
        if ch != body[i]:
            typo = body[:i] + ch + body[i + 1:]
            assert not certnum.is_valid(typo + digits), typo
    for i in range(7):
        if body[i] != body[i + 1]:
            swapped = body[:i] + body[i + 1] + body[i] + body[i + 2:]
            assert not certnum.is_valid(swapped + digits), swapped
    assert not certnum.is_valid(body + f"{(int(digits) + 1) % 100:02d}")


def test_lookalike_letters_read_as_digits_and_junk_is_refused():
    number = certnum.format_number("0011ABCD")
    assert certnum.normalize("tc-OOIL-abcd-" + number[-2:]) == number
    for junk in ("", "TC-", "hello", number + "9", "TC-ÄÄÄÄ-ÄÄÄÄ-00", number[:-2] + "²³"):
        assert certnum.normalize(junk) is None


def test_new_numbers_differ():
    assert len({certnum.new_number() for _ in range(200)}) == 200


# --- matrix states --------------------------------------------------------------------------------------------

def cell(**kw):
    base = {"completed_on": None, "valid_until": None, "due_date": None, "required": True, "today": TODAY}
    return M.completion_cell(**(base | kw))


def test_completion_cell_states():
    assert cell(completed_on=D(2026, 1, 1)).state == "done"
    assert cell(completed_on=D(2026, 1, 1), valid_until=D(2027, 1, 1)).state == "done"
    soon = cell(completed_on=D(2025, 8, 1), valid_until=D(2026, 7, 31))
    assert (soon.state, soon.date) == ("due", D(2026, 7, 31))
    assert cell(completed_on=D(2025, 8, 1), valid_until=TODAY).state == "due"       # valid through today
    assert cell(due_date=TODAY).state == "due"
    assert cell(due_date=TODAY - dt.timedelta(days=1)).state == "overdue"
    assert (cell().state, cell().note) == ("due", "Not done yet")
    assert cell(required=False) == M.NONE
    lapsed = cell(expired_before=D(2026, 6, 1))
    assert (lapsed.state, lapsed.date) == ("expired", D(2026, 6, 1))
    assert cell(expired_before=D(2026, 6, 1), due_date=D(2026, 6, 1)).state == "expired"   # refresher due at expiry
    assert cell(expired_before=D(2026, 6, 1), due_date=D(2026, 6, 30)).state == "expired"  # grace period running
    assert cell(expired_before=D(2026, 6, 1), due_date=D(2026, 6, 10)).state == "overdue"  # grace period missed
    assert cell(expired_before=D(2026, 6, 1), required=False).state == "expired"


def test_gcp_cell_states():
    assert M.gcp_cell(certificate_date=None, expiry=None, today=TODAY).state == "overdue"
    assert M.gcp_cell(certificate_date=D(2025, 1, 1), expiry=None, today=TODAY).state == "done"
    assert M.gcp_cell(certificate_date=D(2024, 1, 1), expiry=D(2026, 6, 14), today=TODAY).state == "expired"
    assert M.gcp_cell(certificate_date=D(2024, 1, 1), expiry=D(2026, 8, 1), today=TODAY).state == "due"
    assert M.gcp_cell(certificate_date=D(2024, 1, 1), expiry=D(2027, 1, 1), today=TODAY).state == "done"


def test_worst_and_tally():
    cells = [M.Cell("done"), M.Cell("due", D(2026, 7, 1)), M.Cell("overdue", D(2026, 6, 1)), M.NONE]
    assert M.worst(cells).state == "overdue"
    assert M.worst([]) == M.NONE
    assert M.tally(cells) == {"done": 1, "due": 1, "overdue": 1, "expired": 0, "waived": 0, "none": 1}


# --- rules -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("day", "months", "expected"), [
    (D(2026, 1, 31), 1, D(2026, 2, 28)), (D(2024, 1, 31), 1, D(2024, 2, 29)), (D(2026, 11, 15), 2, D(2027, 1, 15)),
    (D(2026, 3, 1), 24, D(2028, 3, 1)), (D(2026, 3, 1), 0, D(2026, 3, 1)),
])
def test_add_months(day, months, expected):
    assert rules.add_months(day, months) == expected


def test_valid_until():
    assert rules.valid_until(D(2026, 3, 1), 12) == D(2027, 2, 28)
    assert rules.valid_until(D(2026, 3, 1), None) is None


def test_agenda_rules_and_text_round_trip():
    agenda, errors = rules.agenda([{"topic": " Intro ", "items": ["Goals ", "Roles"]}, {"topic": "Q&A"}])
    assert errors == {} and agenda == [{"topic": "Intro", "items": ["Goals", "Roles"]}, {"topic": "Q&A", "items": []}]
    assert rules.agenda_from_text(rules.agenda_text(agenda)) == agenda
    assert rules.agenda_from_text("- orphan item\nTopic\n* one\n\n• two") == [
        {"topic": "General", "items": ["orphan item"]}, {"topic": "Topic", "items": ["one", "two"]}]
    assert "agenda" in rules.agenda("not a list")[1]
    assert "agenda" in rules.agenda([{"topic": "x", "items": "y"}])[1]
    assert "agenda" in rules.agenda([{"topic": "x", "extra": 1}])[1]
    assert "checklist" in rules.checklist_items(["ok", ""])[1]
    assert "checklist" in rules.checklist_items(["x" * 501])[1]


def test_checklist_from_items_keeps_ticks():
    before = [{"item": "A", "done": True, "done_by": "Ann", "done_at": "2026-01-01T00:00:00+00:00"},
              {"item": "B", "done": False, "done_by": "", "done_at": None}]
    after = rules.checklist_from_items(["B", "A", "C"], before)
    assert [(r["item"], r["done"]) for r in after] == [("B", False), ("A", True), ("C", False)]
    assert after[1]["done_by"] == "Ann"
