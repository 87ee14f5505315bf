"""A printable A4 counter poster: the unit's name, a large QR code, one line of instruction.

Drawn with Pillow in the DejaVu fonts that matplotlib ships (they have every Vietnamese
glyph), so no system font is needed. PNG for screens, PDF for the printer.
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bot.render.qr import qr_png
from flows.i18n import Translator
from flows.text import format_code

DPI = 200
WIDTH, HEIGHT = 1654, 2339  # A4 at 200 dpi
MARGIN = 130


def _font_dir() -> Path:
    # Located without importing matplotlib (its import is slow and not needed here).
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("matplotlib (which ships the DejaVu fonts) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(_font_dir() / name), size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int):
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if line and draw.textlength(candidate, font=font) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


def _centred(draw, y: int, text: str, font, fill="black", width: int = WIDTH - 2 * MARGIN):
    """Draw wrapped, centred text from ``y``; returns the y below it."""
    for line in _wrap(draw, text, font, width):
        w = draw.textlength(line, font=font)
        draw.text(((WIDTH - w) / 2, y), line, font=font, fill=fill)
        y += int(font.size * 1.3)
    return y


def counter_poster(unit_name: str, link: str, code: str, t: Translator, fmt: str = "png") -> bytes:
    """The poster as PNG or PDF bytes (``fmt`` is ``png`` or ``pdf``)."""
    _ = t.gettext
    page = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(page)
    accent = (0, 84, 147)
    draw.rectangle((0, 0, WIDTH, 36), fill=accent)
    draw.rectangle((0, HEIGHT - 36, WIDTH, HEIGHT), fill=accent)

    y = _centred(draw, MARGIN, _("Rate our service"), _font(62, bold=True), fill=accent)
    y = _centred(draw, y + 20, unit_name, _font(74, bold=True))

    qr = Image.open(io.BytesIO(qr_png(link, box_size=1))).convert("RGB")
    size = min(WIDTH - 2 * MARGIN, 1300) // qr.width * qr.width
    qr = qr.resize((size, size), Image.Resampling.NEAREST)
    top = y + 50
    page.paste(qr, ((WIDTH - size) // 2, top))
    y = top + size + 40

    instruction = _("Scan the QR code with your phone camera and rate us in about one minute.")
    y = _centred(draw, y, instruction, _font(50, bold=True))
    code_line = _("Or send the code {code} to our Zalo or Telegram account.").format(
        code=format_code(code)
    )
    y = _centred(draw, y + 30, code_line, _font(36))
    _centred(draw, y + 20, _("Your answers are anonymous."), _font(32), fill=(90, 90, 90))

    buf = io.BytesIO()
    if fmt == "pdf":
        page.save(buf, format="PDF", resolution=DPI)
    else:
        page.save(buf, format="PNG", dpi=(DPI, DPI))
    return buf.getvalue()
