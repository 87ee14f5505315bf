"""Small-number privacy: what a leader may see of few responses, and comments without
anything that points at the person who wrote them. Admins see everything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Phone numbers (Vietnamese mobiles and landlines, with spaces, dots or +84), e-mail
# addresses, and long digit runs such as ID card or receipt numbers.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_DIGITS = re.compile(r"(?:\+?\d[\s.\-]?){8,}\d")
HIDDEN = "[…]"


@dataclass(frozen=True)
class Privacy:
    """``min_responses`` is 0 for admins (nothing hidden)."""

    min_responses: int = 0

    @property
    def full(self) -> bool:
        """Whether everything may be shown (an admin)."""
        return self.min_responses <= 0

    def shows(self, count: int) -> bool:
        """Whether a figure based on ``count`` responses (or answers) may be shown."""
        return count >= self.min_responses

    def comment(self, text: str) -> str:
        """A comment as this viewer may read it."""
        return text if self.full else redact(text)


def redact(text: str) -> str:
    """``text`` with phone numbers, e-mail addresses and long numbers replaced."""
    return _DIGITS.sub(HIDDEN, _EMAIL.sub(HIDDEN, text))


def for_role(role: str, min_responses: int) -> Privacy:
    """The privacy a role gets: leaders the threshold, admins none."""
    return Privacy(0 if role == "admin" else min_responses)
