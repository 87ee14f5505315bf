"""The negative-burst check counts rated and dissatisfied responses in the database.

``storage.alerts.dissatisfied`` is one aggregate statement; these cases pin its rating
rule (the overall answer if given, else the mean) and what it leaves out, on both
databases, against counts made by hand.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from storage import alerts, questionnaires
from storage.models import Answer, Response
from tests.builders import make_org

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
_keys = itertools.count(1)


async def add_response(session, unit_id: int, values: dict[str, int | None], **fields) -> None:
    """A completed response with satisfaction answers ``{element: value}``."""
    questionnaire = await questionnaires.ensure(session, "sipas-2023", 1, "v1", {})
    key = next(_keys)
    response = Response(
        key=f"k{key}",
        unit_id=unit_id,
        questionnaire_id=questionnaire,
        channel="telegram",
        respondent_hash=f"r{key}",
        status=fields.pop("status", "completed"),
        completed_at=fields.pop("completed_at", NOW - timedelta(minutes=5)),
        **fields,
    )
    session.add(response)
    await session.flush()
    for index, (element, value) in enumerate(values.items()):
        session.add(
            Answer(
                response_id=response.id, item_code=f"i{index}", element_code=element, value=value
            )
        )
    await session.flush()


async def test_rated_and_dissatisfied_follow_the_rating_rule(app):
    org = await make_org(app)
    ward, other = org.ward.id, org.ward2.id
    async with app.db.write() as session:
        # The overall answer decides, whatever the other answers say: 1 → dissatisfied.
        await add_response(session, ward, {"overall": 1, "a": 5, "b": 5})
        # No overall answer: the mean decides. (2 + 2) / 2 = 2.0 → dissatisfied.
        await add_response(session, ward, {"a": 2, "b": 2})
        # A mean of exactly 2.5 is not under 2.5; a skipped answer is not in the mean.
        await add_response(session, ward, {"a": 2, "b": 3, "c": None})
        # The overall answer 4 wins over a low mean.
        await add_response(session, ward, {"overall": 4, "a": 1, "b": 1})
        # Not counted: only skipped answers, flagged, not completed, too old, elsewhere.
        await add_response(session, ward, {"a": None})
        await add_response(session, ward, {"a": 1}, flagged_at=NOW, flag_reason="stuffing")
        await add_response(session, ward, {"a": 1}, status="in_progress", completed_at=None)
        await add_response(session, ward, {"a": 1}, completed_at=NOW - timedelta(hours=3))
        await add_response(session, other, {"a": 1})
    since = NOW - timedelta(hours=1)
    async with app.db.read() as session:
        assert await alerts.dissatisfied(session, since, NOW, below=2.5, unit_id=ward) == (4, 2)
        assert await alerts.dissatisfied(session, since, NOW, below=2.5, unit_id=other) == (1, 1)
        # A wider window takes in the old one.
        wider = NOW - timedelta(hours=4)
        assert await alerts.dissatisfied(session, wider, NOW, below=2.5, unit_id=ward) == (5, 3)
        # Nothing in the window: zero, not None.
        empty = NOW - timedelta(days=30)
        assert await alerts.dissatisfied(
            session, empty, empty + timedelta(minutes=1), below=2.5, unit_id=ward
        ) == (0, 0)
