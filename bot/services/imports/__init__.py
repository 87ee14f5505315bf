"""Bulk loading from files (``sipas-bot import KIND FILE``).

How an import runs
------------------
1. **Read** (``reading``): the file streams through a reader chosen by its suffix (CSV
   as Excel saves it: UTF-8 with or without BOM, comma or semicolon). A header that
   names a column twice, unknown or missing columns refuse the file at once.
2. **Check** the whole file, writing nothing: each row through the kind's ``Row``
   model (or first its ``row_reader``, a plain function for valid rows, when the kind
   has one: dossiers), then in batches through ``Importer.check`` (reads only: codes
   known, clashes with the database, repeats within the file), then ``finish_check``.
   Every bad row is named (line, column, reason, in the deployment's language) and, if
   there is any, ``ImportFailed`` is raised: **a bad file loads nothing**.
3. **Publish** the checked rows in chunks, one short write transaction each, sized to
   hold SQLite's write lock about ``HOLD_TARGET`` (50 ms; then a checkpoint and at least
   5 ms without the lock) so webhooks served meanwhile keep answering, and on
   PostgreSQL (row locks only) about 0.5 s; CPU work (codes, hashes, encryption) happens
   before the transaction, and SQLite's checkpoint runs in a worker thread while the
   next chunk is built. On PostgreSQL a kind whose chunks are independent
   (``Importer.concurrent_chunks``: dossiers, unless ZNS invitations are on) has two
   chunks in flight once the first has committed: the database writes one while this
   process builds and sends the next;
   what they share (a citizen's invitation cooldown, the rollup rows) goes through the
   database's locks, and the output still comes in file order. The cyclic garbage
   collector is off for the whole import (``pipeline``): its passes over a large file's
   objects cost more than the load.
   Rows that are in the database already with the same details are reported as such
   and written again never.

After a crash (kill -9, power loss) during publishing, the chunks committed so far are
in the database, each row whole (a dossier with its code and its invitation, never one
without the other), and nothing of the rest. Running the same file again loads the
rest and reports the first part as already there (on PostgreSQL, with two chunks in
flight, the later may have committed and the earlier not): dossiers print their same codes
again; people loaded before the crash get no new code (their codes were printed as
each chunk committed; a code lost with the terminal is replaced with ``person add``).
If another writer creates one of the rows between check and publish (the integration
API registering the same receipt), ``ImportStopped`` says which, after how many loaded
rows; running the file again finishes it.

Plug-in API (how to add a kind, e.g. ``ballots``)
-------------------------------------------------
::

    from bot.services.imports import Importer, RowModel, RowError, Written, importer
    from bot.services.imports.reading import reader, Table

    class BallotRow(RowModel):           # one row; pydantic, cells trimmed, "" is None
        unit_code: str
        q1: int | None = None             # raise RowProblem(N_("…"), **fields) in validators

    @importer
    class BallotImporter(Importer):
        kind = "ballots"                  # the CLI word: sipas-bot import ballots FILE
        label = N_("ballots")             # the kind in messages
        Row = BallotRow
        chunk_size = 200                  # first chunk; later ones adapt

        def row_reader(self, header): ...              # optional: cells -> row | None
        async def prepare(self, session): ...          # read lookups once (read-only)
        async def check(self, session, rows): ...      # [(line, BallotRow)] -> [RowError]
        async def finish_check(self, session): ...     # whole-file problems -> [RowError]
        def plan(self): ...                            # items to publish, in order
        def build(self, items): ...                    # CPU work outside the transaction
        async def write(self, session, built): ...     # -> Written(lines, created, existing)

Messages are translated with ``self._`` (the deployment's language); ``RowError(line,
message, column)``. ``write`` raises ``RowsRefused`` to roll its chunk back and stop.
Every kind, the deadlines importer included (``bot.services.deadlines``: ``prepare``,
``check``, ``plan``, ``write``), checks the whole file before it writes anything.
``@reader(".xlsx")`` on a function ``Path -> Table`` (header, rows as ``(line,
cells)``, an estimate of the row count) adds a file format to every kind.

Paper ballots (``bot.services.ballot_import``) have their own reader and checks and use
``pipeline.publish`` for the same chunked writing.

Entry points: ``run_import`` (returns an ``ImportResult``, raises ``ImportFailed``) and
``cli_import`` (everything the command prints, with its progress bar; returns the exit
code).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO

from bot.core.app import App
from bot.services.imports import dossiers, people, units  # noqa: F401  (register the kinds)
from bot.services.imports.framework import (
    IMPORTERS,
    Importer,
    ImportFailed,
    ImportResult,
    ImportStopped,
    RowError,
    RowModel,
    RowProblem,
    RowsRefused,
    Written,
    describe,
    importer,
)
from bot.services.imports.pipeline import run_import
from bot.services.imports.progress import progress_for
from bot.services.imports.units import Code
from flows.i18n import translator

SHOWN_ERRORS = 200
NICENESS = 10  # added to the import command's CPU priority (the server keeps its own)

__all__ = [
    "IMPORTERS",
    "Code",
    "ImportFailed",
    "ImportResult",
    "ImportStopped",
    "Importer",
    "RowError",
    "RowModel",
    "RowProblem",
    "RowsRefused",
    "Written",
    "cli_import",
    "import_csv",
    "importer",
    "run_import",
]


async def import_csv(app: App, kind: str, path: Path, progress=None) -> ImportResult:
    """``run_import`` without a progress display (tests, scripts)."""
    return await run_import(app, kind, path, progress=progress)


async def cli_import(
    app: App,
    kind: str,
    path: Path,
    *,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
    background: bool = True,
) -> int:
    """``sipas-bot import KIND FILE``: progress on standard error (a bar on a terminal),
    output lines on standard output as each chunk commits, problems on standard error;
    returns the exit code (0, or 2 for a refused file). ``background`` lowers this
    process's CPU priority (the command is a process of its own)."""
    out, err = out or sys.stdout, err or sys.stderr
    if background and hasattr(os, "nice"):
        # An import is background work: on a small server it yields the CPU to ``serve``.
        os.nice(NICENESS)
    t = translator(app.settings.default_locale, app.settings.timezone)
    _, name = t.gettext, path.name
    label = getattr(IMPORTERS[kind], "label", "") or kind

    def show(lines: list[str]) -> None:
        for line in lines:
            print(line, file=out)
        out.flush()

    try:
        result = await run_import(app, kind, path, progress=progress_for(t, err), on_output=show)
    except ImportFailed as failed:
        for error in failed.errors[:SHOWN_ERRORS]:
            print(f"{name}: {describe(t, error)}", file=err)
        more = len(failed.errors) - SHOWN_ERRORS
        if more > 0:
            print(_("… and {n} more bad rows").format(n=t.number(more)), file=err)
        if isinstance(failed, ImportStopped):
            message = _(
                "{file}: stopped; the {n} rows before were loaded, the rest not. Run the "
                "file again to load the rest."
            ).format(file=name, n=t.number(failed.loaded))
        else:
            message = _("{file}: {n} bad row(s); nothing was loaded").format(
                file=name, n=t.number(len(failed.errors))
            )
        print(f"sipas-bot: {message}", file=err)
        return 2
    print(
        _("{file}: {new} new {kind} loaded, {old} already there.").format(
            file=name, new=t.number(result.loaded), kind=_(label), old=t.number(result.existing)
        ),
        file=out,
    )
    return 0
