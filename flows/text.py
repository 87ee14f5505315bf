"""Forgiving matching of what people type: case, spaces and Vietnamese diacritics."""

from __future__ import annotations

import functools
import re
import unicodedata

# Crockford's base32: no I, L, O or U, so a code read aloud or retyped survives.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12  # 60 bits
_CODE_FIXES = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})
# Words people put before a code ("DG ABCD…", "mã: ABCD…"), compared after fold().
_CODE_KEYWORDS = ("danh gia", "dg", "ma so", "ma", "code")
_SPACES = re.compile(r"\s+")
_CODE_SEPARATORS = re.compile(r"[\s.\-:_]+")


# Cached: every question folds its answers' labels in every language to match what is
# typed (twenty calls a press), and the labels are few.
@functools.lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Lower case, no diacritics, single spaces: ``"  Rất HÀI lòng "`` → ``"rat hai long"``."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped).strip().lower()


def format_code(code: str) -> str:
    """``K7QM2XWD9RTE`` → ``K7QM-2XWD-9RTE`` for printing."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def extract_code(text: str) -> str | None:
    """The survey or registration code in what someone typed, normalised; None if none.

    Accepts any case, spaces, hyphens and dots, the usual misreadings (O for 0, I or L
    for 1), and a short keyword in front such as "DG" or "mã". Words are not codes:
    "không hài lòng" has twelve letters that would pass for one, but a code typed
    without a digit must be a code's shape (groups of four, or the alphabet's letters
    only), so ordinary text never is.
    """
    folded = fold(text)
    candidates = [folded]
    for keyword in _CODE_KEYWORDS:
        if folded.startswith((keyword + " ", keyword + ":")):
            candidates.append(folded[len(keyword) + 1 :])
            break
    for raw in candidates:
        candidate = _CODE_SEPARATORS.sub("", raw).upper().translate(_CODE_FIXES)
        valid = len(candidate) == CODE_LENGTH and all(ch in CODE_ALPHABET for ch in candidate)
        if valid and _code_shaped(raw):
            return candidate
    return None


def _code_shaped(raw: str) -> bool:
    """Whether typed text that spells 12 code characters was meant as a code."""
    if any(ch.isdigit() for ch in raw):
        return True  # issued codes always have a digit; words have none
    groups = [g for g in _CODE_SEPARATORS.split(raw) if g]
    if len(groups) > 1:
        return all(len(g) % 4 == 0 for g in groups)  # "ABCD-EFGH-JKMN"
    # One word: a code's letters only (a misreading needs a digit to be misread).
    return not any(ch in "oilu" for ch in raw)


def clean_free_text(text: str, limit: int) -> str | None:
    """Trimmed text with inner whitespace tidied, None when empty or longer than ``limit``."""
    cleaned = "\n".join(_SPACES.sub(" ", line).strip() for line in text.strip().splitlines())
    cleaned = re.sub(r"\n{3,}", "\n\n", cleaned)
    if not cleaned or len(cleaned) > limit:
        return None
    return cleaned
