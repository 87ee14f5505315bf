"""Demo data of the in-person ways (called by ``bot.services.demo``): a paired counter
tablet, a surveyor and their assisted interviews, and a batch of paper ballots, so
``make run`` shows every channel. Rows are written directly; the demo rebuilds the
rollups afterwards."""

from __future__ import annotations

import random
import secrets
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.app import App
from bot.services import kiosk
from bot.services.invites import issue_registration
from flows import questionnaire as qn
from storage import origins, surveys
from storage.models import Procedure, Unit

SHARES = (("kiosk", 0.4), ("assisted", 0.25))  # the rest is paper


async def load(
    app: App,
    session: AsyncSession,
    rng: random.Random,
    total: int,
    wards: list[tuple[Unit, float]],
    procedures: list[Procedure],
    start: date,
    end: date,
) -> tuple[int, str, str]:
    """Add ``total`` in-person demo responses (tablet at the first ward; surveyor and paper
    at the first two); returns how many, the surveyor's registration code and the demo
    tablet's pairing link."""
    quick = qn.get("quick")
    assisted = qn.get(app.settings.assisted_questionnaire)
    paper = qn.get("sipas-2023")
    ward, quality = wards[0]
    codes = [p.code for p in procedures[:3]]
    device_id, link = await kiosk.register(app, session, ward, "Quầy 1", codes)
    surveyor_id, code = await issue_registration(
        app, session, name="Phạm Thu Hà", role="surveyor", unit=ward
    )
    count = 0
    kiosk_n, assisted_n = (int(total * share) for _how, share in SHARES)
    pair = [u for u, _q in wards[:2]]
    plan = [
        *[(ward, quick, "kiosk")] * kiosk_n,
        *[(pair[n % len(pair)], assisted, "assisted") for n in range(assisted_n)],
        *[(pair[n % len(pair)], paper, "paper") for n in range(total - kiosk_n - assisted_n)],
    ]
    for n, (unit, q, how) in enumerate(plan):
        day = start + timedelta(days=rng.randrange(max((end - start).days, 0) + 1))
        minute = rng.randint(8 * 60, 16 * 60 + 30)
        local = datetime.combine(day, time(minute // 60, minute % 60), app.tz)
        at = min(local.astimezone(UTC), app.now())
        key = secrets.token_hex(16)
        qid = await app.questionnaire_id(session, q.code, q.version)
        await surveys.start_response(
            session,
            key=key,
            unit_id=unit.id,
            questionnaire_id=qid,
            channel=how,
            respondent_hash=app.keys.user_hash(how, key),
            started_at=at - timedelta(minutes=2),
            procedure_id=rng.choice(procedures).id if how != "kiosk" else None,
        )
        items = q.items[:1] if how == "kiosk" else q.items
        for item in items:
            good = rng.random() < quality
            value = rng.choice([4, 5, 5]) if good else rng.choice([1, 2, 3, 3])
            if how != "kiosk" and rng.random() < 0.05:
                value = None
            await surveys.record_answer(session, key, item.code, item.element, value, at)
        response_id = await surveys.complete_response(session, key, None, at)
        assert response_id is not None
        await origins.add(
            session,
            response_id,
            device_id=device_id if how == "kiosk" else None,
            surveyor_id=surveyor_id if how == "assisted" else None,
            ballot_key=f"demo:{n}" if how == "paper" else None,
        )
        count += 1
    return count, code, link
