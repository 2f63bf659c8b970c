"""The pure screening-log rules: number patterns, status paths, consent-form scope."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from trialdesk.subjects import rules

D = dt.date


def test_numbers_and_their_sequence():
    assert rules.format_subject_number("{study}/{site}-{seq:04d}", site_number="101", seq=7,
                                       protocol_number="AB-1") == "AB-1/101-0007"
    regex = rules.subject_number_regex("{site}-{seq:03d}", site_number="101", protocol_number="AB-1")
    assert rules.sequence_in_number("101-042", regex) == 42
    assert rules.sequence_in_number("102-042", regex) is None  # another site's number
    assert rules.sequence_in_number("101-042x", regex) is None
    literal = rules.subject_number_regex("S{{{site}}}{seq}", site_number="1.0", protocol_number="X")
    assert rules.sequence_in_number("S{1.0}9", literal) == 9 and rules.sequence_in_number("S{100}9", literal) is None
    assert rules.id_pattern_errors("{site}-{seq:03d}") == []
    assert rules.id_pattern_errors("{site}-{seq!r}") == ["Conversions such as !r are not allowed in {seq}."]


def test_paths_through_the_screening_log():
    def problems(final, **dates):
        return rules.path_problems({f: dates.get(f) for f in rules.STATUS_DATE_FIELD.values()}, final)

    assert problems("enrolled", screened_on=D(2025, 1, 1), consented_on=D(2025, 1, 2), enrolled_on=D(2025, 1, 3)) == []
    # Consent may come before screening.
    assert problems("screened", consented_on=D(2025, 1, 1), screened_on=D(2025, 1, 2)) == []
    assert problems("enrolled", screened_on=D(2025, 1, 1), enrolled_on=D(2025, 1, 3)) == [
        ("enrolled_on", "A subject cannot go from Screened to Enrolled (allowed next: Consented, Screen failed).")]
    assert problems("active", enrolled_on=D(2025, 1, 3), active_on=D(2025, 1, 4)) == [
        ("enrolled_on", "A subject cannot start the screening log as Enrolled: record the screening or consent "
                        "date first.")]
    assert problems("completed", screened_on=D(2025, 1, 1), consented_on=D(2025, 1, 2),
                    enrolled_on=D(2025, 1, 3), completed_on=D(2025, 1, 2)) == [
        ("completed_on", "Completed on 2025-01-02 is before Enrolled on 2025-01-03 (enrolled_on).")]
    assert problems("screened", screened_on=D(2025, 1, 1), consented_on=D(2025, 1, 2)) == [
        ("status", "The status Screened does not match the dates: the latest is consented_on (Consented, "
                   "2025-01-02).")]


def test_the_most_specific_approved_form_applies():
    germany = SimpleNamespace(pk=1, country="Germany")
    forms = [SimpleNamespace(pk=10, site_id=None, country="", status="approved", version_date=D(2025, 3, 1)),
             SimpleNamespace(pk=11, site_id=None, country="germany ", status="approved", version_date=D(2025, 1, 1)),
             SimpleNamespace(pk=12, site_id=2, country="", status="approved", version_date=D(2025, 6, 1)),
             SimpleNamespace(pk=13, site_id=None, country="Germany", status="draft", version_date=D(2025, 7, 1))]
    assert rules.current_icf(germany, forms).pk == 11
    assert rules.current_icf(SimpleNamespace(pk=2, country="France"), forms).pk == 12
    assert rules.current_icf(SimpleNamespace(pk=3, country="France"), forms).pk == 10
    assert rules.current_icf(germany, forms[3:]) is None
