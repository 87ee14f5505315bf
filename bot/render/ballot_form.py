"""The printed questionnaire (``sipas-bot ballots form``): A4, fpdf2, DejaVu Sans.

The official title, the unit's name, a ballot number and date to fill in, then each of
the five elements with its items and five tick boxes (1–5), and lines for a comment.
DejaVu Sans has every Vietnamese glyph; it is the copy matplotlib ships (a pinned
dependency), or Debian's fonts-dejavu-core when that is installed.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from flows import questionnaire as qn
from flows.i18n import Translator
from flows.survey.base import SATISFACTION_LABELS

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path(__import__("matplotlib").get_data_path()) / "fonts" / "ttf",
)
BOX = 4.2  # mm, a tick box
TEXT_WIDTH = 118  # mm for an item's text; the boxes take the rest of the line


def font_files() -> tuple[Path, Path]:
    """DejaVu Sans regular and bold (FileNotFoundError when neither copy exists)."""
    for folder in FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    raise FileNotFoundError("DejaVuSans.ttf (install fonts-dejavu-core, or matplotlib)")


def build(t: Translator, q: qn.Questionnaire, unit_name: str) -> bytes:
    """The paper questionnaire of ``q`` for ``unit_name``, as PDF bytes."""
    _ = t.gettext
    regular, bold = font_files()
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_margins(14, 12, 14)
    pdf.set_auto_page_break(True, margin=14)
    pdf.add_font("DejaVu", "", str(regular))
    pdf.add_font("DejaVu", "B", str(bold))
    pdf.set_title(_("Satisfaction questionnaire") + " – " + unit_name)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    pdf.set_font("DejaVu", "B", 12)
    title = _(
        "QUESTIONNAIRE ON THE SATISFACTION OF CITIZENS AND ORGANISATIONS WITH THE SERVICE "
        "OF STATE ADMINISTRATIVE AGENCIES"
    )
    pdf.multi_cell(width, 6, title, align="C")
    pdf.set_font("DejaVu", "", 10)
    pdf.multi_cell(width, 5.5, q.title.get(t.locale), align="C")
    pdf.ln(1)
    pdf.set_font("DejaVu", "B", 11)
    pdf.multi_cell(width, 6, unit_name, align="C")
    pdf.ln(2)
    pdf.set_font("DejaVu", "", 9.5)
    fields = (
        _("Ballot number: ............"),
        _("Date: ....../....../.........."),
        _("Procedure: ........................................"),
    )
    pdf.cell(width, 6, "      ".join(fields), new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(
        width,
        5,
        _(
            "For each statement, tick one box: 1 Very dissatisfied, 2 Dissatisfied, "
            "3 Neutral, 4 Satisfied, 5 Very satisfied. Leave a line empty if it does not "
            "apply to you. Your answers are anonymous."
        ),
    )
    pdf.ln(2)
    _scale_header(pdf, t)
    for n, element in enumerate(q.elements, 1):
        items = [item for item in q.items if item.element == element.code]
        if not items:
            continue
        if pdf.get_y() > pdf.h - 40:
            pdf.add_page()
            _scale_header(pdf, t)
        pdf.set_font("DejaVu", "B", 10)
        pdf.set_fill_color(225, 231, 238)
        pdf.cell(width, 6.5, f"{n}. {element.name.get(t.locale)}", fill=True)
        pdf.ln(7)
        for item in items:
            _item_row(pdf, f"{item.code}  {item.text.get(t.locale)}")
    other = [item for item in q.items if q.element(item.element) is None]
    for item in other:
        _item_row(pdf, item.text.get(t.locale))
    pdf.ln(3)
    pdf.set_font("DejaVu", "B", 10)
    pdf.cell(width, 6, _("Your comments and suggestions:"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(150, 150, 150)
    for _line in range(5):
        pdf.ln(7)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
    pdf.ln(6)
    pdf.set_font("DejaVu", "", 9)
    pdf.multi_cell(width, 5, _("Thank you for your answers!"), align="C")
    return bytes(pdf.output())


def _scale_header(pdf: FPDF, t: Translator) -> None:
    pdf.set_font("DejaVu", "", 6.5)
    x0 = pdf.l_margin + TEXT_WIDTH
    step = (pdf.w - pdf.r_margin - x0) / 5
    y = pdf.get_y()
    for n, label in SATISFACTION_LABELS.items():
        pdf.set_xy(x0 + (n - 1) * step, y)
        pdf.multi_cell(step, 3, f"{n}\n{t.gettext(label)}", align="C")
    pdf.set_xy(pdf.l_margin, y + 10)


def _item_row(pdf: FPDF, text: str) -> None:
    pdf.set_font("DejaVu", "", 9)
    lines = pdf.multi_cell(TEXT_WIDTH - 2, 4.6, text, dry_run=True, output="LINES")
    height = max(len(lines) * 4.6, 7)
    if pdf.get_y() + height > pdf.h - pdf.b_margin:
        pdf.add_page()
    y = pdf.get_y()
    pdf.multi_cell(TEXT_WIDTH - 2, 4.6, text)
    x0 = pdf.l_margin + TEXT_WIDTH
    step = (pdf.w - pdf.r_margin - x0) / 5
    for n in range(5):
        pdf.rect(x0 + n * step + (step - BOX) / 2, y + (height - BOX) / 2 - 0.6, BOX, BOX)
    pdf.set_xy(pdf.l_margin, y + height + 1.2)
