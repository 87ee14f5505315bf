"""``sipas-bot import people``: officials, leaders and admins, each with a one-time
registration code (only its keyed hash is stored; the code is printed once)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator

from bot.core.keys import new_code
from bot.services.imports.framework import (
    Importer,
    PhoneCell,
    RowError,
    RowModel,
    RowProblem,
    Written,
    importer,
)
from bot.services.imports.units import also_on
from flows.i18n import N_
from flows.text import CODE_ALPHABET, CODE_LENGTH, format_code
from storage import bulk
from storage.models import Person

REGISTRATION_TTL = timedelta(days=14)  # as bot.services.invites.REGISTRATION_TTL
PERSON_COLUMNS = (
    "name",
    "role",
    "unit_id",
    "locale",
    "registration_code_hash",
    "registration_expires_at",
    "active",
    "created_at",
)
ROLE_WORDS = {
    "official": N_("official"),
    "leader": N_("leader"),
    "admin": N_("admin"),
    "surveyor": N_("surveyor"),
}


# Byte -> code character: its low 5 bits pick one of the 32 (256 is a multiple of 32, so
# each character is uniform, as ``secrets.choice`` draws it).
_BYTE_TO_CODE = bytes(ord(CODE_ALPHABET[b % len(CODE_ALPHABET)]) for b in range(256))


def new_codes(n: int) -> list[str]:
    """``n`` random codes as ``bot.core.keys.new_code`` makes them (12 characters of the
    32-letter code alphabet, 60 random bits each, at least one digit) from one read of
    the OS's random source, mapped a byte a character at once: a tenth of the cost, for
    files."""
    if n <= 0:
        return []
    text = os.urandom(n * CODE_LENGTH).translate(_BYTE_TO_CODE).decode("ascii")
    out = [text[CODE_LENGTH * i : CODE_LENGTH * (i + 1)] for i in range(n)]
    for i, code in enumerate(out):
        if code.isalpha():  # no digit, about 1 in 90: drawn again, as new_code
            out[i] = new_code()
    return out


# --- people -----------------------------------------------------------------------------------


class PersonRow(RowModel):
    name: str = Field(min_length=1, max_length=255)
    unit_code: str = Field(min_length=1, max_length=64)
    role: str
    locale: str = "vi"
    phone: PhoneCell = None  # for ZNS reminders outside Zalo's messaging window

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        if value not in ROLE_WORDS:
            raise RowProblem(N_("must be official, leader, admin or surveyor"))
        return value

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        if value not in ("vi", "en"):
            raise RowProblem(N_("must be vi or en"))
        return value


@importer
class PersonImporter(Importer):
    """``name,unit_code,role[,locale,phone]``; prints each new person's registration code. A
    person already there (same name, unit and role) gets no new code."""

    kind = "people"
    label = N_("people")
    Row = PersonRow

    async def prepare(self, session) -> None:
        """Units by code, and who is there already."""
        self.units = {u.code: u for u in await bulk.all_units(session)}
        self.there = {(p.name, p.unit_id, p.role) for p in await bulk.all_people(session)}
        self.seen: dict[tuple[str, str, str], int] = {}
        self.items: list[tuple[str, Any]] = []

    async def check(self, session, rows) -> list[RowError]:
        """Known units; the same person twice in the file."""
        errors = []
        for line, row in rows:
            unit = self.units.get(row.unit_code)
            if unit is None:
                errors.append(
                    RowError(
                        line,
                        self._("unit '{code}' not found").format(code=row.unit_code),
                        "unit_code",
                    )
                )
                continue
            key = (row.name, row.unit_code, row.role)
            if key in self.seen:
                errors.append(also_on(self, "name", row.name, line, self.seen[key]))
                continue
            self.seen[key] = line
            tag = "existing" if (row.name, unit.id, row.role) in self.there else "new"
            self.items.append((tag, row))
        return errors

    def plan(self) -> list[Any]:
        """The rows in file order."""
        return self.items

    def build(self, items) -> Any:
        """Codes and their hashes, outside the transaction."""
        now = self.app.now()
        codes = iter(new_codes(sum(1 for tag, _row in items if tag == "new")))
        out = []
        for tag, row in items:
            code = next(codes) if tag == "new" else None
            out.append((tag, row, code, self.app.keys.code_hash(code) if code else None, now))
        return out

    async def write(self, session, built) -> Written:
        """One INSERT for the chunk's new people."""
        _ = self._
        written = Written()
        values = []
        for tag, row, code, code_hash, now in built:
            unit = self.units[row.unit_code]
            role = _(ROLE_WORDS[row.role])
            if tag == "existing":
                written.existing += 1
                written.lines.append(
                    _("{name} ({role}, {unit}): already there, no new code").format(
                        name=row.name, role=role, unit=unit.code
                    )
                )
                continue
            values.append(
                (
                    row.name,
                    row.role,
                    unit.id,
                    row.locale,
                    code_hash,
                    now + REGISTRATION_TTL,
                    True,
                    now,
                )
            )
            written.lines.append(f"{format_code(code)}  {row.name} ({role}, {unit.code})")
        await bulk.copy_rows(session, Person, PERSON_COLUMNS, values)
        written.created = len(values)
        phones = [
            (row, self.units[row.unit_code].id)
            for tag, row, *_ in built
            if tag == "new" and row.phone
        ]
        if phones:  # rare: kept encrypted for ZNS reminders, one person at a time
            from bot.services.zns import set_official_phone

            ids = await bulk.person_ids(
                session, [(r.name, unit_id, r.role) for r, unit_id in phones]
            )
            for (row, _unit), pid in zip(phones, ids, strict=True):
                await set_official_phone(self.app, session, pid, row.phone)
        return written
