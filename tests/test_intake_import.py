"""``sipas-bot import dossiers``: the integration API's intake in bulk statements, with its
rules (single-use hashed codes, invitations in the outbox inside the invitation hours and
once per citizen per cooldown), all or nothing for a bad file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.core.app import App
from bot.services.imports import ImportFailed, ImportStopped, import_csv, run_import
from bot.services.imports import dossiers as dossier_import
from bot.services.imports import pipeline as fw
from storage.models import Dossier, Outbox, SurveyInvite
from tests.builders import Citizen, make_org

HEADER = "receipt_code,unit_code,procedure_code,completed_at,citizen_channel,citizen_user_id\n"


@pytest.fixture
async def telegram_app(settings, clock):
    application = App(settings.model_copy(update={"telegram_token": "1:x"}), clock=clock)
    await make_org(application)
    yield application
    await application.close()


async def count(app: App, model) -> int:
    async with app.db.read() as session:
        return (await session.exec(select(func.count()).select_from(model))).scalar_one()


def write(tmp_path, text: str, name: str = "dossiers.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def test_dossiers_get_codes_and_a_second_run_repeats_them(telegram_app, tmp_path):
    app = telegram_app
    path = write(
        tmp_path,
        "receipt_code;unit_code;procedure_code;completed_at;citizen_channel;citizen_user_id\n"
        "H17-0001;P.W1;T-HT-01;24/11/2026 08:15;telegram;777\n"
        "H17-0002;p.w2;T-HT-01;2026-11-23T16:00:00+07:00;;\n",
    )
    result = await import_csv(app, "dossiers", path)
    assert (result.loaded, result.existing) == (2, 0)
    first, second = result.output
    assert first.endswith("H17-0001  P.W1  (lời mời đã chờ gửi)")
    assert second.endswith("H17-0002  P.W2")  # unit codes match whatever their case
    async with app.db.read() as session:
        rows = {d.receipt_code: d for d in (await session.exec(select(Dossier))).scalars()}
        invites = (await session.exec(select(SurveyInvite))).scalars().all()
        message = (await session.exec(select(Outbox))).scalars().one()
    # Without an offset, a time is local (Hà Nội): 08:15 is 01:15 UTC.
    assert rows["H17-0001"].completed_at == datetime(2026, 11, 24, 1, 15, tzinfo=UTC)
    assert rows["H17-0002"].completed_at == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert rows["H17-0001"].citizen_hash == app.keys.user_hash("telegram", "777")
    code = first.split()[0].replace("-", "")
    # Only the keyed hash is looked up; the code itself is kept encrypted, not in clear.
    assert {i.code_hash for i in invites} >= {app.keys.code_hash(code)}
    assert all(i.kind == "dossier" and code not in (i.code_enc or "") for i in invites)
    assert (message.channel, message.recipient) == ("telegram", "777")
    assert message.dedupe_key == f"dossier-invite:{rows['H17-0001'].id}"
    assert first.split()[0] in message.payload["text"]
    assert message.not_before == app.now()  # 09:00 local: inside the invitation hours

    again = await import_csv(app, "dossiers", path)
    assert (again.loaded, again.existing) == (0, 2)
    assert [line.split()[0] for line in again.output] == [first.split()[0], second.split()[0]]
    assert again.output[0].endswith("(đã đăng ký trước đó, lời mời đã chờ gửi)")
    assert again.output[1].endswith("(đã đăng ký trước đó)")
    assert await count(app, Dossier) == 2 and await count(app, SurveyInvite) == 2
    assert await count(app, Outbox) == 1

    # The printed code works, once.
    citizen = Citizen(app, "u-9")
    await citizen.say(first.split()[0])
    assert "Phường Một" in await citizen.text()
    other = Citizen(app, "u-10")
    await other.say(first.split()[0])
    assert "Phường Một" not in await other.text()


async def test_invitations_wait_for_the_hours_and_one_per_citizen(telegram_app, tmp_path, clock):
    app = telegram_app
    clock.now = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # 23:00 in Hà Nội
    path = write(
        tmp_path,
        HEADER + "N-1,P.W1,T-HT-01,24/11/2026 22:00,telegram,555\n"
        "N-2,P.W1,T-HT-01,24/11/2026 22:10,telegram,555\n"
        "N-3,P.W1,T-HT-01,24/11/2026 22:20,telegram,556\n",
    )
    result = await import_csv(app, "dossiers", path)
    assert [line.split("  ", 3)[-1] for line in result.output] == [
        "(lời mời đã chờ gửi)",
        "(không mời: công dân vừa được mời gần đây)",
        "(lời mời đã chờ gửi)",
    ]
    async with app.db.read() as session:
        messages = (await session.exec(select(Outbox).order_by(Outbox.id))).scalars().all()
        skipped = (
            await session.exec(select(Dossier).where(Dossier.receipt_code == "N-2"))
        ).scalar_one()
    assert [m.recipient for m in messages] == ["555", "556"]
    # The next morning at 07:30 local time (00:30 UTC).
    assert {m.not_before for m in messages} == {datetime(2026, 11, 25, 0, 30, tzinfo=UTC)}
    assert skipped.citizen_hash is not None and skipped.invited_at is None
    # A later file within the cooldown: no second invitation for 555.
    later = write(tmp_path, HEADER + "N-4,P.W1,T-HT-01,24/11/2026 22:30,telegram,555\n", "b.csv")
    assert (
        (await import_csv(app, "dossiers", later))
        .output[0]
        .endswith("(không mời: công dân vừa được mời gần đây)")
    )
    assert await count(app, Outbox) == 2


async def test_a_bad_file_loads_nothing_and_names_every_bad_line(app, tmp_path):
    await make_org(app)
    path = write(
        tmp_path,
        HEADER + "A-1,P.W1,T-HT-01,24/11/2026 08:00,,\n"
        "A-2,NOPE,T-HT-01,24/11/2026 08:00,,\n"
        "A-3,P.W1,NOPE,24/11/2026 08:00,,\n"
        "A-4,P.W1,T-HT-01,next tuesday,,\n"
        "A-1,P.W1,T-HT-01,24/11/2026 08:00,,\n"
        "A-6,P.W1,T-HT-01,24/11/2026 08:00,zalo,\n"
        "A-7,P.W1,T-HT-01,24/11/2026 08:00,zalo,123\n"
        "A 8,P.W1,T-HT-01,24/11/2026 08:00,,\n"
        "A-9,P.W1,T-HT-01,31/12/2099 08:00,,\n"
        "A-10,P.W1,T-HT-01,24/11/2026 08:00,sms,1\n",
    )
    with pytest.raises(ImportFailed) as failed:
        await import_csv(app, "dossiers", path)
    assert [(e.line, e.column, e.message) for e in failed.value.errors] == [
        (3, "unit_code", "không có đơn vị mã 'NOPE'"),
        (4, "procedure_code", "không có thủ tục mã 'NOPE'"),
        (
            5,
            "completed_at",
            "không phải ngày giờ (hãy viết 20/11/2025 14:30 hoặc 2025-11-20T14:30+07:00)",
        ),
        (6, "receipt_code", "'A-1' trùng với dòng 2"),
        (7, None, "citizen_channel và citizen_user_id phải điền cùng nhau"),
        (8, "citizen_channel", "kênh 'zalo' chưa được cài đặt trên máy chủ này"),
        (9, "receipt_code", "có ký tự không được phép"),
        (10, "completed_at", "là thời điểm trong tương lai"),
        (11, "citizen_channel", "phải là một trong các giá trị: 'telegram', 'zalo'"),
    ]
    assert await count(app, Dossier) == 0 and await count(app, SurveyInvite) == 0


async def test_a_receipt_known_with_other_details_refuses_the_file(telegram_app, tmp_path):
    app = telegram_app
    await import_csv(app, "dossiers", write(tmp_path, HEADER + "R-1,P.W1,T-HT-01,24/11/2026,,\n"))
    path = write(
        tmp_path,
        HEADER + "R-2,P.W1,T-HT-01,24/11/2026,,\nR-1,P.W2,T-HT-01,24/11/2026,,\n"
        "R-3,P.W1,T-HT-01,24/11/2026,,\n",
        "b.csv",
    )
    with pytest.raises(ImportFailed) as failed:
        await import_csv(app, "dossiers", path)
    assert [(e.line, e.message) for e in failed.value.errors] == [
        (3, "mã biên nhận 'R-1' đã được đăng ký với đơn vị hoặc thủ tục khác")
    ]
    assert await count(app, Dossier) == 1


async def test_a_crash_mid_import_leaves_whole_rows_and_a_second_run_finishes(
    telegram_app, tmp_path, monkeypatch
):
    """What the package docstring promises: committed chunks stay, each row whole, and the
    same file run again loads the rest and prints the first part's same codes. The
    command is stopped as Ctrl-C stops it (``asyncio.run`` cancels its task) while the
    third chunk is inside its transaction; on PostgreSQL two chunks may be in flight, and
    the other one may commit or roll back."""
    app = telegram_app
    monkeypatch.setattr(fw, "MIN_CHUNK", 1)
    monkeypatch.setattr(fw, "MAX_CHUNK", 4)
    # Chunks never shrink below 4 on a slow run (a long hold would halve them).
    monkeypatch.setattr(fw, "HOLD_TARGET", 60.0)
    monkeypatch.setattr(fw, "HOLD_TARGET_POSTGRES", 60.0)
    monkeypatch.setattr(dossier_import.DossierImporter, "chunk_size", 4)
    rows = "".join(f"C-{i},P.W1,T-HT-01,24/11/2026 08:00,telegram,{900 + i}\n" for i in range(10))
    path = write(tmp_path, HEADER + rows)
    real_write, chunks = dossier_import.DossierImporter.write, []

    async def stopped_in_the_third_chunk(self, session, built):
        written = await real_write(self, session, built)  # written, not committed yet
        chunks.append(len(built))
        if built[0].item.receipt == "C-8":  # the file's third chunk
            importing.cancel()
            await asyncio.sleep(5)  # the cancellation lands here, inside the transaction
        return written

    monkeypatch.setattr(dossier_import.DossierImporter, "write", stopped_in_the_third_chunk)
    shown: list[str] = []
    importing = asyncio.create_task(run_import(app, "dossiers", path, on_output=shown.extend))
    with pytest.raises(asyncio.CancelledError):
        await importing
    assert sorted(chunks) == [2, 4, 4]
    # Whole chunks committed: each dossier with its code and its invitation.
    committed = await count(app, Dossier)
    assert committed in (4, 8) if not app.db.is_sqlite else committed == 8
    assert await count(app, SurveyInvite) == committed == await count(app, Outbox)
    assert len(shown) <= committed

    monkeypatch.setattr(dossier_import.DossierImporter, "write", real_write)
    again = await import_csv(app, "dossiers", path)
    assert (again.loaded, again.existing) == (10 - committed, committed)
    codes = {line.split()[1]: line.split()[0] for line in again.output}
    assert [codes[line.split()[1]] for line in shown] == [line.split()[0] for line in shown]
    assert await count(app, Dossier) == 10 and await count(app, Outbox) == 10


@pytest.mark.parametrize("zns", [False, True], ids=["chat", "zns-on"])
async def test_chunks_in_flight_together_keep_one_invitation_per_citizen_and_the_order(
    telegram_app, tmp_path, monkeypatch, zns
):
    """PostgreSQL writes two chunks at once (SQLite one, and PostgreSQL too when ZNS
    invitations are on: their phone locks are not taken in key order): chunks of one
    row, each citizen on two rows in a row, so that both are in flight together, the
    earlier one pausing after its writes, before its commit; still one invitation each
    (the later chunk waits on the citizen's lock, then sees the earlier one's
    invitation) and the codes in file order."""
    app = telegram_app
    if zns:  # the rows name no phone: only the import's choice changes
        monkeypatch.setattr(type(app.settings), "zns_invites", property(lambda _s: True))
    monkeypatch.setattr(fw, "MIN_CHUNK", 1)
    monkeypatch.setattr(fw, "MAX_CHUNK", 1)
    monkeypatch.setattr(dossier_import.DossierImporter, "chunk_size", 1)
    rows = "".join(
        f"K-{i:02d},P.W1,T-HT-01,24/11/2026 08:{i:02d},telegram,{700 + (i + 1) // 2}\n"
        for i in range(12)
    )
    path = write(tmp_path, HEADER + rows)
    real_write, inside, most = dossier_import.DossierImporter.write, [0], [0]

    async def paused_before_commit(self, session, built):
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        try:
            written = await real_write(self, session, built)
            await asyncio.sleep(0.1)  # the next chunk begins meanwhile
            return written
        finally:
            inside[0] -= 1

    monkeypatch.setattr(dossier_import.DossierImporter, "write", paused_before_commit)
    result = await import_csv(app, "dossiers", path)
    assert most[0] == (1 if app.db.is_sqlite or zns else 2)
    assert [line.split()[1] for line in result.output] == [f"K-{i:02d}" for i in range(12)]
    # Which of a citizen's two rows gets the invitation is whichever chunk locks first.
    queued = [line for line in result.output if line.endswith("(lời mời đã chờ gửi)")]
    assert len(queued) == 7
    async with app.db.read() as session:
        recipients = (await session.exec(select(Outbox.recipient))).scalars().all()
    assert sorted(recipients) == [str(700 + n) for n in range(7)]


async def test_a_receipt_registered_meanwhile_stops_the_import_after_whole_chunks(
    telegram_app, tmp_path, monkeypatch
):
    """Another writer (the integration API) registers a receipt of the file between the
    check and its chunk: ``ImportStopped`` names it and says how many rows were loaded,
    those rows are in the database whole, nothing after the refused chunk began, and the
    file run again loads the rest."""
    from storage import dossiers
    from storage.models import Procedure, Unit

    app = telegram_app
    monkeypatch.setattr(fw, "MIN_CHUNK", 1)
    monkeypatch.setattr(fw, "MAX_CHUNK", 2)
    monkeypatch.setattr(fw, "HOLD_TARGET", 60.0)
    monkeypatch.setattr(fw, "HOLD_TARGET_POSTGRES", 60.0)
    monkeypatch.setattr(dossier_import.DossierImporter, "chunk_size", 2)
    rows = "".join(f"S-{i},P.W1,T-HT-01,24/11/2026 08:00,telegram,{600 + i}\n" for i in range(8))
    path = write(tmp_path, HEADER + rows)
    real_chunk = fw._write_chunk

    async def another_writer_first(app_, imp, built):
        if built[0].item.receipt == "S-4":  # the third chunk: S-5 registered just before
            async with app.db.write() as other:
                unit = (await other.exec(select(Unit).where(Unit.code == "P.W1"))).scalar_one()
                procedure = (
                    await other.exec(select(Procedure).where(Procedure.code == "T-HT-01"))
                ).scalar_one()
                await dossiers.add(
                    other,
                    receipt_code="S-5",
                    unit_id=unit.id,
                    procedure_id=procedure.id,
                    completed_at=datetime(2026, 11, 24, 1, 0, tzinfo=UTC),
                    now=app.now(),
                    tz=app.tz,
                )
        return await real_chunk(app_, imp, built)

    monkeypatch.setattr(fw, "_write_chunk", another_writer_first)
    shown: list[str] = []
    with pytest.raises(ImportStopped) as stopped:
        await run_import(app, "dossiers", path, on_output=shown.extend)
    [error] = stopped.value.errors
    assert (error.line, error.column) == (7, "receipt_code") and "'S-5'" in error.message
    # Chunks 1 and 2 (and, on PostgreSQL, at most the fourth, already in flight when the
    # third was refused) are in: whole, counted and shown.
    loaded = stopped.value.loaded
    assert loaded in ((4,) if app.db.is_sqlite else (4, 6)) and len(shown) == loaded
    assert await count(app, Dossier) == loaded + 1
    assert await count(app, SurveyInvite) == loaded == await count(app, Outbox)

    monkeypatch.setattr(fw, "_write_chunk", real_chunk)
    again = await import_csv(app, "dossiers", path)  # S-5 with the same details: known
    assert (again.loaded, again.existing) == (8 - loaded - 1, loaded + 1)
    assert await count(app, Dossier) == 8
