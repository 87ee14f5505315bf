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
        ids, taken = await bulk_dossiers.insert_dossiers(session, _rows(org, ["A1", "A2"]))
    assert taken == [] and set(ids) == {"A1", "A2"}
    async with app.db.read() as session:
        stored = dict((await session.exec(select(Dossier.receipt_code, Dossier.id))).all())
    assert stored == ids
    try:
        async with app.db.write() as session:
            ids, taken = await bulk_dossiers.insert_dossiers(session, _rows(org, ["A3", "A2"]))
            assert taken == ["A2"]
            raise _Rollback
    except _Rollback:
        pass
    async with app.db.read() as session:
        assert (await session.exec(select(func.count()).select_from(Dossier))).scalar_one() == 2
    async with app.db.write() as session:  # the transaction is usable after the refusal
        ids, taken = await bulk_dossiers.insert_dossiers(session, _rows(org, ["A3"]))
    assert taken == [] and list(ids) == ["A3"]
