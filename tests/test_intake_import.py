"""``sipas-bot import dossiers``: the integration API's work in bulk, all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.core.app import App
from bot.services.imports import ImportFailed, import_csv
from storage.models import Dossier, Outbox, SurveyInvite
from tests.builders import Citizen, make_org


@pytest.fixture
async def telegram_app(settings, clock):
    application = App(settings.model_copy(update={"telegram_token": "1:x"}), clock=clock)
    await make_org(application)
    yield application
    await application.close()


async def count(app: App, model) -> int:
    async with app.db.read() as session:
        return (await session.exec(select(func.count()).select_from(model))).scalar_one()


def write(tmp_path, text: str):
    path = tmp_path / "dossiers.csv"
    path.write_text(text, encoding="utf-8")
    return path


async def test_dossiers_get_codes_and_a_second_run_repeats_them(telegram_app, tmp_path):
    app = telegram_app
    path = write(
        tmp_path,
        "receipt_code;unit_code;procedure_code;completed_at;citizen_channel;citizen_user_id\n"
        "H17-0001;P.W1;T-HT-01;24/11/2026 08:15;telegram;777\n"
        "H17-0002;P.W2;T-HT-01;2026-11-23T16:00:00+07:00;;\n",
    )
    result = await import_csv(app, "dossiers", path)
    assert result.loaded == 2
    first, second = result.output
    assert first.endswith("H17-0001  P.W1  (invitation queued)")
    assert second.endswith("H17-0002  P.W2")
    async with app.db.read() as session:
        rows = {d.receipt_code: d for d in (await session.exec(select(Dossier))).scalars()}
    # Without an offset, a time is local (Hà Nội): 08:15 is 01:15 UTC.
    assert rows["H17-0001"].completed_at == datetime(2026, 11, 24, 1, 15, tzinfo=UTC)
    assert rows["H17-0002"].completed_at == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert await count(app, Outbox) == 1

    again = await import_csv(app, "dossiers", path)
    assert [line.split()[0] for line in again.output] == [first.split()[0], second.split()[0]]
    assert all(line.endswith("(already registered)") for line in again.output)
    assert await count(app, Dossier) == 2 and await count(app, SurveyInvite) == 2
    assert await count(app, Outbox) == 1

    # The printed code works.
    citizen = Citizen(app, "u-9")
    await citizen.say(first.split()[0])
    assert "Phường Một" in await citizen.text()


async def test_a_bad_file_loads_nothing_and_names_every_bad_line(app, tmp_path):
    await make_org(app)
    path = write(
        tmp_path,
        "receipt_code,unit_code,procedure_code,completed_at,citizen_channel,citizen_user_id\n"
        "A-1,P.W1,T-HT-01,24/11/2026 08:00,,\n"
        "A-2,NOPE,T-HT-01,24/11/2026 08:00,,\n"
        "A-3,P.W1,NOPE,24/11/2026 08:00,,\n"
        "A-4,P.W1,T-HT-01,next tuesday,,\n"
        "A-1,P.W1,T-HT-01,24/11/2026 08:00,,\n"
        "A-6,P.W1,T-HT-01,24/11/2026 08:00,zalo,\n"
        "A-7,P.W1,T-HT-01,24/11/2026 08:00,zalo,123\n"
        "A 8,P.W1,T-HT-01,24/11/2026 08:00,,\n"
        "A-9,P.W1,T-HT-01,31/12/2099 08:00,,\n",
    )
    with pytest.raises(ImportFailed) as failed:
        await import_csv(app, "dossiers", path)
    messages = [str(e) for e in failed.value.errors]
    assert [m.split(":")[0] for m in messages] == [f"line {n}" for n in (3, 4, 5, 6, 7, 8, 9, 10)]
    assert "unknown unit code 'NOPE'" in messages[0]
    assert "unknown procedure code 'NOPE'" in messages[1]
    assert "completed_at" in messages[2] and "20/11/2025 14:30" in messages[2]
    assert "also on line 2" in messages[3]
    assert "go together" in messages[4]
    assert "citizen_channel: channel 'zalo' is not set up" in messages[5]
    assert "receipt_code" in messages[6]
    assert "completed_at: is in the future" in messages[7]
    assert await count(app, Dossier) == 0 and await count(app, SurveyInvite) == 0
