"""QR codes of survey links, for receipts, posters and the ``/qr`` route."""

from __future__ import annotations

import io

import qrcode
import qrcode.constants


def qr_png(data: str, box_size: int = 8) -> bytes:
    """A QR code of ``data`` as PNG bytes (error correction M, readable on a receipt)."""
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=4
    )
    qr.add_data(data)
    qr.make(fit=True)
    buf = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(buf, format="PNG")
    return buf.getvalue()
