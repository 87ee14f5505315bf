"""Vietnamese mobile numbers in the form Zalo's ZNS takes (``84`` and nine digits).

A one-stop e-system writes them in many ways: ``0905 123 456``, ``+84 905.123.456``,
``84905123456``, ``(090) 512-3456``. Everything but digits and a leading ``+`` is
dropped, the trunk ``0`` becomes the country code, and only mobile ranges are kept
(Zalo accounts are registered with mobile numbers: 3x, 5x, 7x, 8x, 9x after 84).
"""

from __future__ import annotations

import re

from flows.i18n import N_, Problem

COUNTRY = "84"
_SEPARATORS = re.compile(r"[\s.\-()/]")
_MOBILE = re.compile(r"^84[35789]\d{8}$")


class PhoneError(Problem):
    """Not a Vietnamese mobile number."""


def normalise_phone(raw: str) -> str:
    """``raw`` as ``84xxxxxxxxx``; raises ``PhoneError`` when it is not a mobile number."""
    text = _SEPARATORS.sub("", raw.strip())
    if text.startswith("+"):
        text = text[1:]
    elif text.startswith("0084"):
        text = text[2:]
    elif text.startswith("0"):
        text = COUNTRY + text[1:]
    if not text.isdigit() or not _MOBILE.match(text):
        raise PhoneError(
            N_("not a Vietnamese mobile number (e.g. 0905 123 456 or +84 905 123 456)")
        )
    return text
