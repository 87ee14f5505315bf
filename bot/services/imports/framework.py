"""What an import kind is made of: its rows, its ``Importer``, its errors and results.

The pipeline that runs them is ``bot.services.imports.pipeline``; the package docstring
(``bot.services.imports``) has the plug-in API.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.app import App
from bot.services.imports.reading import FileProblem
from flows.i18n import N_, Translator
from flows.phone import normalise_phone


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
    holds: list[tuple[int, float]] = field(default_factory=list)  # each publishing
    # transaction's (rows, seconds)

    @property
    def chunks(self) -> int:
        """Publishing transactions."""
        return len(self.holds)

    @property
    def longest_write(self) -> float:
        """Seconds of the longest publishing transaction."""
        return max((held for _rows, held in self.holds), default=0.0)


class RowModel(BaseModel):
    """Base for row models: trimmed strings, unknown columns refused, empty cells None."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


def mobile_number(value: str | None) -> str | None:
    """A phone cell: a Vietnamese mobile number, normalised (``flows.phone``), or None."""
    if value is None:
        return None
    try:
        return normalise_phone(value)
    except ValueError:
        raise RowProblem(N_("not a Vietnamese mobile number")) from None


# The phone column of any kind (dossiers, people): ``phone: PhoneCell = None``.
PhoneCell = Annotated[str | None, AfterValidator(mobile_number)]


class Importer:
    """One kind of import. Subclass, set ``kind``, ``label`` and ``Row``, register with
    ``@importer``; override the hooks below (see the package docstring)."""

    kind: ClassVar[str]
    label: ClassVar[str] = ""  # N_("units"): the kind's name in messages
    Row: ClassVar[type[BaseModel]]
    chunk_size: ClassVar[int] = 200  # first chunk; later ones adapt to HOLD_TARGET
    min_chunk: ClassVar[int] = 50  # fewer for kinds whose rows are slow to write
    # PostgreSQL transactions' target (``pipeline.HOLD_TARGET_POSTGRES`` when None):
    # shorter for kinds that update rows live requests update too (rollups).
    hold_postgres: ClassVar[float | None] = None
    # Rows per ``check`` call (``pipeline.CHECK_BATCH`` when None): more for kinds whose
    # check is a few set-wise reads, each batch a read transaction of its own.
    check_batch: ClassVar[int | None] = None
    # PostgreSQL: may two chunks be written at once, by two transactions (the next one
    # begun while the last finishes)? Only when no chunk needs what an earlier one writes
    # and concurrent chunks serialise what they share through the database's locks.
    concurrent_chunks: ClassVar[bool] = False

    def __init__(self, app: App, t: Translator) -> None:
        self.app, self.t, self._ = app, t, t.gettext
        self._rows: list[tuple[int, BaseModel]] = []

    def row_reader(self, header: list[str]) -> Callable[[list[str]], Any] | None:
        """Optional fast path of ``Row``: a function of a row's cells (in ``header``'s
        order) that returns what ``Row`` would make of valid cells, or None to have
        ``Row`` validate them (and name their problems). None: ``Row`` for every row."""
        return None

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
        back. Every kind writes its own."""
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


def file_error(t: Translator, problem: FileProblem) -> RowError:
    """A problem of the whole file as a ``RowError``."""
    return RowError(problem.line, t.gettext(problem.message).format(**problem.fields))
