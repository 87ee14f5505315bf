"""Officials outside Zalo's messaging window: a reminder Zalo refuses goes by the ZNS
reminder template to their phone, and its link answers it once (Đã xong / Nhắc lại sau).
Also the phone number in ``person add`` and the people and dossier CSV files."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.channels.zalo.zns_service import with_zns_fallback
from bot.core.outbox_sender import OutboxSender
from bot.services.deadlines import DeadlineSpec, create
from bot.services.reminders import run_due
from bot.services.zns import phone_hash
from scheduler.recurrence import parse_schedule
from storage.models import Assignment, Outbox, Person, PersonChannel, ZnsPhone
from tests.builders import Citizen, new_registration
from tests.zns_world import LIMITS, REMINDER, zns_world

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
WINDOW = (-230, "User has not interacted with the OA in the last 7 days")


def at(clock, *when: int) -> None:
    clock.now = datetime(*when, tzinfo=TZ).astimezone(UTC)


@pytest.fixture
async def world(db_url, tmp_path, clock):
    at(clock, 2027, 3, 1, 8, 0)  # a Monday
    async with zns_world(db_url, tmp_path, clock) as w:
        official = Citizen(w.app, "za-binh", channel="zalo")
        await official.say(await new_registration(w.app, w.org.ward, "official", "Trần Thị Bình"))
        from bot.services.zns import set_official_phone

        async with w.app.db.write() as session:
            pid = (await session.exec(select(Person.id))).scalar_one()
            await set_official_phone(w.app, session, pid, "84912000111")
            spec = DeadlineSpec(
                "BC", "Báo cáo quý I", parse_schedule("03/03/2027"), people=[str(pid)], offsets=(1,)
            )
            _deadline, errors = await create(session, spec, w.app.now().astimezone(TZ).date())
        assert not errors
        w.zalo_sender = OutboxSender(w.app, with_zns_fallback(w.app, w.zns.zalo.transport), LIMITS)
        while await w.zalo_sender.run_once():  # the welcome, while Bình is inside the window
            pass
        yield w


async def remind(w, clock) -> str:
    """The reminder of Tuesday: Zalo refuses it (window), ZNS carries it; its token."""
    w.fake.user_errors["za-binh"] = WINDOW
    at(clock, 2027, 3, 2, 8, 0)
    await run_due(w.app)
    while await w.zalo_sender.run_once():
        pass
    await w.drain()
    (sent,) = w.fake.zns_sent
    assert sent.phone == "84912000111" and sent.template_id == REMINDER
    assert sent.data["can_bo"] == "Trần Thị Bình" and sent.data["cong_viec"] == "Báo cáo quý I"
    assert sent.data["han"] == "03/03/2027"
    return sent.data["ma"]


async def test_a_reminder_outside_the_window_goes_by_zns_and_done_is_one_tap(world, clock):
    token = await remind(world, clock)
    async with world.app.db.read() as session:
        zalo_row = (
            (await session.exec(select(Outbox).where(Outbox.channel == "zalo"))).scalars().all()[-1]
        )
        account = (await session.exec(select(PersonChannel))).scalars().one()
    assert zalo_row.status == "dead" and "sent by ZNS instead" in zalo_row.last_error
    assert account.unreachable_at is None  # the next reminder tries Zalo first again
    assert await world.count(ZnsPhone) == 1  # an official's number is kept

    page = await world.http.get(f"/a/{token}")
    assert page.status_code == 200 and "Báo cáo quý I" in page.text
    assert "Đã xong" in page.text and "Nhắc lại sau" in page.text
    assert await world.count(Assignment, Assignment.status == "done") == 0  # a GET answers nothing
    done = await world.http.post(f"/a/{token}/done")
    assert done.status_code == 200 and "Báo cáo quý I" in done.text
    async with world.app.db.read() as session:
        assignment = (await session.exec(select(Assignment))).scalars().one()
    assert assignment.status == "done" and assignment.answered_channel == "zns"
    again = await world.http.post(f"/a/{token}/snooze")
    assert again.status_code == 410 and "đã được sử dụng" in again.text


async def test_remind_me_later_from_the_link_snoozes(world, clock):
    token = await remind(world, clock)
    answer = await world.http.post(f"/a/{token}/snooze")
    assert answer.status_code == 200 and "nhắc lại" in answer.text
    async with world.app.db.read() as session:
        assignment = (await session.exec(select(Assignment))).scalars().one()
    assert assignment.status == "pending" and assignment.snoozed_until is not None


async def test_a_forged_or_changed_token_is_refused(world, clock):
    token = await remind(world, clock)
    link_id, sig = token.split(".")
    for bad in (f"{link_id}.{'0' * len(sig)}", f"{int(link_id) + 1}.{sig}", "nonsense"):
        assert (await world.http.get(f"/a/{bad}")).status_code == 410
        assert (await world.http.post(f"/a/{bad}/done")).status_code == 410
    assert await world.count(Assignment, Assignment.status == "done") == 0


async def test_without_a_phone_the_refused_reminder_stays_a_dead_letter(world, clock):
    async with world.app.db.write() as session:
        from sqlalchemy import delete

        await session.exec(delete(ZnsPhone))
    world.fake.user_errors["za-binh"] = WINDOW
    at(clock, 2027, 3, 2, 8, 0)
    await run_due(world.app)
    while await world.zalo_sender.run_once():
        pass
    assert world.fake.zns_sent == [] and await world.count(Outbox, Outbox.channel == "zns") == 0
    async with world.app.db.read() as session:
        account = (await session.exec(select(PersonChannel))).scalars().one()
    assert account.unreachable_at is not None  # as before ZNS


def test_person_add_and_the_people_csv_take_phone_numbers(tmp_path):
    from tests.test_cli import runner

    run = runner(tmp_path)
    assert run("db", "upgrade").returncode == 0
    (tmp_path / "units.csv").write_text("code,name,kind\nW,Phường Một,ward\n")
    assert run("import", "units", str(tmp_path / "units.csv")).returncode == 0
    args = ("person", "add", "--name", "An", "--unit", "W", "--role", "official")
    ok = run(*args, "--phone", "0905 123 456")
    assert ok.returncode == 0, ok.stderr
    bad = run(*args, "--phone", "12345")
    assert bad.returncode == 2 and "--phone" in bad.stderr
    (tmp_path / "people.csv").write_text(
        "name,unit_code,role,phone\nBình,W,official,+84 912 000 111\n"
    )
    assert run("import", "people", str(tmp_path / "people.csv")).returncode == 0
    (tmp_path / "bad.csv").write_text("name,unit_code,role,phone\nCường,W,official,0241234567\n")
    refused = run("import", "people", str(tmp_path / "bad.csv"))
    assert refused.returncode != 0 and "phone" in refused.stdout + refused.stderr
    everything = ok.stdout + ok.stderr + refused.stdout + refused.stderr
    assert "905123456" not in everything and "241234567" not in everything
    stored = (tmp_path / "cli.db").read_bytes()
    for digits in ("84905123456", "0905123456", "84912000111", "0912000111"):
        assert digits.encode() not in stored


async def test_an_imported_dossier_with_a_phone_is_invited_by_zns(world, tmp_path):
    from bot.services.imports import import_csv

    path = tmp_path / "dossiers.csv"
    path.write_text(
        "receipt_code,unit_code,procedure_code,completed_at,phone\n"
        "R-CSV-1,P.W1,T-HT-01,24/02/2027 08:00,0905 777 888\n"
        "R-CSV-2,P.W1,T-HT-01,24/02/2027 08:00,\n"
    )
    result = await import_csv(world.app, "dossiers", path)
    assert result.loaded == 2 and "đã xếp lời mời qua ZNS" in result.output[0]
    await world.drain()
    assert [s.phone for s in world.fake.zns_sent] == ["84905777888"]
    async with world.app.db.read() as session:
        kept = (await session.exec(select(ZnsPhone.phone_hash))).scalars().all()
    assert kept == [phone_hash(world.app, "84912000111")]  # only the official's


def test_zns_commands_on_the_command_line(tmp_path):
    from tests.test_cli import runner

    run = runner(tmp_path)
    assert run("db", "upgrade").returncode == 0
    spend = run("zalo", "zns", "spend", "--day", "24/11/2026")
    assert spend.returncode == 0, spend.stderr
    assert "ZNS ngày 24/11/2026: đã gửi 0 tin (giới hạn 500), khoảng 0 đồng." in spend.stdout
    unmatched = run("zalo", "ratings", "unmatched")
    assert unmatched.returncode == 0 and "Mọi đánh giá ZNS đều đã khớp" in unmatched.stdout
    off = run("zalo", "ratings", "sync")
    assert off.returncode == 2 and "SIPAS_ZNS_ENABLED" in off.stderr


async def test_serve_runs_the_zns_sender_only_when_switched_on(world):
    from bot.server import background_services

    assert "zns" in [name for name, _run in background_services(world.app)]
    off = world.app.settings.model_copy(update={"zns_enabled": False})
    world.app.settings = off
    assert "zns" not in [name for name, _run in background_services(world.app)]
