"""Reading import files as a stream of rows, whatever their format.

A reader turns a file into a ``Table``: its header (column names, trimmed and lower
case) and an iterator of ``(line number, cells)`` that reads the file as it goes.
Readers are chosen by the file's suffix (``READERS``); ``.csv`` (and ``.txt``) are here,
another module may add ``.xlsx``. File-level problems raise ``FileProblem``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from flows.i18n import N_

MAX_BYTES = 50 * 1024 * 1024


class FileProblem(Exception):
    """The file as a whole cannot be read; ``message`` is an ``N_`` text with fields."""

    def __init__(self, message: str, line: int = 0, **fields: object) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.fields = fields


@dataclass
class Table:
    """A file's header and its rows, read lazily (``rows`` is consumed once)."""

    header: list[str]
    rows: Iterator[tuple[int, list[str]]]  # (line number, cells); empty lines skipped
    estimate: int  # about how many rows (for a progress bar)


Reader = Callable[[Path], Table]
READERS: dict[str, Reader] = {}


def reader(*suffixes: str) -> Callable[[Reader], Reader]:
    """Register a reader for file suffixes (``@reader(".xlsx")``)."""

    def register(fn: Reader) -> Reader:
        for suffix in suffixes:
            READERS[suffix.lower()] = fn
        return fn

    return register


def open_table(path: Path) -> Table:
    """The table of ``path`` through the reader of its suffix (CSV when unknown)."""
    if path.stat().st_size > MAX_BYTES:
        raise FileProblem(N_("the file is larger than {mb} MB"), mb=MAX_BYTES // (1024 * 1024))
    read = READERS.get(path.suffix.lower(), READERS[".csv"])
    table = read(path)
    seen: dict[str, int] = {}
    for position, name in enumerate(table.header, 1):
        if name in seen:
            raise FileProblem(
                N_("column '{column}' appears twice in the header (columns {first} and {second})"),
                line=1,
                column=name,
                first=seen[name],
                second=position,
            )
        seen[name] = position
    return table


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            count += block.count(b"\n")
    return count


@reader(".csv", ".txt")
def read_csv(path: Path) -> Table:
    """A CSV file as Excel saves it: UTF-8 with or without a BOM, comma or semicolon."""
    fh = path.open(encoding="utf-8-sig", newline="")
    try:
        first = fh.readline()
    except UnicodeDecodeError as exc:
        fh.close()
        raise FileProblem(
            N_("the file is not UTF-8 text ({reason}); save it as CSV UTF-8"),
            line=1,
            reason=exc.reason,
        ) from None
    if not first.strip():
        fh.close()
        raise FileProblem(N_("the file is empty"), line=1)
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        header = [h.strip().lower() for h in next(csv.reader([first], delimiter=delimiter))]
    except csv.Error as exc:
        fh.close()
        raise FileProblem(N_("unreadable CSV: {reason}"), line=1, reason=str(exc)) from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        records = csv.reader(fh, delimiter=delimiter)
        try:
            for record in records:
                if any(cell.strip() for cell in record):
                    yield records.line_num + 1, record
        except UnicodeDecodeError as exc:
            raise FileProblem(
                N_("the file is not UTF-8 text ({reason}); save it as CSV UTF-8"),
                line=records.line_num + 2,
                reason=exc.reason,
            ) from None
        except csv.Error as exc:
            raise FileProblem(
                N_("unreadable CSV: {reason}"), line=records.line_num + 1, reason=str(exc)
            ) from None
        finally:
            fh.close()

    return Table(header, rows(), max(_count_lines(path) - 1, 0))
