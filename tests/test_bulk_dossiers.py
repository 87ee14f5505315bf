"""``storage.bulk_dossiers.insert_dossiers``: new receipts get their ids; a receipt another
writer registered between the check and the insert is named (the caller rolls back)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from storage import bulk_dossiers
from storage.models import Dossier
from tests.builders import make_org

WHEN = datetime(2025, 11, 24, 1, 15, tzinfo=UTC)


def _rows(org, receipts):
    return [(r, org.ward.id, org.procedure.id, WHEN, None, None, WHEN) for r in receipts]


class _Rollback(Exception):
    pass


async def test_new_dossiers_get_ids_and_a_taken_receipt_is_named(app):
    org = await make_org(app)
    async with app.db.write() as session:
        ids, taken = await bulk_dossiers.insert_dossiers(session, _rows(org, ["A1", "A2"]), app.tz)
    assert taken == [] and set(ids) == {"A1", "A2"}
    async with app.db.read() as session:
        stored = dict((await session.exec(select(Dossier.receipt_code, Dossier.id))).all())
    assert stored == ids
    try:
        async with app.db.write() as session:
            ids, taken = await bulk_dossiers.insert_dossiers(
                session, _rows(org, ["A3", "A2"]), app.tz
            )
            assert taken == ["A2"]
            raise _Rollback
    except _Rollback:
        pass
    async with app.db.read() as session:
        assert (await session.exec(select(func.count()).select_from(Dossier))).scalar_one() == 2
    async with app.db.write() as session:  # the transaction is usable after the refusal
        ids, taken = await bulk_dossiers.insert_dossiers(session, _rows(org, ["A3"]), app.tz)
    assert taken == [] and list(ids) == ["A3"]


async def test_invited_since_names_the_citizens_invited_at_or_after(app):
    org = await make_org(app)
    later = datetime(2025, 11, 25, 1, 15, tzinfo=UTC)
    rows = [
        ("B1", org.ward.id, org.procedure.id, WHEN, "c-early", WHEN, WHEN),
        ("B2", org.ward.id, org.procedure.id, WHEN, "c-late", later, WHEN),
        ("B3", org.ward.id, org.procedure.id, WHEN, "c-none", None, WHEN),
    ]
    async with app.db.write() as session:
        await bulk_dossiers.insert_dossiers(session, rows, app.tz)
    async with app.db.read() as session:
        everyone = ["c-early", "c-late", "c-none", "c-unknown"]
        assert await bulk_dossiers.invited_since(session, everyone, WHEN) == {"c-early", "c-late"}
        assert await bulk_dossiers.invited_since(session, everyone, later) == {"c-late"}
        assert await bulk_dossiers.invited_since(session, [], WHEN) == set()
