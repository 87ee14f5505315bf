"""Small-number privacy: what a leader may see of few responses (with complementary
suppression, so a withheld figure cannot be worked out from the shown ones), and
comments without anything that points at the person who wrote them. Admins see
everything.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, replace
from typing import Any

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


# --- complementary suppression --------------------------------------------------------------
#
# A report shows a unit (the total) and its listed parts (groups); each figure is built
# from item counts. An item of a group or of the total with fewer valid answers than the
# threshold is withheld ("chưa đủ số phiếu"). So that no withheld count can be worked out
# from the figures that are shown:
#
# 1. Every figure above an item (an element, the SIPAS figure, the mean score, the
#    distribution) is computed from the items the viewer may see, and says what it rests
#    on ("dựa trên 4/5 yếu tố"): it is then a combination of shown items only, and an
#    element's or the overall's relation to its parts gives nothing away.
# 2. The total's item is the sum of the groups' items. Where exactly one group withholds
#    an item that the total shows, total minus the other groups would give it: the
#    group with the fewest answers to that item among those showing it withholds it too.
#    Then every withheld item appears in the shown figures only inside sums over two or
#    more withheld items, and none of them can be derived (tests/test_suppression.py
#    tries every linear combination of the cells the API shows).


def withheld_items(
    total: Mapping[str, int],
    groups: Mapping[Hashable, Mapping[str, int]],
    min_responses: int,
) -> tuple[set[str], dict[Hashable, set[str]]]:
    """Which items a viewer may not see: (the total's, each group's).

    ``total`` and each group map item code → valid answers; the groups partition the
    total. An item without valid answers has nothing to hide and is never withheld.
    """
    if min_responses <= 0:
        return set(), {g: set() for g in groups}
    few = range(1, min_responses)
    hidden_total = {item for item, n in total.items() if n in few}
    hidden = {g: {item for item, n in items.items() if n in few} for g, items in groups.items()}
    for item in sorted(set(total) - hidden_total):
        hiders = [g for g in groups if item in hidden[g]]
        if len(hiders) != 1:
            continue
        showing = [g for g in groups if g not in hiders and groups[g].get(item, 0) > 0]
        if showing:
            partner = min(showing, key=lambda g: (groups[g][item], str(g)))
            hidden[partner].add(item)
    return hidden_total, hidden


def restrict(report: Any, privacy: Privacy) -> Any:
    """``report`` (a ``SatisfactionReport``: ``total`` and ``units``, each with ``items``
    and a ``withheld`` map of item → element) as ``privacy`` may see it: withheld items
    moved from ``items`` to ``withheld``, so every figure is computed from the rest.
    Applying it twice changes nothing more."""
    if privacy.full:
        return report
    groups = {i: {c: it.valid for c, it in u.items.items()} for i, u in enumerate(report.units)}
    total = {c: it.valid for c, it in report.total.items.items()}
    hidden_total, hidden = withheld_items(total, groups, privacy.min_responses)

    def cut(s: Any, codes: set[str]) -> Any:
        items = {c: it for c, it in s.items.items() if c not in codes}
        gone = {c: it.element_code for c, it in s.items.items() if c in codes}
        return replace(s, items=items, withheld={**s.withheld, **gone})

    units = [cut(u, hidden[i]) for i, u in enumerate(report.units)]
    return replace(report, total=cut(report.total, hidden_total), units=units)
