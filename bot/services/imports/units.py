"""Importers of the organisation's tree and catalogue: ``units`` and ``procedures``.

A row identical to what the database holds already is reported as existing and left as
it is; a row that clashes with it (same code, other details) is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator

from bot.services.imports.framework import (
    Importer,
    RowError,
    RowModel,
    RowProblem,
    RowsRefused,
    Written,
    importer,
)
from flows.i18n import N_
from storage import bulk
from storage.models import Procedure, ProcedureField, Unit

Code = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def also_on(importer_: Importer, column: str, value: str, line: int, first: int) -> RowError:
    return RowError(
        line,
        importer_._("'{value}' is also on line {first}").format(value=value, first=first),
        column,
    )


# --- units -------------------------------------------------------------------------------


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
            raise RowProblem(
                N_("unknown questionnaire '{value}' (there are: {known})"),
                value=value,
                known=", ".join(sorted(qn.catalogue())),
            )
        return value


@importer
class UnitImporter(Importer):
    """``code,name,kind,parent_code[,questionnaire][,legacy]``; parents may come after
    children."""

    kind = "units"
    label = N_("units")
    Row = UnitRow

    async def prepare(self, session) -> None:
        """The units there are."""
        self.known = {u.code: u for u in await bulk.all_units(session)}
        self.by_id = {u.id: u for u in self.known.values()}
        self.seen: dict[str, tuple[int, UnitRow]] = {}
        self.existing_lines: list[int] = []
        self.line_of: dict[str, int] = {}

    async def check(self, session, rows) -> list[RowError]:
        """Codes repeated in the file, and units that exist with other details."""
        errors = []
        for line, row in rows:
            if row.code in self.seen:
                errors.append(also_on(self, "code", row.code, line, self.seen[row.code][0]))
                continue
            self.seen[row.code] = (line, row)
            self.line_of[row.code] = line
            old = self.known.get(row.code)
            if old is None:
                continue
            parent = self.by_id.get(old.parent_id)
            same = (
                old.name == row.name
                and old.kind == row.kind
                and (parent.code if parent else None) == row.parent_code
                and old.questionnaire_code == (row.questionnaire or "quick")
                and bool(old.legacy) == row.legacy
            )
            if not same:
                errors.append(
                    RowError(
                        line,
                        self._("unit '{code}' exists already with other details").format(
                            code=row.code
                        ),
                        "code",
                    )
                )
            self.existing_lines.append(line)
        return errors

    async def finish_check(self, session) -> list[RowError]:
        """Order new units parents first; a parent that is nowhere is an error."""
        depth: dict[str, int] = {code: 0 for code in self.known}
        pending = {c: lr for c, lr in self.seen.items() if c not in self.known}
        self.order: list[tuple[int, int, UnitRow]] = []
        level = 0
        while pending:
            level += 1
            ready = [
                (c, lr)
                for c, lr in pending.items()
                if lr[1].parent_code is None or depth.get(lr[1].parent_code, level) < level
            ]
            if not ready:
                break
            for code, (line, row) in ready:
                depth[code] = level
                self.order.append((level, line, row))
                del pending[code]
        self.order.sort(key=lambda x: (x[0], x[1]))
        return [
            RowError(
                line,
                self._("parent '{code}' not found").format(code=row.parent_code),
                "parent_code",
            )
            for line, row in sorted(pending.values(), key=lambda lr: lr[0])
        ]

    def plan(self) -> list[Any]:
        """Existing rows (to report), then new units by depth."""
        return [("existing", line) for line in self.existing_lines] + [
            ("new", row) for _level, _line, row in self.order
        ]

    async def write(self, session, built) -> Written:
        """Insert a level at a time (a parent before its children), then the paths."""
        written = Written(existing=sum(1 for tag, _ in built if tag == "existing"))
        rows = {row.code: row for tag, row in built if tag == "new"}
        while rows:
            level = [
                r for r in rows.values() if r.parent_code is None or r.parent_code in self.known
            ]
            values = [
                {
                    "code": r.code,
                    "name": r.name,
                    "kind": r.kind,
                    "parent_id": self.known[r.parent_code].id if r.parent_code else None,
                    "path": "",
                    "questionnaire_code": r.questionnaire or "quick",
                    "legacy": r.legacy,
                    "created_at": self.app.now(),
                }
                for r in level
            ]
            ids = await bulk.insert_new(session, Unit, values, "code")
            if not level or len(ids) != len(level):
                raise lost_race(self, [r.code for r in level if r.code not in ids] or list(rows))
            paths = {}
            for r in level:
                parent = self.known.get(r.parent_code) if r.parent_code else None
                path = f"{parent.path if parent else '/'}{ids[r.code]}/"
                paths[ids[r.code]] = path
                self.known[r.code] = _Known(ids[r.code], r.code, path)
                del rows[r.code]
            await bulk.set_unit_paths(session, paths)
            written.created += len(level)
        return written


@dataclass(frozen=True)
class _Known:
    id: int
    code: str
    path: str


# --- procedures ----------------------------------------------------------------------------


class ProcedureRow(RowModel):
    code: str = Code
    name: str = Field(min_length=1, max_length=500)
    field_code: str | None = Field(default=None, max_length=64)
    field_name: str | None = Field(default=None, max_length=255)


@importer
class ProcedureImporter(Importer):
    """``code,name[,field_code][,field_name]``; a new field code needs its name (on one of
    its rows)."""

    kind = "procedures"
    label = N_("procedures")
    Row = ProcedureRow

    async def prepare(self, session) -> None:
        """The fields and procedures there are."""
        fields, procedures = await bulk.all_procedures(session)
        self.fields = {f.code: f.id for f in fields}
        field_codes = {f.id: f.code for f in fields}
        self.known = {p.code: (p.name, field_codes.get(p.field_id)) for p in procedures}
        self.seen: dict[str, int] = {}
        self.new_fields: dict[str, str] = {}  # code -> name
        self.items: list[tuple[str, Any]] = []
        self.unnamed: list[tuple[int, str]] = []
        self.line_of: dict[str, int] = {}

    async def check(self, session, rows) -> list[RowError]:
        """Repeated codes, procedures that exist with other details, new field names."""
        errors = []
        for line, row in rows:
            if row.code in self.seen:
                errors.append(also_on(self, "code", row.code, line, self.seen[row.code]))
                continue
            self.seen[row.code] = line
            self.line_of[row.code] = line
            if row.field_code and row.field_code not in self.fields:
                if row.field_name:
                    self.new_fields.setdefault(row.field_code, row.field_name)
                else:
                    self.unnamed.append((line, row.field_code))
            if row.code in self.known:
                if self.known[row.code] != (row.name, row.field_code):
                    errors.append(
                        RowError(
                            line,
                            self._("procedure '{code}' exists already with other details").format(
                                code=row.code
                            ),
                            "code",
                        )
                    )
                self.items.append(("existing", row))
            else:
                self.items.append(("new", row))
        return errors

    async def finish_check(self, session) -> list[RowError]:
        """A new field code must be named on at least one row."""
        return [
            RowError(
                line,
                self._("new field '{code}' needs a field_name").format(code=code),
                "field_name",
            )
            for line, code in self.unnamed
            if code not in self.new_fields
        ]

    def plan(self) -> list[Any]:
        """New fields first, then the procedures in file order."""
        return [("field", (c, n)) for c, n in self.new_fields.items()] + self.items

    async def write(self, session, built) -> Written:
        """One statement for the fields, one for the procedures."""
        fields = [{"code": v[0], "name": v[1]} for tag, v in built if tag == "field"]
        self.fields.update(await bulk.insert_new(session, ProcedureField, fields, "code"))
        new = [row for tag, row in built if tag == "new"]
        values = [
            {
                "code": r.code,
                "name": r.name,
                "field_id": self.fields[r.field_code] if r.field_code else None,
            }
            for r in new
        ]
        created = await bulk.insert_new(session, Procedure, values, "code")
        if len(created) != len(new):
            raise lost_race(self, [r.code for r in new if r.code not in created])
        return Written(created=len(new), existing=sum(1 for tag, _ in built if tag == "existing"))

    def weight(self, item: Any) -> int:
        """A new field is not a row of the file."""
        return 0 if item[0] == "field" else 1


def lost_race(imp: Importer, codes: list[str]) -> RowsRefused:
    """The rows another writer created between the check and this chunk."""
    return RowsRefused(
        [
            RowError(
                imp.line_of.get(code, 0),
                imp._("'{code}' was created by someone else meanwhile").format(code=code),
                "code",
            )
            for code in codes
        ]
    )
