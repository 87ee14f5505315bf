"""The rows of a dossier file, and what the dossier importer makes of each."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

from pydantic import Field, field_validator, model_validator

from bot.services.imports.framework import PhoneCell, RowModel, RowProblem
from flows.i18n import N_
from flows.phone import normalise_phone

_DATE_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y")
# The same forms as _DATE_FORMATS, read without strptime (a tenth of its cost).
_LOCAL_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?: (\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def parse_when(value: str) -> datetime:
    """A ``completed_at`` cell: ``20/11/2025 14:30[:05]``, ``20/11/2025`` or ISO 8601 (an
    offset kept, none meaning local time); ``RowProblem`` otherwise."""
    text = value.strip()
    parsed = None
    local = _LOCAL_DATE.fullmatch(text)
    if local is not None:
        day, month, year, hour, minute, second = (int(g or 0) for g in local.groups())
        with contextlib.suppress(ValueError):
            parsed = datetime(year, month, day, hour, minute, second)
    elif text[:4].isdigit():
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = None
    if parsed is None:
        for fmt in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        raise RowProblem(
            N_("not a date and time (write 20/11/2025 14:30 or 2025-11-20T14:30+07:00)")
        )
    if not 2000 <= parsed.year <= 2100:
        raise RowProblem(N_("must be between the years 2000 and 2100"))
    return parsed


class DossierRow(RowModel):
    receipt_code: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:\-]*$"
    )
    unit_code: str = Field(min_length=1, max_length=64)
    procedure_code: str = Field(min_length=1, max_length=64)
    completed_at: datetime  # without an offset: local time (SIPAS_TIMEZONE)
    citizen_channel: Literal["telegram", "zalo"] | None = None
    citizen_user_id: str | None = Field(default=None, max_length=32, pattern=r"^[0-9]+$")
    phone: PhoneCell = None  # the citizen's mobile number, for a ZNS invitation

    @field_validator("completed_at", mode="before")
    @classmethod
    def _when(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return parse_when(value)

    @model_validator(mode="after")
    def _citizen_pair(self) -> DossierRow:
        if (self.citizen_channel is None) != (self.citizen_user_id is None):
            raise RowProblem(N_("citizen_channel and citizen_user_id go together"))
        return self


class DossierValues(NamedTuple):
    """A valid row as ``DossierRow`` would give it (same names, same values)."""

    receipt_code: str
    unit_code: str
    procedure_code: str
    completed_at: datetime
    citizen_channel: str | None
    citizen_user_id: str | None
    phone: str | None


_RECEIPT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:\-]*")
_CHANNELS = frozenset(("telegram", "zalo"))
# What pydantic's ``str_strip_whitespace`` strips for sure (Python's ``strip`` strips a
# few characters more: a cell with those goes through ``DossierRow``).
_SPACE = " \t\n\r\x0b\x0c"


def dossier_reader(header: list[str]) -> Callable[[list[str]], DossierValues | None]:
    """The fast path of ``DossierRow``: the cells of a row (in ``header``'s order) as
    ``DossierValues`` when they are valid, None when ``DossierRow`` should look at them
    (it names the problem, or takes what this path leaves to it: a cell with unusual
    spaces around it). A plain function per row, no model: a fifth of the cost."""
    at = {name: header.index(name) for name in DossierValues._fields if name in header}
    order = [at.get(name) for name in DossierValues._fields]
    on_channel = at.get("citizen_channel", -1)
    times: dict[str, datetime] = {}  # a file repeats its times

    def read(cells: list[str]) -> DossierValues | None:
        values: list[Any] = []
        for position in order:
            if position is None:
                values.append(None)
                continue
            cell = cells[position]
            text = cell.strip()
            if text != cell and cell.strip(_SPACE) != text:
                return None
            values.append(text or None)
        receipt, unit, procedure, when, channel, user_id, phone = values
        if channel is not None and cells[on_channel] != channel:  # a Literal: not stripped
            return None
        if (
            receipt is None
            or len(receipt) > 64
            or _RECEIPT.fullmatch(receipt) is None
            or unit is None
            or len(unit) > 64
            or procedure is None
            or len(procedure) > 64
            or when is None
        ):
            return None
        if channel is not None or user_id is not None:
            if channel not in _CHANNELS or user_id is None:
                return None
            if len(user_id) > 32 or not (user_id.isascii() and user_id.isdigit()):
                return None
        completed = times.get(when)
        if completed is None:
            try:
                completed = times[when] = parse_when(when)
            except RowProblem:
                return None
        if phone is not None:
            try:
                phone = normalise_phone(phone)
            except ValueError:
                return None
        return DossierValues(receipt, unit, procedure, completed, channel, user_id, phone)

    return read


@dataclass(slots=True)
class Item:
    line: int
    receipt: str
    unit: Any  # (id, code, name, …)
    procedure_id: int
    completed_at: datetime  # UTC
    channel: str | None
    user_id: str | None
    phone: str | None = None  # normalised; a ZNS invitation when there is no chat account
    replay: tuple[str, str] | None = None  # (code, note) of a receipt loaded before


@dataclass(slots=True)
class Built:
    """An item with what ``build`` made for it."""

    item: Item
    code: str = ""
    code_hash: str = ""
    code_enc: str = ""
    citizen: str | None = None
    payload: dict | None = None
    invited_at: datetime | None = None
    shown: str = ""  # its output line, but for the invitation's note


INVITE_COLUMNS = (
    "code_hash",
    "kind",
    "unit_id",
    "dossier_id",
    "procedure_id",
    "expires_at",
    "code_enc",
    "created_at",
)
OUTBOX_COLUMNS = (
    "channel",
    "recipient",
    "payload",
    "status",
    "attempts",
    "not_before",
    "created_at",
    "dedupe_key",
)
