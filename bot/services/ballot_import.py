"""``sipas-bot import ballots FILE``: paper ballots (``bot.services.ballots`` reads and
checks them) stored on the import framework's chunked publishing
(``bot.services.imports.pipeline.publish``): the whole file checked first in a read
transaction (a bad cell: nothing loaded), then a few ballots per short write transaction,
each ballot whole with its answers, origin and rollups."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.core.app import App
from bot.services.ballots import (
    CHANNEL,
    PROGRESS_EVERY,
    Ballot,
    BallotResult,
    BallotsFailed,
    CellError,
    Progress,
    check,
    read_file,
)
from bot.services.imports.framework import Importer, ImportFailed, ImportResult, Written
from bot.services.imports.pipeline import publish
from bot.services.imports.progress import Progress as ImportProgress
from flows import questionnaire as qn
from flows.i18n import N_, Translator, translator
from storage import origins, rollups, surveys


@dataclass(frozen=True)
class _Built:
    ballot: Ballot
    at: datetime
    response_key: str
    respondent: str


class _BallotImporter(Importer):
    """The checked ballots on the import framework's chunked publishing
    (``bot.services.imports.pipeline.publish``): a few ballots per short transaction,
    each ballot whole with its answers, origin and rollups."""

    kind = "ballots"
    label = N_("paper ballots")
    chunk_size = 2  # first chunk: a ballot takes several milliseconds
    min_chunk = 1  # a ballot is some twenty statements
    # Its rollup upserts lock rows a citizen's completing press updates too: shorter
    # transactions than other kinds (0.1 s made 600 commits of 2,000 ballots, 2× slower).
    hold_postgres = 0.25

    def __init__(self, app: App, t: Translator, q: qn.Questionnaire, todo: list[Ballot]) -> None:
        super().__init__(app, t)
        self.q, self.todo = q, todo

    def plan(self) -> list[Ballot]:
        """The ballots not loaded before, in file order."""
        return self.todo

    def build(self, items: list[Ballot]) -> list[_Built]:
        """Times, response keys and pseudonyms, before the transaction."""
        app, utc = self.app, ZoneInfo("UTC")
        return [
            _Built(
                b,
                datetime.combine(b.day, time(12, 0), app.tz).astimezone(utc),
                hashlib.sha256(f"paper:{b.key}".encode()).hexdigest()[:32],
                app.keys.user_hash(CHANNEL, b.key),
            )
            for b in items
        ]

    async def write(self, session, built: list[_Built]) -> Written:
        """The chunk's ballots; one loaded meanwhile (the same file twice at once) is
        counted as loaded before."""
        app, q = self.app, self.q
        known = await origins.known_ballots(session, [b.ballot.key for b in built])
        qid = await app.questionnaire_id(session, q.code, q.version)
        written = Written(existing=len(known))
        todo = [b for b in built if b.ballot.key not in known]
        for b in todo:
            ballot = b.ballot
            await surveys.start_response(
                session,
                key=b.response_key,
                unit_id=ballot.unit_id,
                questionnaire_id=qid,
                channel=CHANNEL,
                respondent_hash=b.respondent,
                started_at=b.at,
                procedure_id=ballot.procedure_id,
            )
        await surveys.record_answers(
            session,
            [
                (b.response_key, item, element, value, b.at)
                for b in todo
                for item, (element, value) in b.ballot.answers.items()
            ],
        )
        for b in todo:
            response_id = await surveys.complete_response(
                session, b.response_key, b.ballot.comment, b.at
            )
            assert response_id is not None
            await origins.add(session, response_id, ballot_key=b.ballot.key)
            await rollups.apply_response(session, response_id, app.tz)
            written.created += 1
        return written


class _Counted:
    """The framework's progress as the ``Progress`` callback of this module (every
    ``PROGRESS_EVERY`` ballots and at the end), next to an optional bar."""

    def __init__(self, callback: Progress | None, bar: ImportProgress | None) -> None:
        self.callback, self.bar = callback, bar
        self.total = self.done = self.told = 0

    def start(self, phase: str, total: int) -> None:
        """A phase begins."""
        self.total, self.done, self.told = total, 0, 0
        if self.bar is not None:
            self.bar.start(phase, total)

    def advance(self, rows: int) -> None:
        """``rows`` more ballots stored."""
        self.done += rows
        if self.bar is not None:
            self.bar.advance(rows)
        if self.callback and (
            self.done // PROGRESS_EVERY > self.told // PROGRESS_EVERY or self.done == self.total
        ):
            self.told = self.done
            self.callback(self.done, self.total)

    def finish(self) -> None:
        """The phase is over."""
        if self.bar is not None:
            self.bar.finish()


async def import_ballots(
    app: App,
    path: Path,
    progress: Progress | None = None,
    *,
    bar: ImportProgress | None = None,
) -> BallotResult:
    """Check the whole file (a read transaction; ``BallotsFailed``: nothing loaded), then
    store the ballots not loaded before in short transactions of a few ballots each (the
    import framework's publishing), so that chats served meanwhile are not held up.
    ``progress(done, total)`` is told every ``PROGRESS_EVERY`` ballots; ``bar`` (a
    ``bot.services.imports.progress`` display) follows both phases."""
    rows, file_hash = await asyncio.to_thread(read_file, path)
    today = app.now().astimezone(app.tz).date()
    t = translator(app.settings.default_locale, app.settings.timezone)
    async with app.db.read() as session:
        if bar is not None:
            bar.start(t.gettext("Checking"), max(len(rows) - 1, 0))
        q, ballots, errors = await check(session, rows, file_hash, today, t.gettext)
        if bar is not None:
            bar.advance(max(len(rows) - 1, 0))
            bar.finish()
        if errors or q is None:
            raise BallotsFailed(errors)
        known = await origins.known_ballots(session, [b.key for b in ballots])
    imp = _BallotImporter(app, t, q, [b for b in ballots if b.key not in known])
    result = ImportResult(imp.kind, 0, rows=len(ballots), existing=len(known))
    if imp.todo:
        try:
            await publish(app, imp, t, _Counted(progress, bar), result)
        except ImportFailed as failed:  # the database refused a ballot (never seen)
            raise BallotsFailed(
                [CellError(e.line, "", "", e.message) for e in failed.errors]
            ) from None
    return BallotResult(
        q.code,
        result.loaded,
        result.existing,
        len(ballots),
        result.chunks,
        result.longest_write,
    )
