"""Paper ballots typed into a workbook (``sipas-bot import ballots FILE.xlsx|.csv``).

Interface (what the CLI calls):

- ``read_rows(path) -> list[list]``: every row of the first sheet (XLSX read with
  python-calamine) or of the CSV file (UTF-8, BOM and ``;`` accepted), as cell values;
- ``check(session, rows, file_hash, tz, today) -> (list[Ballot], list[CellError])``:
  every cell checked; each error names its row and column;
- ``bot.services.ballot_import.import_ballots(app, path, progress, bar=)``: reads,
  checks every cell (``BallotsFailed``, nothing written, when any is bad), then stores
  the ballots not loaded yet (channel ``paper``, with their rollups) on the import
  framework's chunked publishing: a few ballots per short write transaction, each
  ballot whole, so chats served meanwhile keep answering; after a crash the same file
  again loads the rest.

Each ballot gets a key: its ``ballot_id`` with its unit, or else the file's SHA-256 and
its row number; a key already loaded is skipped, so importing a file twice loads nothing
twice. Rows whose first cell starts with ``#`` are notes; empty rows are skipped.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from bot.render.ballot_template import COMMENT, FIXED
from flows import questionnaire as qn
from flows.common import FREE_TEXT_LIMIT
from storage import procedures, units

CHANNEL = "paper"
MAX_BYTES = 50 * 1024 * 1024
PROGRESS_EVERY = 500
Progress = Callable[[int, int], None]  # (ballots stored so far, ballots to store)


@dataclass(frozen=True)
class CellError:
    row: int  # as the spreadsheet numbers it (1: the header)
    column: str  # the letter, e.g. "H"
    key: str  # the column's key, e.g. "E2.3" ("" for a whole row)
    message: str

    def __str__(self) -> str:
        return self.describe(lambda text: text)

    def describe(self, _) -> str:
        """The error as a clerk reads it, in the language of ``_``."""
        if not self.column:
            return _("row {row}: {message}").format(row=self.row, message=self.message)
        where = f"{self.column} ({self.key})" if self.key else self.column
        return _("row {row}, column {column}: {message}").format(
            row=self.row, column=where, message=self.message
        )


class BallotsFailed(Exception):
    """A file with bad cells: nothing was loaded."""

    def __init__(self, errors: list[CellError]) -> None:
        super().__init__(f"{len(errors)} bad cell(s); nothing was loaded")
        self.errors = errors


@dataclass
class Ballot:
    row: int
    key: str
    day: date
    unit_id: int
    procedure_id: int | None
    answers: dict[str, tuple[str, int | None]] = field(default_factory=dict)  # item → (el, v)
    comment: str | None = None


@dataclass(frozen=True)
class BallotResult:
    questionnaire: str
    loaded: int
    already: int  # loaded by an earlier import
    rows: int
    chunks: int = 0  # write transactions
    longest_write: float = 0.0  # seconds of the longest


def column_letter(index: int) -> str:
    """0 → "A", 26 → "AA"."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def read_rows(path: Path) -> list[list]:
    """The cells of the first sheet (XLSX, XLS, ODS) or of a CSV file, row by row."""
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"{path.name}: larger than {MAX_BYTES // (1024 * 1024)} MB")
    if path.suffix.lower() == ".csv":
        text = path.read_bytes().decode("utf-8-sig")
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t") if text.strip() else None
        return [list(r) for r in csv.reader(io.StringIO(text), dialect or csv.excel)]
    from python_calamine import CalamineWorkbook

    workbook = CalamineWorkbook.from_path(str(path))
    return workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()


def _day(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _level(value, _) -> int | str | None:
    """1–5, None for empty, or the error text."""
    if _blank(value):
        return None
    if isinstance(value, bool):
        return _("not a level from 1 to 5")
    if isinstance(value, int | float) and float(value).is_integer() and 1 <= value <= 5:
        return int(value)
    text = _text(value)
    if text.isdigit() and 1 <= int(text) <= 5:
        return int(text)
    return _(
        "“{value}” is not a level from 1 to 5 (leave the cell empty when not answered)"
    ).format(value=text[:20])


def header(rows: list[list], _) -> tuple[list[str], qn.Questionnaire | None, list[CellError]]:
    """The column keys of row 1, the questionnaire whose items they name, and errors."""
    if not rows:
        return [], None, [CellError(1, "A", "", _("the file is empty"))]
    keys = [
        _text(c).lower() if _text(c).lower() in (*FIXED, COMMENT) else _text(c) for c in rows[0]
    ]
    errors = [
        CellError(1, column_letter(n), "", _("the column “{key}” is missing").format(key=k))
        for n, k in enumerate(("ballot_id", "date", "unit"))
        if k not in keys
    ]
    items = [k for k in keys if k and k not in (*FIXED, COMMENT)]
    best = None
    for q in qn.catalogue().values():
        codes = {item.code for item in q.items}
        if items and set(items) <= codes and (best is None or len(codes) < len(best.items)):
            best = q
    if best is None:
        errors.append(CellError(1, "A", "", _("the item columns match no questionnaire")))
    for n, key in enumerate(keys):
        if (
            key
            and best is not None
            and key not in (*FIXED, COMMENT)
            and key not in {i.code for i in best.items}
        ):
            errors.append(CellError(1, column_letter(n), key, _("unknown column")))
        if key and keys.count(key) > 1 and keys.index(key) != n:
            errors.append(CellError(1, column_letter(n), key, _("the column appears twice")))
    return keys, best, errors


async def check(
    session, rows: list[list], file_hash: str, today: date, _
) -> tuple[qn.Questionnaire | None, list[Ballot], list[CellError]]:
    """Every data row checked; the ballots and every bad cell."""
    keys, q, errors = header(rows, _)
    if q is None or errors:
        return q, [], errors
    col = {k: n for n, k in enumerate(keys) if k}
    items = {item.code: item for item in q.items}
    unit_cache: dict[str, int | None] = {}
    proc_cache: dict[str, int | None] = {}
    seen: dict[str, int] = {}
    ballots: list[Ballot] = []
    for number, row in enumerate(rows[1:], 2):
        cells = {k: (row[n] if n < len(row) else None) for k, n in col.items()}
        if _text(row[0] if row else "").startswith("#"):
            continue
        if all(_blank(cells[k]) for k in col if k != "unit"):
            continue  # an empty row (the template may have its unit filled in)

        def bad(key: str, message: str, number: int = number) -> None:
            errors.append(CellError(number, column_letter(col[key]), key, message))

        day = _day(cells["date"])
        if day is None:
            bad(
                "date",
                _("a date is needed (dd/mm/yyyy)") if _blank(cells["date"]) else _("not a date"),
            )
        elif day > today or day.year < 2000:
            bad("date", _("{day} cannot be the date of a ballot").format(day=f"{day:%d/%m/%Y}"))
        code = _text(cells["unit"])
        if code not in unit_cache:
            found = await units.by_code(session, code) if code else None
            unit_cache[code] = found.id if found else None
        if unit_cache[code] is None:
            bad(
                "unit",
                _("unknown unit “{code}”").format(code=code[:40])
                if code
                else _("a unit code is needed"),
            )
        proc = _text(cells.get("procedure"))
        if proc and proc not in proc_cache:
            proc_cache[proc] = await procedures.by_code(session, proc)
        if proc and proc_cache[proc] is None:
            bad("procedure", _("unknown procedure “{code}”").format(code=proc[:40]))
        answers = {}
        for code_, item in items.items():
            if code_ not in col:
                continue
            level = _level(cells[code_], _)
            if isinstance(level, str):
                bad(code_, level)
            else:
                answers[code_] = (item.element, level)
        if all(v is None for _e, v in answers.values()):
            errors.append(CellError(number, "", "", _("no question is answered")))
        comment = _text(cells.get(COMMENT)) or None
        if comment and len(comment) > FREE_TEXT_LIMIT:
            bad(COMMENT, _("longer than {limit} characters").format(limit=FREE_TEXT_LIMIT))
        ballot_id = _text(cells["ballot_id"])
        key = f"id:{code.upper()}:{ballot_id}" if ballot_id else f"file:{file_hash[:32]}:{number}"
        if ballot_id and key in seen:
            bad(
                "ballot_id",
                _("the ballot number {id} is also on row {row}").format(
                    id=ballot_id, row=seen[key]
                ),
            )
        seen.setdefault(key, number)
        if day is not None and unit_cache[code] is not None:
            ballots.append(
                Ballot(
                    number, key[:128], day, unit_cache[code], proc_cache.get(proc), answers, comment
                )
            )
    return q, ballots, errors


def read_file(path: Path) -> tuple[list[list], str]:
    """``read_rows(path)`` and the file's SHA-256 (ballots without a number are keyed by it)."""
    return read_rows(path), hashlib.sha256(path.read_bytes()).hexdigest()
