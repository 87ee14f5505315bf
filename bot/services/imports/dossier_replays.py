"""A dossier file's rows already in the database (``sipas-bot import dossiers`` run
again, or the integration API first): replays, or receipts known with other details."""

from __future__ import annotations

from typing import Any

from bot.services.imports.dossier_rows import Item
from bot.services.imports.framework import RowError
from flows.i18n import N_
from storage import bulk_dossiers


async def replays(imp: Any, session: Any, items: list[Item]) -> list[RowError]:
    """The rows of ``items`` already registered: the same details are a replay (its code
    and note kept on the item, to print again), other details an error."""
    there = await bulk_dossiers.known_receipts(session, [i.receipt for i in items])
    if not there:
        return []
    known = await bulk_dossiers.dossiers_by_receipt(session, sorted(there))
    if not known:
        return []
    invites = await bulk_dossiers.first_invites(session, [d[0] for d in known.values()])
    errors = []
    for item in items:
        old = known.get(item.receipt)
        if old is None:
            continue
        dossier_id, unit_id, procedure_id, completed_at, citizen, invited_at = old
        if unit_id != item.unit.id or procedure_id != item.procedure_id:
            errors.append(
                imp._error(
                    item.line,
                    "receipt_code",
                    N_("receipt '{receipt}' is registered already with another unit or procedure"),
                    receipt=item.receipt,
                )
            )
            continue
        if completed_at != item.completed_at:
            errors.append(
                imp._error(
                    item.line,
                    "receipt_code",
                    N_("receipt '{receipt}' is registered already, completed at {when}"),
                    receipt=item.receipt,
                    when=imp.t.datetime(completed_at),
                )
            )
            continue
        code = None
        invite = invites.get(dossier_id)
        if invite is not None and invite[1] is not None:
            code = imp.app.keys.decrypt(invite[1])
            if code is not None and imp.app.keys.code_hash(code) != invite[0]:
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
