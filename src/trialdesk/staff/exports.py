"""Delegation log (PDF, XLSX) and roster (XLSX) files.

No Django import: the selectors build the data (`DelegationLog` below, roster rows) and these functions only lay
it out. PDF with reportlab (landscape A4, the usual site delegation-of-authority log layout), workbooks
with openpyxl.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass
class LogRow:
    name: str
    initials: str
    role: str
    task_number: int
    task: str
    start: dt.date
    end: dt.date | None
    ended_on: dt.date | None
    status: str
    signature: str          # printed name, UTC time, meaning; "" when not signed
    signature_state: str    # "Valid", or why it is not


@dataclass
class DelegationLog:
    study: str
    protocol: str
    site: str
    institution: str
    investigator: str
    generated_at: dt.datetime
    legend: list[tuple[int, str]]
    rows: list[LogRow]


XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

LOG_COLUMNS = ["Name", "Initials", "Role", "Task no.", "Task", "Start", "End", "Ended early", "Status",
               "PI signature (name, UTC time, meaning)", "Signature check"]
ROSTER_COLUMNS = ["Site", "Name", "Role", "Start", "End", "CV date", "CV renewal", "Licence number",
                  "Licence expiry", "GCP certificate", "GCP expiry", "Flags", "Notes"]


def _d(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def _safe(text: str) -> str:
    """Cell text that spreadsheet programs will not evaluate as a formula."""
    return "'" + text if isinstance(text, str) and text[:1] in ("=", "+", "-", "@") else text


def _log_values(row) -> list:
    return [row.name, row.initials, row.role, row.task_number, row.task, _d(row.start), _d(row.end),
            _d(row.ended_on), row.status, row.signature, row.signature_state]


# --- PDF ---------------------------------------------------------------------------------------------------------

def delegation_log_pdf(log) -> bytes:
    """The delegation log as a landscape A4 PDF: header block, task legend, one row per delegation."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    buffer = io.BytesIO()
    generated = log.generated_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    doc = SimpleDocTemplate(buffer, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=14 * mm,
                            title=f"Delegation log {log.study} site {log.site}", author="Trialdesk",
                            subject="Site delegation of authority log")
    styles = getSampleStyleSheet()
    small = ParagraphStyle("small", parent=styles["BodyText"], fontSize=7.5, leading=9)
    head = ParagraphStyle("head", parent=small, fontName="Helvetica-Bold")
    esc = _escape

    story = [Paragraph("Site Delegation of Authority Log", styles["Title"])]
    info = [
        [Paragraph("<b>Study</b>", small), Paragraph(esc(log.study), small),
         Paragraph("<b>Protocol</b>", small), Paragraph(esc(log.protocol), small)],
        [Paragraph("<b>Site</b>", small), Paragraph(esc(f"{log.site} · {log.institution}"), small),
         Paragraph("<b>Principal investigator</b>", small), Paragraph(esc(log.investigator), small)],
    ]
    info_table = Table(info, colWidths=[30 * mm, 100 * mm, 40 * mm, 100 * mm])
    info_table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                                    ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [info_table, Spacer(1, 3 * mm)]
    legend = "   ".join(f"<b>{n}</b> {esc(label)}" for n, label in log.legend)
    story += [Paragraph(f"<b>Tasks:</b> {legend}", small), Spacer(1, 3 * mm)]

    header = [Paragraph(esc(c), head) for c in ("Name", "Initials", "Role", "Task", "Start", "End", "Status",
                                                 "PI signature (printed name, UTC time, meaning)")]
    data = [header]
    for row in log.rows:
        end = _d(row.end) or "open"
        if row.ended_on:
            end = f"{end} (ended {row.ended_on.isoformat()})" if row.end else f"ended {row.ended_on.isoformat()}"
        signature = esc(row.signature) if row.signature else "<i>not signed</i>"
        if row.signature and row.signature_state and row.signature_state != "Valid":
            signature += f"<br/><font color='#b00020'>{esc(row.signature_state)}</font>"
        data.append([Paragraph(esc(row.name), small), Paragraph(esc(row.initials), small),
                     Paragraph(esc(row.role), small), Paragraph(f"<b>{row.task_number}</b> {esc(row.task)}", small),
                     Paragraph(_d(row.start), small), Paragraph(esc(end), small), Paragraph(esc(row.status), small),
                     Paragraph(signature, small)])
    if not log.rows:
        data.append([Paragraph("<i>No delegations recorded.</i>", small)] + [""] * 7)
    widths = [44 * mm, 15 * mm, 30 * mm, 52 * mm, 20 * mm, 30 * mm, 22 * mm, 60 * mm]
    table = LongTable(data, colWidths=widths, repeatRows=1)
    style = [("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf2")),
             ("VALIGN", (0, 0), (-1, -1), "TOP")]
    if not log.rows:
        style.append(("SPAN", (0, 1), (-1, 1)))
    table.setStyle(TableStyle(style))
    story.append(table)

    def footer(canvas, document):
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawString(12 * mm, 7 * mm, f"{log.study} · site {log.site} · delegation log generated {generated} "
                                           "by Trialdesk from the electronic record")
        canvas.drawRightString(landscape(A4)[0] - 12 * mm, 7 * mm, f"Page {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _escape(text: str) -> str:
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- XLSX --------------------------------------------------------------------------------------------------------

def _book_with_sheet(title: str, columns: Sequence[str], rows: Iterable[Sequence], widths: Sequence[int]):
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = title
    sheet.append(list(columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for values in rows:
        sheet.append([_safe(v) for v in values])
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = width
    sheet.freeze_panes = "A2"
    return book, sheet


def _save(book) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def delegation_log_xlsx(log) -> bytes:
    """Sheet "Delegation log" (one row per delegation) and sheet "About" (study, protocol, site, PI, legend)."""
    from openpyxl.styles import Font

    book, _ = _book_with_sheet("Delegation log", LOG_COLUMNS, (_log_values(r) for r in log.rows),
                               [28, 9, 20, 8, 36, 12, 12, 12, 16, 52, 22])
    about = book.create_sheet("About")
    for label, value in (("Study", log.study), ("Protocol", log.protocol), ("Site", log.site),
                         ("Institution", log.institution), ("Principal investigator", log.investigator),
                         ("Generated", log.generated_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))):
        about.append([label, _safe(value)])
    about.append([])
    about.append(["Task no.", "Task"])
    about.cell(row=about.max_row, column=1).font = Font(bold=True)
    about.cell(row=about.max_row, column=2).font = Font(bold=True)
    for number, label in log.legend:
        about.append([number, label])
    about.column_dimensions["A"].width = 24
    about.column_dimensions["B"].width = 60
    return _save(book)


def roster_xlsx(rows: Iterable[Sequence]) -> bytes:
    """The roster: one row per entry (values in ROSTER_COLUMNS order)."""
    book, _ = _book_with_sheet("Site staff", ROSTER_COLUMNS, rows, [8, 30, 22, 12, 12, 12, 12, 18, 14, 14, 12, 24, 40])
    return _save(book)
