"""The import pipeline: read, check every row, then publish in short transactions.

See the package docstring (``bot.services.imports``) for the plug-in API.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.app import App
from bot.services.imports.progress import Progress, Silent
from bot.services.imports.reading import FileProblem, open_table
from flows.i18n import N_, Translator, translator
from storage import bulk

CHECK_BATCH = 1000  # valid rows handed to ``Importer.check`` at a time
HOLD_TARGET = 0.05  # seconds a publishing transaction should hold SQLite's write lock
# PostgreSQL locks rows, not the database: longer transactions block no webhook, and
# fewer of them cost fewer round trips.
HOLD_TARGET_POSTGRES = 0.5
MIN_CHUNK, MAX_CHUNK = 50, 20_000
# SQLite, after each chunk: the checkpoint (outside the write lock, so the log stays one
# chunk long and no webhook's commit has to copy it), then a breath for waiting writers.
CHECKPOINT_EVERY = 1
PAUSE = 0.005


@dataclass(frozen=True)
class RowError:
    """One problem: its line (1 is the header, 0 the whole file), column and text."""

    line: int
    message: str  # already in the user's language
    column: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.column + ': ' if self.column else ''}{self.message}"


class ImportFailed(Exception):
    """The file was refused; nothing of it was loaded."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} bad row(s); nothing was loaded")
        self.errors = errors


class ImportStopped(ImportFailed):
    """Publishing stopped at a row the database refused (another writer got there first);
    the ``loaded`` rows before it are in the database, each one whole."""

    def __init__(self, errors: list[RowError], loaded: int) -> None:
        super().__init__(errors)
        self.loaded = loaded


class RowProblem(ValueError):
    """Raised by row validators: an ``N_`` message and its fields, translated when shown."""

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message.format(**fields))
        self.message = message
        self.fields = fields


class RowsRefused(Exception):
    """Raised by ``Importer.write``: the chunk is rolled back and publishing stops."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} row(s) refused")
        self.errors = errors


@dataclass
class Written:
    """What one chunk wrote: lines to show, rows created, rows that were there already."""

    lines: list[str] = field(default_factory=list)
    created: int = 0
    existing: int = 0


@dataclass
class ImportResult:
    kind: str
    loaded: int  # rows created
    output: list[str] = field(default_factory=list)  # lines to show (e.g. codes issued)
    existing: int = 0  # rows that were in the database already (nothing written)
    rows: int = 0  # rows in the file
    longest_write: float = 0.0  # seconds of the longest publishing transaction
    chunks: int = 0  # publishing transactions


class RowModel(BaseModel):
    """Base for row models: trimmed strings, unknown columns refused, empty cells None."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


class Importer:
    """One kind of import. Subclass, set ``kind``, ``label`` and ``Row``, register with
    ``@importer``; override the hooks below (see the package docstring)."""

    kind: ClassVar[str]
    label: ClassVar[str] = ""  # N_("units"): the kind's name in messages
    Row: ClassVar[type[BaseModel]]
    chunk_size: ClassVar[int] = 200  # first chunk; later ones adapt to HOLD_TARGET

    def __init__(self, app: App, t: Translator) -> None:
        self.app, self.t, self._ = app, t, t.gettext
        self._rows: list[tuple[int, BaseModel]] = []

    async def prepare(self, session: AsyncSession) -> None:
        """Read what checking needs, once (a read transaction)."""

    async def check(self, session: AsyncSession, rows: list[tuple[int, Any]]) -> list[RowError]:
        """Check a batch of valid rows against the database and the rows before (a read
        transaction; never write). Keep what ``plan`` needs; return the problems."""
        self._rows.extend(rows)
        return []

    async def finish_check(self, session: AsyncSession) -> list[RowError]:
        """Problems only the whole file shows (e.g. a parent that never came)."""
        return []

    def plan(self) -> Sequence[Any]:
        """The items to publish, in order (after a clean check)."""
        return [self._rows] if self._rows else []

    def weight(self, item: Any) -> int:
        """How many rows of the file an item stands for (for progress)."""
        return len(item) if isinstance(item, list) else 1

    def build(self, items: Sequence[Any]) -> Any:
        """CPU work for a chunk, before its transaction opens (codes, hashes, texts)."""
        return items

    async def write(self, session: AsyncSession, built: Any) -> Written:
        """Write one chunk in the caller's (short) transaction; ``RowsRefused`` rolls it
        back. The default runs ``load`` on all rows at once (small files only)."""
        rows = [row for item in built for row in item]
        errors, output = await self.load(self.app, session, rows)
        if errors:
            raise RowsRefused(errors)
        return Written(output, len(rows), 0)

    async def load(
        self, app: App, session: AsyncSession, rows: list[tuple[int, Any]]
    ) -> tuple[list[RowError], list[str]]:
        """Simple importers: write all rows; return (problems, lines to show)."""
        raise NotImplementedError


IMPORTERS: dict[str, type[Importer]] = {}


def importer(cls: type[Importer]) -> type[Importer]:
    """Register an importer class (decorator)."""
    IMPORTERS[cls.kind] = cls
    return cls


# --- messages ------------------------------------------------------------------------

_PYDANTIC = {
    "string_too_long": N_("at most {max_length} characters"),
    "string_too_short": N_("must not be empty"),
    "string_pattern_mismatch": N_("contains characters that are not allowed here"),
    "literal_error": N_("must be one of: {expected}"),
    "bool_parsing": N_("must be yes or no (true/false, 1/0)"),
    "int_parsing": N_("must be a whole number"),
    "greater_than_equal": N_("must be at least {ge}"),
    "less_than_equal": N_("must be at most {le}"),
}


def problem_text(t: Translator, problem: dict) -> str:
    """A pydantic error of one cell in the user's language, without pydantic's wording."""
    ctx = problem.get("ctx") or {}
    error = ctx.get("error")
    if isinstance(error, RowProblem):
        return t.gettext(error.message).format(**error.fields)
    if problem.get("input") is None:
        return t.gettext("must not be empty")
    template = _PYDANTIC.get(problem["type"])
    if template:
        values = {k: (t.number(v) if isinstance(v, int) else v) for k, v in ctx.items()}
        if "expected" in values:  # pydantic's "'a', 'b' or 'c'"
            values["expected"] = str(values["expected"]).replace(" or ", ", ")
        return t.gettext(template).format(**values)
    if error is not None:
        return str(error)
    return problem["msg"]


def describe(t: Translator, error: RowError) -> str:
    """``line 4, column unit_code: …`` in the user's language."""
    _ = t.gettext
    if not error.line:
        return error.message
    if error.column:
        return _("line {line}, column {column}: {message}").format(
            line=error.line, column=error.column, message=error.message
        )
    return _("line {line}: {message}").format(line=error.line, message=error.message)


def _file_error(t: Translator, problem: FileProblem) -> RowError:
    return RowError(problem.line, t.gettext(problem.message).format(**problem.fields))


# --- the pipeline ----------------------------------------------------------------------


async def run_import(
    app: App,
    kind: str,
    path: Path,
    *,
    progress: Progress | None = None,
    on_output: Callable[[list[str]], None] | None = None,
) -> ImportResult:
    """Check the whole file, then publish it chunk by chunk; ``ImportFailed`` (nothing
    loaded) lists every bad row. Output lines go to ``on_output`` as each chunk commits
    (else into the result)."""
    t = translator(app.settings.default_locale, app.settings.timezone)
    _ = t.gettext
    progress = progress or Silent()
    imp = IMPORTERS[kind](app, t)
    try:
        table = open_table(path)
    except FileProblem as problem:
        raise ImportFailed([_file_error(t, problem)]) from None
    fields = imp.Row.model_fields
    required = {name for name, f in fields.items() if f.is_required()}
    errors = [
        RowError(1, _("unknown column '{column}'").format(column=h))
        for h in table.header
        if h not in fields
    ]
    errors += [
        RowError(1, _("missing column '{column}'").format(column=c))
        for c in sorted(required - set(table.header))
    ]
    if errors:
        raise ImportFailed(errors)

    async with app.db.read() as session:
        await imp.prepare(session)
    rows, errors = await _check(imp, t, table, progress)
    if errors and type(imp).write is Importer.write and imp._rows:
        errors += await _dry_run(imp)
    if errors:
        raise ImportFailed(sorted(errors, key=lambda e: e.line))
    if not rows:
        raise ImportFailed([RowError(1, _("no rows to load"))])
    result = ImportResult(kind, 0, rows=rows)
    await _publish(app, imp, t, progress, result, on_output)
    return result


async def _check(imp: Importer, t: Translator, table, progress: Progress):
    progress.start(t.gettext("Checking"), table.estimate)
    errors: list[RowError] = []
    batch: list[tuple[int, Any]] = []
    width, count, pending = len(table.header), 0, 0
    model = imp.Row

    async def flush() -> None:
        nonlocal batch, pending
        if batch:
            async with imp.app.db.read() as session:
                errors.extend(await imp.check(session, batch))
        progress.advance(pending)
        batch, pending = [], 0

    try:
        for line, cells in table.rows:
            count += 1
            pending += 1
            if len(cells) != width:
                errors.append(
                    RowError(
                        line,
                        t.gettext("{n} cells, the header has {width}").format(
                            n=len(cells), width=width
                        ),
                    )
                )
            else:
                try:
                    raw = dict(zip(table.header, cells, strict=True))
                    batch.append((line, model.model_validate(raw)))
                except ValidationError as exc:
                    errors.extend(_row_errors(t, line, exc))
            if pending >= CHECK_BATCH:
                await flush()
    except FileProblem as problem:
        errors.append(_file_error(t, problem))
    await flush()
    async with imp.app.db.read() as session:
        errors.extend(await imp.finish_check(session))
    progress.finish()
    return count, errors


class _Rollback(Exception):
    pass


async def _dry_run(imp: Importer) -> list[RowError]:
    """Simple importers find clashes only by writing: write the valid rows, roll back."""
    found: list[RowError] = []
    try:
        async with imp.app.db.write() as session:
            try:
                await imp.write(session, imp.plan())
            except RowsRefused as refused:
                found = refused.errors
            raise _Rollback
    except _Rollback:
        pass
    return found


def _row_errors(t: Translator, line: int, exc: ValidationError) -> list[RowError]:
    out = []
    for problem in exc.errors(include_url=False):
        column = ".".join(str(p) for p in problem["loc"]) or None
        out.append(RowError(line, problem_text(t, problem), column))
    return out


async def _publish(app, imp: Importer, t: Translator, progress, result, on_output) -> None:
    items = imp.plan()
    progress.start(t.gettext("Loading"), sum(imp.weight(i) for i in items))
    size, position = max(imp.chunk_size, 1), 0
    target = HOLD_TARGET if app.db.is_sqlite else HOLD_TARGET_POSTGRES
    while position < len(items):
        part = items[position : position + size]
        built = imp.build(part)
        began = time.monotonic()
        try:
            async with app.db.write() as session:
                await bulk.tune_for_bulk(session)
                written = await imp.write(session, built)
        except RowsRefused as refused:
            done = result.loaded + result.existing
            errors = sorted(refused.errors, key=lambda e: e.line)
            progress.finish()
            if not done:
                raise ImportFailed(errors) from None
            raise ImportStopped(errors, done) from None
        held = time.monotonic() - began
        result.longest_write = max(result.longest_write, held)
        result.chunks += 1
        result.loaded += written.created
        result.existing += written.existing
        if on_output is not None:
            on_output(written.lines)
        else:
            result.output.extend(written.lines)
        progress.advance(sum(imp.weight(i) for i in part))
        position += len(part)
        # Keep each transaction near its target whatever the machine and the database.
        if held > 0:
            size = int(min(max(size * target / held, size / 2, MIN_CHUNK), size * 2))
            size = max(MIN_CHUNK, min(size, MAX_CHUNK))
        if app.db.is_sqlite:
            if result.chunks % CHECKPOINT_EVERY == 0:
                await bulk.checkpoint(app.db.engine)
            await asyncio.sleep(PAUSE)
        else:
            await asyncio.sleep(0)
    await bulk.checkpoint(app.db.engine)
    progress.finish()
