"""Bulk loading from CSV (``sipas-bot import KIND FILE.csv``).

A file is loaded whole or not at all: every row is checked, every bad row is reported
with its line number, and when any row is bad nothing is written. Files saved by Excel
(UTF-8 with a BOM, comma or semicolon separated) are read as they are.

An importer is a class registered with ``@importer``: its ``Row`` model validates one
row, ``load`` writes the valid rows (and may still report rows that clash with the
database). Other modules add kinds (deadlines) the same way.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.app import App
from flows.phone import normalise_phone
from storage import people, units
from storage.models import Procedure, ProcedureField, Unit

MAX_BYTES = 50 * 1024 * 1024
PROGRESS_EVERY = 5000


@dataclass(frozen=True)
class RowError:
    line: int  # 1 is the header
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportFailed(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} bad row(s); nothing was loaded")
        self.errors = errors


@dataclass
class ImportResult:
    kind: str
    loaded: int
    output: list[str] = field(default_factory=list)  # lines to show (e.g. codes issued)


class Importer:
    kind: ClassVar[str]
    Row: ClassVar[type[BaseModel]]

    async def load(
        self, app: App, session: AsyncSession, rows: list[tuple[int, BaseModel]]
    ) -> tuple[list[RowError], list[str]]:
        """Write the rows; return (rows that clash with the database, lines to show)."""
        raise NotImplementedError


IMPORTERS: dict[str, type[Importer]] = {}


def importer(cls: type[Importer]) -> type[Importer]:
    """Register an importer class (decorator)."""
    IMPORTERS[cls.kind] = cls
    return cls


class RowModel(BaseModel):
    """Base for row models: trimmed strings, unknown columns refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


def read_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and the non-empty rows of a CSV file, with their line numbers."""
    if path.stat().st_size > MAX_BYTES:
        raise ImportFailed([RowError(0, f"file larger than {MAX_BYTES // (1024 * 1024)} MB")])
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFailed(
            [RowError(0, f"not UTF-8 text ({exc.reason}); save it as CSV UTF-8")]
        ) from None
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ImportFailed([RowError(1, "the file is empty")]) from None
    rows = []
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                rows.append(
                    (line, {"__error__": f"{len(record)} cells, the header has {len(header)}"})
                )
                continue
            rows.append((line, dict(zip(header, record, strict=True))))
    except csv.Error as exc:
        raise ImportFailed([RowError(reader.line_num, f"unreadable CSV: {exc}")]) from None
    return header, rows


async def import_csv(
    app: App, kind: str, path: Path, progress: Callable[[str], None] | None = None
) -> ImportResult:
    """Validate and load a CSV file in one transaction; ``ImportFailed`` lists bad rows."""
    cls = IMPORTERS[kind]
    header, raw_rows = read_rows(path)
    fields = cls.Row.model_fields
    required = {name for name, f in fields.items() if f.is_required()}
    errors = [RowError(1, f"unknown column '{h}'") for h in header if h not in fields]
    errors += [RowError(1, f"missing column '{c}'") for c in sorted(required - set(header))]
    if errors:
        raise ImportFailed(errors)
    valid: list[tuple[int, BaseModel]] = []
    for n, (line, raw) in enumerate(raw_rows, 1):
        if "__error__" in raw:
            errors.append(RowError(line, raw["__error__"]))
            continue
        try:
            valid.append((line, cls.Row.model_validate(raw)))
        except ValidationError as exc:
            problem = exc.errors()[0]
            column = ".".join(str(p) for p in problem["loc"]) or "row"
            message = "must not be empty" if problem.get("input") is None else problem["msg"]
            errors.append(RowError(line, f"{column}: {message}"))
        if progress and n % PROGRESS_EVERY == 0:
            progress(f"checked {n}/{len(raw_rows)} rows")
    if not valid and not errors:
        raise ImportFailed([RowError(1, "no rows to load")])

    class _Rollback(Exception):
        pass

    try:
        async with app.db.write() as session:
            # Rows that are valid on their own are loaded even when others are not, so
            # clashes with the database are reported in the same run; then it all rolls back.
            clashes, output = await cls().load(app, session, valid) if valid else ([], [])
            errors += clashes
            if errors:
                raise _Rollback
    except _Rollback:
        raise ImportFailed(sorted(errors, key=lambda e: e.line)) from None
    return ImportResult(kind, len(valid), output)


# --- units -------------------------------------------------------------------------------

Code = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class UnitRow(RowModel):
    code: str = Code
    name: str = Field(min_length=1, max_length=255)
    kind: str = Field(min_length=1, max_length=32)
    parent_code: str | None = Field(default=None, max_length=64)
    questionnaire: str | None = None
    legacy: bool = False

    @field_validator("questionnaire")
    @classmethod
    def _known_questionnaire(cls, value: str | None) -> str | None:
        from flows import questionnaire as qn

        if value is not None and value not in qn.catalogue():
            raise ValueError(
                f"unknown questionnaire '{value}' (have: {', '.join(sorted(qn.catalogue()))})"
            )
        return value


@importer
class UnitImporter(Importer):
    """``code,name,kind,parent_code[,questionnaire][,legacy]``; parents may come after children."""

    kind = "units"
    Row = UnitRow

    async def load(self, app, session, rows):
        errors: list[RowError] = []
        existing = {u.code: u for u in (await session.exec(select(Unit))).scalars()}
        seen: dict[str, int] = {}
        for line, row in rows:
            if row.code in existing:
                errors.append(RowError(line, f"unit '{row.code}' already exists"))
            elif row.code in seen:
                errors.append(RowError(line, f"unit '{row.code}' is also on line {seen[row.code]}"))
            seen.setdefault(row.code, line)
        pending = [
            (line, row) for line, row in rows if row.code not in existing and seen[row.code] == line
        ]
        while pending:  # create parents before children, whatever the file order
            progressed = False
            for line, row in list(pending):
                parent = existing.get(row.parent_code) if row.parent_code else None
                if row.parent_code and parent is None:
                    continue
                existing[row.code] = await units.create_unit(
                    session,
                    row.code,
                    row.name,
                    row.kind,
                    parent,
                    questionnaire_code=row.questionnaire or "quick",
                    legacy=row.legacy,
                )
                pending.remove((line, row))
                progressed = True
            if not progressed:
                errors += [
                    RowError(line, f"parent '{row.parent_code}' not found") for line, row in pending
                ]
                break
        return errors, []


# --- procedures ----------------------------------------------------------------------------


class ProcedureRow(RowModel):
    code: str = Code
    name: str = Field(min_length=1, max_length=500)
    field_code: str | None = Field(default=None, max_length=64)
    field_name: str | None = Field(default=None, max_length=255)


@importer
class ProcedureImporter(Importer):
    """``code,name[,field_code][,field_name]``; a new field code needs its name."""

    kind = "procedures"
    Row = ProcedureRow

    async def load(self, app, session, rows):
        errors: list[RowError] = []
        fields = {f.code: f for f in (await session.exec(select(ProcedureField))).scalars()}
        known = set((await session.exec(select(Procedure.code))).scalars())
        for line, row in rows:
            if row.code in known:
                errors.append(RowError(line, f"procedure '{row.code}' already exists"))
                continue
            known.add(row.code)
            field_id = None
            if row.field_code:
                if row.field_code not in fields:
                    if not row.field_name:
                        errors.append(
                            RowError(line, f"new field '{row.field_code}' needs a field_name")
                        )
                        continue
                    fields[row.field_code] = ProcedureField(
                        code=row.field_code, name=row.field_name
                    )
                    session.add(fields[row.field_code])
                    await session.flush()
                field_id = fields[row.field_code].id
            session.add(Procedure(code=row.code, name=row.name, field_id=field_id))
        await session.flush()
        return errors, []


# --- people -----------------------------------------------------------------------------------


class PersonRow(RowModel):
    name: str = Field(min_length=1, max_length=255)
    unit_code: str = Field(min_length=1, max_length=64)
    role: str
    locale: str = "vi"
    phone: str | None = None  # for ZNS reminders outside Zalo's messaging window

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else normalise_phone(value)

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        if value not in people.ROLES:
            raise ValueError(
                "role must be " + ", ".join(people.ROLES[:-1]) + " or " + people.ROLES[-1]
            )
        return value

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        if value not in ("vi", "en"):
            raise ValueError("locale must be vi or en")
        return value


@importer
class PersonImporter(Importer):
    """``name,unit_code,role[,locale,phone]``; prints each person's registration code."""

    kind = "people"
    Row = PersonRow

    async def load(self, app, session, rows):
        from bot.services.invites import issue_registration
        from flows.text import format_code

        errors: list[RowError] = []
        by_code = {u.code: u for u in (await session.exec(select(Unit))).scalars()}
        output = []
        for line, row in rows:
            unit = by_code.get(row.unit_code)
            if unit is None:
                errors.append(RowError(line, f"unit '{row.unit_code}' not found"))
                continue
            pid, code = await issue_registration(
                app, session, name=row.name, role=row.role, unit=unit, locale=row.locale
            )
            if row.phone:
                from bot.services.zns import set_official_phone

                await set_official_phone(app, session, pid, row.phone)
            output.append(f"{format_code(code)}  {row.name} ({row.role}, {unit.code})")
        return errors, output


# --- dossiers -------------------------------------------------------------------------------

_DATE_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y")


class DossierRow(RowModel):
    receipt_code: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:\-]*$"
    )
    unit_code: str = Field(min_length=1, max_length=64)
    procedure_code: str = Field(min_length=1, max_length=64)
    completed_at: datetime  # without an offset: local time (SIPAS_TIMEZONE)
    citizen_channel: Literal["telegram", "zalo"] | None = None
    citizen_user_id: str | None = Field(default=None, max_length=32, pattern=r"^[0-9]+$")
    phone: str | None = None  # the citizen's mobile number, for a ZNS invitation

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else normalise_phone(value)

    @field_validator("completed_at", mode="before")
    @classmethod
    def _when(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = None
            for fmt in _DATE_FORMATS:
                try:
                    parsed = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
        if parsed is None:
            raise ValueError("not a date and time (use 20/11/2025 14:30 or 2025-11-20T14:30+07:00)")
        if not 2000 <= parsed.year <= 2100:
            raise ValueError("must be between the years 2000 and 2100")
        return parsed

    @model_validator(mode="after")
    def _citizen_pair(self) -> DossierRow:
        if (self.citizen_channel is None) != (self.citizen_user_id is None):
            raise ValueError("citizen_channel and citizen_user_id go together")
        return self


@importer
class DossierImporter(Importer):
    """``receipt_code,unit_code,procedure_code,completed_at[,citizen_channel,citizen_user_id,
    phone]``;
    prints each dossier's survey code (a receipt loaded before keeps its code)."""

    kind = "dossiers"
    Row = DossierRow

    async def load(self, app, session, rows):
        from bot.services import intake
        from flows.text import format_code

        errors: list[RowError] = []
        output: list[str] = []
        lookups = intake.Lookups()
        seen: dict[str, int] = {}
        for line, row in rows:
            if row.receipt_code in seen:
                errors.append(
                    RowError(
                        line,
                        f"receipt '{row.receipt_code}' is also on line {seen[row.receipt_code]}",
                    )
                )
                continue
            seen[row.receipt_code] = line
            data = intake.DossierInput(**row.model_dump(exclude={"phone"}), citizen_phone=row.phone)
            try:
                result = await intake.register(app, session, data, lookups)
            except intake.IntakeError as exc:
                errors.append(RowError(line, f"{exc.field.replace('.', '_')}: {exc.message}"))
                continue
            except intake.DossierConflict as exc:
                errors.append(RowError(line, str(exc)))
                continue
            notes = [] if result.created else ["already registered"]
            if result.created and result.invitation != intake.NOT_REQUESTED:
                notes.append(f"invitation {result.invitation.replace('_', ' ')}")
            suffix = f"  ({', '.join(notes)})" if notes else ""
            output.append(
                f"{format_code(result.code)}  {row.receipt_code}  {result.unit_code}{suffix}"
            )
        return errors, output


def print_progress(message: str) -> None:
    print(message, file=sys.stderr)
