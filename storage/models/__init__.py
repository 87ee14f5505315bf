"""The tables.

Conventions: integer primary keys; every time is timezone-aware UTC (``UTCDateTime``);
calendar periods are plain dates in the display zone; status columns are short strings
checked by the code that writes them. No ORM relationships: queries say what they join,
which keeps async code free of lazy loads.

One module per group of tables; every table is importable from here. A group is
imported when one of its tables is first asked for (``from storage.models import Unit``
loads ``organisation`` only): building the forty table classes cost every command about
a tenth of its start-up, and a report needs a handful. Asking for ``metadata`` loads
every group first, so Alembic, the backups and the tests see all the tables.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Which module holds each table.
_GROUPS: dict[str, tuple[str, ...]] = {
    "inperson": ("KioskDevice", "ResponseOrigin"),
    "organisation": ("Dossier", "Procedure", "ProcedureField", "Unit"),
    "people": (
        "AuditLog",
        "Conversation",
        "Credential",
        "InboundEvent",
        "Outbox",
        "OutboxTally",
        "Person",
        "PersonChannel",
    ),
    "reminders": (
        "Assignment",
        "Deadline",
        "DeadlineOccurrence",
        "DeadlineTarget",
        "HolidayOverride",
        "Reminder",
    ),
    "rollups": (
        "Alert",
        "RollupAnswer",
        "RollupAnswerMonth",
        "RollupChannel",
        "RollupChannelMonth",
        "RollupChannelYear",
        "RollupDossier",
        "RollupDossierMonth",
        "RollupDossierYear",
        "RollupResponse",
        "RollupResponseMonth",
    ),
    "surveys": (
        "Answer",
        "Feedback",
        "Questionnaire",
        "Quota",
        "QuotaField",
        "Response",
        "SurveyInvite",
    ),
    "zns": ("AnswerLink", "ZnsDay", "ZnsPhone", "ZnsRating", "ZnsSuppressed"),
}
_HOME = {name: group for group, names in _GROUPS.items() for name in names}


def load_all() -> None:
    """Import every group of tables (registers them all on ``metadata``)."""
    for group in _GROUPS:
        import_module(f"storage.models.{group}")


def __getattr__(name: str) -> Any:
    if name == "metadata":
        load_all()
        from storage.models.base import metadata

        return metadata
    group = _HOME.get(name)
    if group is None:
        raise AttributeError(f"module 'storage.models' has no attribute {name!r}")
    value = getattr(import_module(f"storage.models.{group}"), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


__all__ = [*sorted(_HOME), "metadata"]
