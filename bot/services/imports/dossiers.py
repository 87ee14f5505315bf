"""``sipas-bot import dossiers``: the integration API's intake (``bot.services.intake``)
in bulk statements, with the same rules.

Each new dossier gets a single-use survey code (hashed for lookups, kept encrypted so a
replay can show it again) and, when the file names the citizen's chat, an invitation in
the outbox inside the invitation hours and at most once per citizen per cooldown. A
receipt loaded before is a replay: same details, same code, nothing written; other
details are an error. Per chunk, in one short transaction: the dossiers (PostgreSQL:
``COPY`` with ids drawn from the sequence), their codes and their invitations, each in
one driver statement (``storage.bulk_dossiers``, ``storage.bulk.copy_rows``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.engine import reply_payload
from bot.services import intake
from bot.services.imports.dossier_replays import replays
from bot.services.imports.dossier_rows import (
    INVITE_COLUMNS,
    OUTBOX_COLUMNS,
    Built,
    DossierRow,
    Item,
    dossier_reader,
)
from bot.services.imports.framework import (
    Importer,
    RowError,
    RowsRefused,
    Written,
    importer,
)
from bot.services.imports.people import new_codes
from flows.i18n import N_
from flows.text import format_code
from storage import bulk, bulk_dossiers, outbox
from storage.models import Outbox, SurveyInvite


@importer
class DossierImporter(Importer):
    """``receipt_code,unit_code,procedure_code,completed_at[,citizen_channel,
    citizen_user_id,phone]``; prints each dossier's survey code (a receipt loaded before keeps
    its code)."""

    kind = "dossiers"
    label = N_("dossiers")
    Row = DossierRow
    chunk_size = 500
    check_batch = 5000  # bulk_dossiers.known_receipts reads 5,000 receipts a query
    # Chunks are independent (units and procedures exist before): two at once on
    # PostgreSQL, a citizen's invitation cooldown kept by the per-citizen locks
    # (``bulk_dossiers.lock_citizens``) that make the later chunk wait for the earlier.
    concurrent_chunks = True

    def row_reader(self, header: list[str]):
        """``DossierRow``'s fast path for valid rows (``dossier_rows.dossier_reader``)."""
        return dossier_reader(header)

    async def prepare(self, session) -> None:
        """Units and procedures by code; which channels can send."""
        units = await bulk.all_units(session)
        self.units = {u.code: u for u in units}
        self.units_upper = {u.code.upper(): u for u in units}
        _fields, procedures = await bulk.all_procedures(session)
        self.procedures = {p.code: p.id for p in procedures}
        self.procedure_names = {p.id: p.name for p in procedures}
        self.procedure_fields = {p.id: p.field_id for p in procedures}  # for the rollups
        self.channels: dict[str, bool] = {}  # asked when a row names one (Zalo's is slow)
        self.now = self.app.now()
        self.seen: dict[str, int] = {}
        self.utc: dict[datetime, datetime] = {}  # completed_at as read -> UTC (files repeat)
        self.items: list[Item] = []
        if self.app.settings.zns_invites:  # its import, outside the write transactions
            from bot.services import zns  # noqa: F401

            # A ZNS invitation locks its phone number row by row (bot.services.zns), not
            # in key order with the chunk's citizens: two chunks at once could deadlock.
            self.concurrent_chunks = False

    def _can_send(self, channel: str) -> bool:
        if channel not in self.channels:
            self.channels[channel] = intake.channel_enabled(self.app.settings, channel)
        return self.channels[channel]

    def _error(self, line: int, column: str, message: str, **fields: Any) -> RowError:
        return RowError(line, self._(message).format(**fields), column)

    async def check(self, session, rows) -> list[RowError]:
        """What ``intake.register`` checks, for a batch: units, procedures, times,
        channels, receipts repeated in the file or known with other details."""
        errors: list[RowError] = []
        fresh: list[Item] = []
        seen, utc, procedures = self.seen, self.utc, self.procedures
        units, units_upper = self.units, self.units_upper
        latest = self.now + intake.CLOCK_SKEW
        phones = self.app.settings.zns_invites
        for line, row in rows:
            receipt = row.receipt_code
            first = seen.get(receipt)
            if first is not None:
                errors.append(
                    self._error(
                        line,
                        "receipt_code",
                        N_("'{value}' is also on line {first}"),
                        value=receipt,
                        first=first,
                    )
                )
                continue
            seen[receipt] = line
            unit = units.get(row.unit_code) or units_upper.get(row.unit_code.upper())
            procedure = procedures.get(row.procedure_code)
            when = utc.get(row.completed_at)
            if when is None:
                when = row.completed_at
                if when.tzinfo is None:
                    when = when.replace(tzinfo=self.app.tz)
                when = utc[row.completed_at] = when.astimezone(UTC)
            channel = row.citizen_channel
            if (
                unit is None
                or procedure is None
                or when > latest
                or (channel is not None and not self._can_send(channel))
            ):
                errors += self._problems(line, row, unit, procedure, when > latest)
                continue
            fresh.append(
                Item(
                    line,
                    receipt,
                    unit,
                    procedure,
                    when,
                    channel,
                    row.citizen_user_id,
                    row.phone if phones else None,
                )
            )
        errors += await replays(self, session, fresh)
        self.items += fresh
        return errors

    def _problems(self, line: int, row, unit, procedure, future: bool) -> list[RowError]:
        """A row's problems of ``check``, in the order of the columns."""
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
        if future:
            problems.append(("completed_at", N_("is in the future"), {}))
        if row.citizen_channel is not None and not self._can_send(row.citizen_channel):
            problems.append(
                (
                    "citizen_channel",
                    N_("channel '{channel}' is not set up on this server"),
                    {"channel": row.citizen_channel},
                )
            )
        return [self._error(line, c, m, **f) for c, m, f in problems]

    def plan(self) -> list[Item]:
        """Every row, in file order (replays only print their code)."""
        return self.items

    def build(self, items: list[Item]) -> list[Built]:
        """Codes, hashes, encrypted codes, pseudonyms and invitation texts, before the
        transaction opens."""
        app, keys = self.app, self.app.keys
        fresh = [item for item in items if item.replay is None]
        fresh_codes = new_codes(len(fresh))
        codes = iter(fresh_codes)
        sealed = iter(keys.encrypt_many(fresh_codes))
        out = []
        for item in items:
            if item.replay is not None:
                out.append(Built(item))
                continue
            code = next(codes)
            built = Built(item, code, keys.code_hash(code), next(sealed))
            built.shown = f"{format_code(code)}  {item.receipt}  {item.unit.code}"
            if item.channel:
                built.citizen = keys.user_hash(item.channel, item.user_id)
                reply = intake.invitation(app, item.receipt, item.unit.name, code)
                built.payload = reply_payload(reply)
            out.append(built)
        return out

    async def write(self, session, built: list[Built]) -> Written:
        """The chunk's dossiers, codes and invitations: three statements."""
        app, _ = self.app, self._
        now = app.now()
        new = [b for b in built if b.item.replay is None]
        citizens = [b.citizen for b in new if b.citizen is not None]
        recent: set[str] = set()
        cooldown = timedelta(days=app.settings.invite_cooldown_days)
        if citizens:
            await bulk_dossiers.lock_citizens(session, citizens)
            if cooldown:
                recent = await bulk_dossiers.invited_since(session, citizens, now - cooldown)
        send_after = intake.next_send_time(now, app.tz, app.settings.invite_window)
        for b in new:
            if b.citizen is not None and b.citizen not in recent:
                b.invited_at = send_after
                if cooldown:
                    recent.add(b.citizen)
        ids, taken = await bulk_dossiers.insert_dossiers(
            session,
            [
                (
                    b.item.receipt,
                    b.item.unit.id,
                    b.item.procedure_id,
                    b.item.completed_at,
                    b.citizen,
                    b.invited_at,
                    now,
                )
                for b in new
            ],
            app.tz,
            self.procedure_fields,
        )
        if taken:  # another writer registered some of them meanwhile
            line = {b.item.receipt: b.item.line for b in new}
            raise RowsRefused(
                [
                    RowError(
                        line[receipt],
                        _(
                            "receipt '{receipt}' was registered by someone else meanwhile; "
                            "run the file again"
                        ).format(receipt=receipt),
                        "receipt_code",
                    )
                    for receipt in taken
                ]
            )
        expires = now + timedelta(days=app.settings.invite_ttl_days)
        await bulk.copy_rows(
            session,
            SurveyInvite,
            INVITE_COLUMNS,
            [
                (
                    b.code_hash,
                    "dossier",
                    b.item.unit.id,
                    ids[b.item.receipt],
                    b.item.procedure_id,
                    expires,
                    b.code_enc,
                    now,
                )
                for b in new
            ],
        )
        await bulk.copy_rows(
            session,
            Outbox,
            OUTBOX_COLUMNS,
            [
                (
                    b.item.channel,
                    b.item.user_id,
                    b.payload,
                    outbox.PENDING,
                    0,
                    send_after,
                    now,
                    f"dossier-invite:{ids[b.item.receipt]}",
                )
                for b in new
                if b.invited_at is not None
            ],
        )
        zns_sent = await self._zns_invitations(session, new, ids, send_after, now)
        written = Written()
        for b in built:
            item = b.item
            if item.replay is not None:
                code, note = item.replay
                if not code:  # no readable code (demo data, another key): a new one
                    code = await self._reissue(session, item)
                written.existing += 1
                written.lines.append(
                    f"{format_code(code)}  {item.receipt}  {item.unit.code}  ({_(note)})"
                )
                continue
            written.created += 1
            note = ""
            if id(b) in zns_sent:
                note = "  ({})".format(
                    {
                        "queued": _("invitation queued (ZNS)"),
                        "skipped_unreachable": _("invitation skipped: the number is not on Zalo"),
                    }.get(zns_sent[id(b)], _("invitation skipped: invited recently"))
                )
            elif b.citizen is not None:
                note = "  ({})".format(
                    _("invitation queued")
                    if b.invited_at is not None
                    else _("invitation skipped: invited recently")
                )
            written.lines.append(b.shown + note)
        return written

    async def _zns_invitations(self, session, new: list[Built], ids, send_after, now) -> dict:
        """Dossiers with a phone and no chat account: the ZNS invitation, one at a time
        through the same rules as the integration API (bot.services.zns)."""
        out: dict = {}
        if not any(b.item.phone is not None and b.item.channel is None for b in new):
            return out
        from types import SimpleNamespace

        from bot.services import zns  # imported by ``prepare`` already: not in the lock

        for b in new:
            item = b.item
            if item.phone is None or item.channel is not None:
                continue
            dossier = SimpleNamespace(
                id=ids[item.receipt], receipt_code=item.receipt, completed_at=item.completed_at
            )
            procedure = SimpleNamespace(name=self.procedure_names.get(item.procedure_id, ""))
            state, _when = await zns.invite(
                self.app,
                session,
                dossier,
                item.unit,
                procedure,
                item.phone,
                b.code,
                now,
                send_after,
            )
            out[id(b)] = state
        return out

    async def _reissue(self, session, item: Item) -> str:
        data = intake.DossierInput(
            item.receipt,
            item.unit.code,
            next(c for c, i in self.procedures.items() if i == item.procedure_id),
            item.completed_at,
        )
        return (await intake.register(self.app, session, data)).code
