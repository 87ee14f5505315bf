"""``sipas-bot import dossiers``: the integration API's intake (``bot.services.intake``)
in bulk statements, with the same rules.

Each new dossier gets a single-use survey code (hashed for lookups, kept encrypted so a
replay can show it again) and, when the file names the citizen's chat, an invitation in
the outbox inside the invitation hours and at most once per citizen per cooldown. A
receipt loaded before is a replay: same details, same code, nothing written; other
details are an error. Per chunk: one INSERT of dossiers, one of codes, one of
invitations, in one short transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from bot.core.engine import reply_payload
from bot.core.keys import new_code
from bot.services import intake
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
from flows.text import format_code
from storage import bulk, outbox
from storage.models import Dossier, Outbox, SurveyInvite

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

    @field_validator("completed_at", mode="before")
    @classmethod
    def _when(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        parsed = None
        if text[:4].isdigit():
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                parsed = None
        if parsed is None:
            for fmt in _DATE_FORMATS:
                try:
                    parsed = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
        if parsed is None:
            raise RowProblem(
                N_("not a date and time (write 20/11/2025 14:30 or 2025-11-20T14:30+07:00)")
            )
        if not 2000 <= parsed.year <= 2100:
            raise RowProblem(N_("must be between the years 2000 and 2100"))
        return parsed

    @model_validator(mode="after")
    def _citizen_pair(self) -> DossierRow:
        if (self.citizen_channel is None) != (self.citizen_user_id is None):
            raise RowProblem(N_("citizen_channel and citizen_user_id go together"))
        return self


@dataclass
class Item:
    line: int
    receipt: str
    unit: Any  # (id, code, name, …)
    procedure_id: int
    completed_at: datetime  # UTC
    channel: str | None
    user_id: str | None
    replay: tuple[str, str] | None = None  # (code, note) of a receipt loaded before


@importer
class DossierImporter(Importer):
    """``receipt_code,unit_code,procedure_code,completed_at[,citizen_channel,
    citizen_user_id]``; prints each dossier's survey code (a receipt loaded before keeps
    its code)."""

    kind = "dossiers"
    label = N_("dossiers")
    Row = DossierRow
    chunk_size = 2000

    async def prepare(self, session) -> None:
        """Units and procedures by code; which channels can send."""
        units = await bulk.all_units(session)
        self.units = {u.code: u for u in units}
        self.units_upper = {u.code.upper(): u for u in units}
        _fields, procedures = await bulk.all_procedures(session)
        self.procedures = {p.code: p.id for p in procedures}
        self.channels = {c for c in intake.INVITE_CHANNELS if intake.channel_enabled(
            self.app.settings, c
        )}
        self.now = self.app.now()
        self.seen: dict[str, int] = {}
        self.items: list[Item] = []

    def _error(self, line: int, column: str, message: str, **fields: Any) -> RowError:
        return RowError(line, self._(message).format(**fields), column)

    async def check(self, session, rows) -> list[RowError]:
        """What ``intake.register`` checks, for a batch: units, procedures, times,
        channels, receipts repeated in the file or known with other details."""
        errors: list[RowError] = []
        fresh: list[Item] = []
        for line, row in rows:
            receipt = row.receipt_code
            if receipt in self.seen:
                errors.append(
                    self._error(
                        line,
                        "receipt_code",
                        N_("'{value}' is also on line {first}"),
                        value=receipt,
                        first=self.seen[receipt],
                    )
                )
                continue
            self.seen[receipt] = line
            unit = self.units.get(row.unit_code) or self.units_upper.get(row.unit_code.upper())
            procedure = self.procedures.get(row.procedure_code)
            when = row.completed_at
            if when.tzinfo is None:
                when = when.replace(tzinfo=self.app.tz)
            when = when.astimezone(UTC)
            problems = []
            if unit is None:
                problems.append(
                    ("unit_code", N_("unknown unit code '{code}'"), {"code": row.unit_code})
                )
            if procedure is None:
                problems.append(
                    (
                        "procedure_code",
                        N_("unknown procedure code '{code}'"),
                        {"code": row.procedure_code},
                    )
                )
            if when > self.now + intake.CLOCK_SKEW:
                problems.append(("completed_at", N_("is in the future"), {}))
            if row.citizen_channel is not None and row.citizen_channel not in self.channels:
                problems.append(
                    (
                        "citizen_channel",
                        N_("channel '{channel}' is not set up on this server"),
                        {"channel": row.citizen_channel},
                    )
                )
            if problems:
                errors += [self._error(line, c, m, **f) for c, m, f in problems]
                continue
            fresh.append(
                Item(
                    line,
                    receipt,
                    unit,
                    procedure,  # type: ignore[arg-type]
                    when,
                    row.citizen_channel,
                    row.citizen_user_id,
                )
            )
        errors += await self._replays(session, fresh)
        self.items += fresh
        return errors

    async def _replays(self, session, items: list[Item]) -> list[RowError]:
        known = await bulk.dossiers_by_receipt(session, [i.receipt for i in items])
        if not known:
            return []
        invites = await bulk.first_invites(session, [d[0] for d in known.values()])
        errors = []
        for item in items:
            old = known.get(item.receipt)
            if old is None:
                continue
            dossier_id, unit_id, procedure_id, completed_at, citizen, invited_at = old
            if unit_id != item.unit.id or procedure_id != item.procedure_id:
                errors.append(
                    self._error(
                        item.line,
                        "receipt_code",
                        N_("receipt '{receipt}' is registered already with another unit or "
                           "procedure"),
                        receipt=item.receipt,
                    )
                )
                continue
            if completed_at != item.completed_at:
                errors.append(
                    self._error(
                        item.line,
                        "receipt_code",
                        N_("receipt '{receipt}' is registered already, completed at {when}"),
                        receipt=item.receipt,
                        when=self.t.datetime(completed_at),
                    )
                )
                continue
            code = None
            invite = invites.get(dossier_id)
            if invite is not None and invite[1] is not None:
                code = self.app.keys.decrypt(invite[1])
                if code is not None and self.app.keys.code_hash(code) != invite[0]:
                    code = None
            note = N_("already registered")
            if citizen is not None:
                note = (
                    N_("already registered, invitation queued")
                    if invited_at is not None
                    else N_("already registered, invited recently")
                )
            item.replay = (code or "", note)
        return errors

    def plan(self) -> list[Item]:
        """Every row, in file order (replays only print their code)."""
        return self.items

    def build(self, items: list[Item]) -> Any:
        """Codes, hashes, encrypted codes and citizens' pseudonyms, before the transaction."""
        keys = self.app.keys
        out = []
        for item in items:
            if item.replay is not None:
                out.append((item, None, None, None, None))
                continue
            code = new_code()
            citizen = keys.user_hash(item.channel, item.user_id) if item.channel else None
            out.append((item, code, keys.code_hash(code), keys.encrypt(code), citizen))
        return out

    async def write(self, session, built) -> Written:
        """The chunk's dossiers, codes and invitations: three statements."""
        app, _ = self.app, self._
        now = app.now()
        written = Written()
        new = [b for b in built if b[0].replay is None]
        citizens = [b[4] for b in new if b[4] is not None]
        recent: set[str] = set()
        cooldown = timedelta(days=app.settings.invite_cooldown_days)
        if citizens:
            await bulk.lock_citizens(session, citizens)
            if cooldown:
                recent = await bulk.invited_since(session, citizens, now - cooldown)
        send_after = intake.next_send_time(now, app.tz, app.settings.invite_window)
        invited: dict[str, datetime | None] = {}
        for item, _code, _hash, _enc, citizen in new:
            if citizen is None:
                continue
            if citizen in recent:
                invited[item.receipt] = None
            else:
                invited[item.receipt] = send_after
                if cooldown:
                    recent.add(citizen)
        ids = await bulk.insert_new(
            session,
            Dossier,
            [
                {
                    "receipt_code": item.receipt,
                    "unit_id": item.unit.id,
                    "procedure_id": item.procedure_id,
                    "completed_at": item.completed_at,
                    "citizen_hash": citizen,
                    "invited_at": invited.get(item.receipt),
                    "created_at": now,
                }
                for item, _c, _h, _e, citizen in new
            ],
            "receipt_code",
        )
        if len(ids) != len(new):  # another writer registered some of them meanwhile
            raise RowsRefused(
                [
                    RowError(
                        item.line,
                        _("receipt '{receipt}' was registered by someone else meanwhile; "
                          "run the file again").format(receipt=item.receipt),
                        "receipt_code",
                    )
                    for item, *_rest in new
                    if item.receipt not in ids
                ]
            )
        expires = now + timedelta(days=app.settings.invite_ttl_days)
        await bulk.insert_rows(
            session,
            SurveyInvite,
            [
                {
                    "code_hash": code_hash,
                    "kind": "dossier",
                    "unit_id": item.unit.id,
                    "dossier_id": ids[item.receipt],
                    "procedure_id": item.procedure_id,
                    "expires_at": expires,
                    "code_enc": enc,
                    "created_at": now,
                }
                for item, _code, code_hash, enc, _citizen in new
            ],
        )
        messages = []
        for item, code, *_rest in new:
            if invited.get(item.receipt) is not None:
                reply = intake.invitation(app, item.receipt, item.unit.name, code)
                messages.append(
                    {
                        "channel": item.channel,
                        "recipient": item.user_id,
                        "payload": reply_payload(reply),
                        "status": outbox.PENDING,
                        "attempts": 0,
                        "not_before": send_after,
                        "created_at": now,
                        "dedupe_key": f"dossier-invite:{ids[item.receipt]}",
                    }
                )
        await bulk.insert_rows(session, Outbox, messages)
        for item, code, _h, _e, citizen in built:
            if item.replay is not None:
                replay_code, note = item.replay
                if not replay_code:  # no readable code (demo data, another key): a new one
                    replay_code = await self._reissue(session, item)
                written.existing += 1
                written.lines.append(
                    f"{format_code(replay_code)}  {item.receipt}  {item.unit.code}  ({_(note)})"
                )
                continue
            written.created += 1
            note = ""
            if citizen is not None:
                note = "  ({})".format(
                    _("invitation queued")
                    if invited.get(item.receipt) is not None
                    else _("invitation skipped: invited recently")
                )
            written.lines.append(f"{format_code(code)}  {item.receipt}  {item.unit.code}{note}")
        return written

    async def _reissue(self, session, item: Item) -> str:
        data = intake.DossierInput(
            item.receipt,
            item.unit.code,
            next(c for c, i in self.procedures.items() if i == item.procedure_id),
            item.completed_at,
        )
        return (await intake.register(self.app, session, data)).code
