"""The import pipeline: read, check every row, then publish in short transactions.

See the package docstring (``bot.services.imports``) for the plug-in API.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.core.app import App
from bot.services.imports.framework import (
    IMPORTERS,
    Importer,
    ImportFailed,
    ImportResult,
    ImportStopped,
    RowError,
    RowsRefused,
    file_error,
    problem_text,
)
from bot.services.imports.progress import Progress, Silent
from bot.services.imports.reading import FileProblem, open_table
from flows.i18n import Translator, translator
from storage import bulk

CHECK_BATCH = 1000  # valid rows handed to ``Importer.check`` at a time
HOLD_TARGET = 0.05  # seconds a publishing transaction should hold SQLite's write lock
# PostgreSQL locks rows, not the database: longer transactions block no webhook, and
# fewer of them cost fewer round trips.
HOLD_TARGET_POSTGRES = 0.5
MIN_CHUNK, MAX_CHUNK = 50, 20_000
# SQLite, after each chunk: the checkpoint (outside the write lock, so the log stays one
# chunk long and no webhook's commit has to copy it), and a breath for waiting writers of
# at least PAUSE between a commit and the next transaction.
CHECKPOINT_EVERY = 1
PAUSE = 0.005


# --- the pipeline------------------------------------------------------------------


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
        raise ImportFailed([file_error(t, problem)]) from None
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

    with _no_cycle_collection():
        return await _run(app, imp, t, table, progress, on_output)


@contextlib.contextmanager
def _no_cycle_collection():
    """The cyclic garbage collector off while a file is checked and published, as it
    was before afterwards. A 100,000-row file keeps about a million objects alive (its
    rows, then their codes), and the collector's full passes over them cost more than
    the whole load and paused the writes inside the SQLite lock; the import's objects
    are freed by reference counting, the few cycles (sessions) at the end."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


async def _run(app, imp: Importer, t: Translator, table, progress, on_output) -> ImportResult:
    _ = t.gettext
    async with app.db.read() as session:
        await imp.prepare(session)
    rows, errors = await _check(imp, t, table, progress)
    if errors and type(imp).write is Importer.write and imp._rows:
        errors += await _dry_run(imp)
    if errors:
        raise ImportFailed(sorted(errors, key=lambda e: e.line))
    if not rows:
        raise ImportFailed([RowError(1, _("no rows to load"))])
    result = ImportResult(imp.kind, 0, rows=rows)
    await publish(app, imp, t, progress, result, on_output)
    return result


async def _check(imp: Importer, t: Translator, table, progress: Progress):
    progress.start(t.gettext("Checking"), table.estimate)
    errors: list[RowError] = []
    batch: list[tuple[int, Any]] = []
    width, count, pending = len(table.header), 0, 0
    model = imp.Row
    fast = imp.row_reader(table.header)
    batch_size = imp.check_batch or CHECK_BATCH

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
            elif fast is not None and (row := fast(cells)) is not None:
                batch.append((line, row))
            else:
                try:
                    raw = dict(zip(table.header, cells, strict=True))
                    batch.append((line, model.model_validate(raw)))
                except ValidationError as exc:
                    errors.extend(_row_errors(t, line, exc))
            if pending >= batch_size:
                await flush()
    except FileProblem as problem:
        errors.append(file_error(t, problem))
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


async def publish(
    app: App,
    imp: Importer,
    t: Translator,
    progress: Progress,
    result: ImportResult,
    on_output: Callable[[list[str]], None] | None = None,
) -> None:
    """Write ``imp.plan()`` chunk by chunk, one short write transaction each (sized to
    ``HOLD_TARGET``), counting into ``result``; ``ImportFailed`` when the first chunk is
    refused, ``ImportStopped`` when a later one is (the earlier ones stay). On PostgreSQL
    an importer with ``concurrent_chunks`` has two chunks in flight once the first has
    committed: the database works on one while this process builds and sends the next
    (the output still comes in file order)."""
    items = imp.plan()
    least = max(1, min(MIN_CHUNK, imp.min_chunk))
    progress.start(t.gettext("Loading"), sum(imp.weight(i) for i in items))
    size, position = max(imp.chunk_size, 1), 0
    sqlite = app.db.is_sqlite
    target = HOLD_TARGET if sqlite else (imp.hold_postgres or HOLD_TARGET_POSTGRES)
    ahead = 2 if imp.concurrent_chunks and not sqlite else 1
    flying: deque[tuple[list, Any]] = deque()  # chunks written: (items, task or coroutine)
    stopped: list[RowError] | None = None  # a chunk's refusal

    def take() -> list:
        nonlocal position
        part = items[position : position + size]
        position += len(part)
        return part

    part = take()
    built = imp.build(part)
    try:
        while part or flying:
            # No new chunk once one in flight has ended (refused or failed: nothing
            # after the stopping point begins).
            ended = any(isinstance(t, asyncio.Task) and t.done() for _p, t in flying)
            if part and len(flying) < (ahead if result.chunks else 1) and not ended:
                writing = _write_chunk(app, imp, built)
                # One at a time: awaited in this task (a KeyboardInterrupt inside the
                # transaction stays this task's); two: its own task.
                flying.append((part, asyncio.create_task(writing) if ahead > 1 else writing))
                # With two in flight the next chunk is built now, while the database
                # works (sized by the chunks before); else once this one has committed.
                part = take() if ahead > 1 else []
                built = imp.build(part) if part else None
                continue
            done, task = flying.popleft()
            try:
                written, held = await task
            except RowsRefused as refused:
                stopped = refused.errors
                break
            _count_chunk(imp, progress, result, on_output, done, written, held)
            committed = time.monotonic()
            # Keep each transaction near its target whatever the machine and the database.
            if held > 0:
                size = int(min(max(size * target / held, size / 2, least), size * 2))
                size = max(least, min(size, MAX_CHUNK))
            # Outside the write lock: SQLite's checkpoint (file I/O, in a worker thread)
            # while this thread builds the next chunk, then a breath for waiting writers
            # of at least PAUSE since the commit (the two usually took longer already).
            copying = None
            if sqlite and result.chunks % CHECKPOINT_EVERY == 0:
                copying = bulk.start_checkpoint(app.db.engine)
            if ahead == 1:
                part = take()
                built = imp.build(part) if part else None
            if copying is not None:
                await copying
            if sqlite:
                await asyncio.sleep(max(0.0, PAUSE - (time.monotonic() - committed)))
            else:
                await asyncio.sleep(0)
    finally:
        # Stopped (a chunk refused, an error, from outside): a chunk still in flight is
        # cancelled (it rolls back); one that committed all the same is counted and shown.
        for _part, task in flying:
            task.cancel()
        ends = await asyncio.gather(*(task for _part, task in flying), return_exceptions=True)
        for (later, _task), end in zip(flying, ends, strict=True):
            if isinstance(end, tuple):
                _count_chunk(imp, progress, result, on_output, later, *end)
    progress.finish()
    if stopped is not None:
        errors = sorted(stopped, key=lambda e: e.line)
        loaded = result.loaded + result.existing
        if not loaded:  # the first chunk is written alone: nothing was loaded
            raise ImportFailed(errors)
        raise ImportStopped(errors, loaded)
    await bulk.checkpoint(app.db.engine)


async def _write_chunk(app: App, imp: Importer, built: Any) -> tuple[Any, float]:
    """One chunk in its own write transaction: what it wrote, and the seconds it took."""
    began = time.monotonic()
    async with app.db.write() as session:
        await bulk.tune_for_bulk(session)
        written = await imp.write(session, built)
    return written, time.monotonic() - began


def _count_chunk(imp, progress, result: ImportResult, on_output, part, written, held) -> None:
    result.holds.append((len(part), held))
    result.loaded += written.created
    result.existing += written.existing
    if on_output is not None:
        on_output(written.lines)
    else:
        result.output.extend(written.lines)
    progress.advance(sum(imp.weight(i) for i in part))
