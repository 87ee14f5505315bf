"""What every part of the survey shares: names, answer options, the questionnaire."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from flows import questionnaire as qn
from flows.contract import State
from flows.i18n import LOCALES, N_, Translator, translator
from flows.text import fold

FLOW = "survey"
NEGATIVE = (1, 2)  # answers that trigger the "what went wrong" follow-up
SATISFACTION_LABELS = {
    1: N_("Very dissatisfied"),
    2: N_("Dissatisfied"),
    3: N_("Neutral"),
    4: N_("Satisfied"),
    5: N_("Very satisfied"),
}
SKIP = "s"
BACK = "b"
OTHER_REASON = "other"
# Typed words for "skip" and "back", folded, in every language.
SKIP_WORDS = ("bo qua", "skip")
BACK_WORDS = ("quay lai", "back", "tro lai")


@dataclass(frozen=True)
class Option:
    """One answer a question offers."""

    value: int
    label: str  # in the user's language
    aliases: tuple[str, ...]  # every language's label, folded, for typed answers


def questionnaire(state: State) -> qn.Questionnaire:
    """The questionnaire of the survey in ``state``."""
    return qn.get(state.data["q"])


def options(q: qn.Questionnaire, item: qn.Item, t: Translator) -> Sequence[Option]:
    """The answers ``item`` offers, labelled in ``t``'s language."""
    if item.scale == qn.SATISFACTION:
        return _satisfaction_options(t.locale)
    return [
        Option(o.value, o.label(t.locale), (fold(o.vi), fold(o.en))) for o in q.scales[item.scale]
    ]


@functools.cache
def _satisfaction_options(locale: str) -> tuple[Option, ...]:
    # The same five for every questionnaire: built once per language (every question of
    # every step asked for them, 25 translations and folds a step).
    return tuple(
        Option(
            value,
            translator(locale).gettext(label),
            tuple(fold(translator(loc).gettext(label)) for loc in LOCALES),
        )
        for value, label in SATISFACTION_LABELS.items()
    )


def answer_label(q: qn.Questionnaire, item: qn.Item, value: int | None, t: Translator) -> str:
    """How a recorded answer reads: its option's label, or "Skipped"."""
    if value is None:
        return t.gettext("Skipped")
    return next((o.label for o in options(q, item, t) if o.value == value), str(value))
