"""Certificate PDF and training-matrix workbook.

No Django import: the selectors build the data (a certificate's `certified_facts()`, `selectors.TrainingMatrix`)
and these functions only lay it out. PDF with reportlab, workbook with openpyxl.
"""

from __future__ import annotations

import datetime as dt
import io
from xml.sax.saxutils import escape

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Cell fills per matrix state (ARGB), the same colours as the web page.
STATE_FILLS = {"done": "FFD9F2E3", "due": "FFFFF2CC", "overdue": "FFF8D7DA", "expired": "FFE8D5F5",
               "waived": "FFEDEDED", "none": "FFFFFFFF"}


def _d(value) -> str:
    return value.isoformat() if isinstance(value, dt.date) else (value or "")


def _safe(text):
    """Cell text that spreadsheet programs will not evaluate as a formula."""
    return "'" + text if isinstance(text, str) and text[:1] in ("=", "+", "-", "@") else text


# --- Certificate PDF -------------------------------------------------------------------------------------------

def certificate_pdf(facts: dict, *, status: str = "valid", verify_url: str = "", issued_at: str = "") -> bytes:
    """One landscape A4 page: who completed which training of which study and protocol version, when, with whom,
    the topics covered, and the certificate number with where to verify it."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Frame, Paragraph, Spacer, Table, TableStyle

    buffer = io.BytesIO()
    from reportlab.pdfgen.canvas import Canvas

    width, height = landscape(A4)
    canvas = Canvas(buffer, pagesize=(width, height))
    canvas.setTitle(f"Training certificate {facts['number']}")
    canvas.setAuthor("Trialdesk")
    canvas.setSubject(f"{facts['training_title']} — {facts['person_name']}")
    # Frame: a double border.
    canvas.setStrokeColor(colors.HexColor("#1f4e79"))
    canvas.setLineWidth(3)
    canvas.rect(10 * mm, 10 * mm, width - 20 * mm, height - 20 * mm)
    canvas.setLineWidth(0.8)
    canvas.rect(13 * mm, 13 * mm, width - 26 * mm, height - 26 * mm)

    centre = ParagraphStyle("centre", fontName="Helvetica", fontSize=12, leading=16, alignment=1)
    title = ParagraphStyle("title", parent=centre, fontName="Helvetica-Bold", fontSize=28, leading=34,
                           textColor=colors.HexColor("#1f4e79"))
    name = ParagraphStyle("name", parent=centre, fontName="Helvetica-Bold", fontSize=22, leading=28)
    course = ParagraphStyle("course", parent=centre, fontName="Helvetica-Bold", fontSize=15, leading=20)
    small = ParagraphStyle("small", fontName="Helvetica", fontSize=9.5, leading=12)
    label = ParagraphStyle("label", parent=small, fontName="Helvetica-Bold")

    def p(text, style):
        return Paragraph(escape(str(text)), style)

    story = [
        p("Certificate of Training Completion", title), Spacer(1, 6 * mm),
        p("This certifies that", centre), Spacer(1, 2 * mm),
        p(facts["person_name"], name), Spacer(1, 2 * mm),
        p("has completed", centre), Spacer(1, 1 * mm),
        p(facts["training_title"], course), Spacer(1, 6 * mm),
    ]
    rows = [
        ("Study", facts["study_label"]),
        ("Protocol version", facts.get("protocol_version_label") or "—"),
        ("Training date", _d(facts.get("training_date"))),
        ("Trainer", facts.get("trainer_name") or "—"),
    ]
    if facts.get("score_percent") is not None:
        rows.append(("Knowledge assessment", f"Passed ({facts['score_percent']:g}%)"))
    rows.append(("Valid until", _d(facts.get("valid_until")) or "No expiry"))
    topics = facts.get("topics") or []
    rows.append(("Topics", "; ".join(topics) if topics else "—"))
    rows.append(("Certificate number", facts["number"]))
    if issued_at:
        rows.append(("Issued", issued_at))
    if status != "valid":
        rows.append(("Status", status.upper()))
    table = Table([[p(k, label), p(v, small)] for k, v in rows], colWidths=[45 * mm, 175 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                               ("LINEBELOW", (0, 0), (-1, -2), 0.25, colors.HexColor("#c8d3e0"))]))
    story += [table, Spacer(1, 5 * mm)]
    verify = (f"Verify this certificate in Trialdesk: {verify_url}" if verify_url
              else "Verify this certificate in Trialdesk: Training › Verify a certificate, with the number above.")
    story.append(p(verify, ParagraphStyle("verify", parent=small, alignment=1, textColor=colors.HexColor("#444444"))))
    frame = Frame(22 * mm, 18 * mm, width - 44 * mm, height - 40 * mm, showBoundary=0)
    frame.addFromList(story, canvas)
    if status != "valid":
        canvas.saveState()
        canvas.setFont("Helvetica-Bold", 80)
        canvas.setFillColor(colors.Color(0.8, 0.1, 0.1, alpha=0.18))
        canvas.translate(width / 2, height / 2)
        canvas.rotate(25)
        canvas.drawCentredString(0, 0, status.upper())
        canvas.restoreState()
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# --- Matrix workbook ---------------------------------------------------------------------------------------------

def matrix_xlsx(matrix, *, title: str) -> bytes:
    """The training matrix: one row per person, one column per required training (state and date), a legend."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    book = Workbook()
    sheet = book.active
    sheet.title = "Training matrix"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append([f"As of {matrix.today.isoformat()}"])
    sheet.append([])
    header = ["Name", "Site(s)", "Role(s)", *[c.label for c in matrix.columns]]
    sheet.append(header)
    for cell in sheet[4]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in matrix.rows:
        values = [_safe(row.person.full_name), _safe(row.sites), _safe(row.roles)]
        for c in row.cells:
            values.append(c.label if c.state == "none" else f"{c.label}{(' ' + c.date.isoformat()) if c.date else ''}")
        sheet.append(values)
        for i, c in enumerate(row.cells):
            sheet.cell(row=sheet.max_row, column=4 + i).fill = PatternFill("solid", fgColor=STATE_FILLS[c.state])
    sheet.freeze_panes = "B5"
    sheet.column_dimensions["A"].width = 32
    sheet.column_dimensions["B"].width = 10
    sheet.column_dimensions["C"].width = 24
    for i in range(len(matrix.columns)):
        sheet.column_dimensions[sheet.cell(row=4, column=4 + i).column_letter].width = 26
    legend = book.create_sheet("Legend")
    legend.append(["State", "Meaning"])
    for state, meaning in [
        ("Done", "Completed and valid"),
        ("Due", "Not done yet (due date ahead), or expiring within 60 days"),
        ("Overdue", "Not done and the due date has passed (GCP: none recorded)"),
        ("Expired", "Was done, the certificate has expired"),
        ("Waived", "Requirement waived"),
        ("—", "Not required"),
    ]:
        legend.append([state, meaning])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
