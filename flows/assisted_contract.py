"""What the assisted-interview flow (``flows.assisted``) asks of the world and asks it to
do: the extra ``Context`` methods, and the effect that saves a whole phiếu."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from flows.contract import Context


@dataclass(frozen=True, slots=True)
class ProcedureInfo:
    """A procedure as the picker shows it."""

    procedure_id: int
    code: str
    name: str


class AssistedContext(Context, Protocol):
    """What this flow needs beyond ``Context``."""

    async def procedures(self) -> list[ProcedureInfo]:
        """Every procedure, by name."""
        ...

    def assisted_questionnaire(self) -> str:
        """The questionnaire surveyors ask (``SIPAS_ASSISTED_QUESTIONNAIRE``)."""
        ...


@dataclass(frozen=True, slots=True)
class SaveAssisted:
    """Store one whole phiếu entered by the linked surveyor (channel ``assisted``)."""

    response_key: str
    unit_id: int
    procedure_id: int | None
    questionnaire_code: str
    questionnaire_version: int
    answers: tuple[tuple[str, str, int | None], ...]  # (item, element, value)
    reason_item: str | None
    reason: str | None
    reason_text: str | None
    comment: str | None
    started_at: datetime
    saved_at: datetime
