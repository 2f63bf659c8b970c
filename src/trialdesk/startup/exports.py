"""The start-up tracker as an XLSX workbook (openpyxl): a matrix to read, a long table to analyse, cycle times."""

from __future__ import annotations

import io

from trialdesk.sites.lifecycle import SITE_STATUSES
from trialdesk.startup.cycle import CYCLES
from trialdesk.startup.plan import STATES

# Fill colours per state (light, so black text stays readable).
FILLS = {"done": "DBEAFE", "overdue": "FEE2E2", "at_risk": "FEF3C7", "on_track": "F3F4F6",
         "not_applicable": "E5E7EB", "unplanned": "FFFFFF"}
DATE_FORMAT = "yyyy-mm-dd"


def _cell_text(row) -> str:
    if row.not_applicable:
        return "N/A"
    if row.actual is not None:
        return row.actual.isoformat()
    if row.planned is not None:
        return f"planned {row.planned.isoformat()} ({STATES[row.state].lower()})"
    return ""


def tracker_xlsx(tracker) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    bold = Font(bold=True)
    study = tracker.study
    book = Workbook()

    # 1. The matrix: one row per site, one column per milestone.
    sheet = book.active
    sheet.title = "Tracker"
    sheet.append([f"Start-up tracker: {study.protocol_number} {study.acronym}".strip()])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append([f"As of {tracker.today.isoformat()}. Cells: actual date, N/A, or the planned date with its "
                  "state. Colours: blue done, red overdue, amber at risk."])
    header = ["Site", "Institution", "Country", "Site status", *(d.label for d in tracker.definitions),
              "Planned activation", "Projected activation", "Open mandatory milestones"]
    sheet.append(header)
    for cell in sheet[3]:
        cell.font = bold
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for startup in tracker.sites:
        site = startup.site
        sheet.append([site.site_number, site.institution.name, site.country,
                      SITE_STATUSES.get(site.status, site.status), *(_cell_text(r) for r in startup.rows),
                      startup.planned_activation, startup.projected_activation, "; ".join(startup.blockers)])
        for offset, row in enumerate(startup.rows):
            state = "not_applicable" if row.not_applicable else row.state
            sheet.cell(row=sheet.max_row, column=5 + offset).fill = PatternFill("solid", fgColor=FILLS[state])
        for column in (5 + len(startup.rows), 6 + len(startup.rows)):
            sheet.cell(row=sheet.max_row, column=column).number_format = DATE_FORMAT
    sheet.freeze_panes = "B4"
    for index in range(1, len(header) + 1):
        sheet.column_dimensions[sheet.cell(row=3, column=index).column_letter].width = 14 if index > 4 else 18
    sheet.column_dimensions["B"].width = 36

    # 2. One row per site and milestone, for filtering and pivot tables.
    long = book.create_sheet("Milestones")
    long.append(["Site", "Institution", "Country", "Site status", "Milestone key", "Milestone", "Mandatory",
                 "Planned", "Planned derived from targets", "Actual", "Projected", "State", "Owner",
                 "Not applicable reason", "Notes"])
    for cell in long[1]:
        cell.font = bold
    for startup in tracker.sites:
        site = startup.site
        for row in startup.rows:
            long.append([site.site_number, site.institution.name, site.country,
                         SITE_STATUSES.get(site.status, site.status), row.key, row.label,
                         "yes" if row.definition.mandatory else "no", row.planned,
                         "yes" if row.plan is not None and row.plan.planned_derived else "no", row.actual,
                         row.projected, STATES[row.state], row.owner.display_name if row.owner else "",
                         row.not_applicable_reason, row.notes])
            for column in (8, 10, 11):
                long.cell(row=long.max_row, column=column).number_format = DATE_FORMAT
    long.freeze_panes = "A2"
    for letter, width in zip("ABCDEFGHIJKLMNO", (8, 36, 16, 16, 24, 32, 10, 12, 12, 12, 12, 14, 24, 30, 30),
                             strict=True):
        long.column_dimensions[letter].width = width

    # 3. Cycle times: per site, then median and spread per country and for the study.
    cycles = book.create_sheet("Cycle times")
    cycles.append(["Days per site"])
    cycles["A1"].font = bold
    cycles.append(["Site", "Institution", "Country", *(label for _, label, _, _ in CYCLES)])
    for cell in cycles[2]:
        cell.font = bold
    for startup in tracker.sites:
        times = startup.cycle_times()
        site = startup.site
        cycles.append([site.site_number, site.institution.name, site.country, *(times[k] for k, *_ in CYCLES)])
    cycles.append([])
    cycles.append(["Summary (days)"])
    cycles.cell(row=cycles.max_row, column=1).font = bold
    cycles.append(["Group", "Sites", "Cycle", "n", "Median", "Q1", "Q3", "Min", "Max"])
    for cell in cycles[cycles.max_row]:
        cell.font = bold
    for group in [*tracker.countries, tracker.overall]:
        for key, label, _, _ in CYCLES:
            summary = group.summaries[key]
            values = [summary.n, summary.median, summary.q1, summary.q3, summary.minimum, summary.maximum] \
                if summary else [0, None, None, None, None, None]
            cycles.append([group.label, group.sites, label, *values])
    cycles.column_dimensions["B"].width = 36
    cycles.column_dimensions["C"].width = 44
    for letter in "DEF":
        cycles.column_dimensions[letter].width = 24

    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
