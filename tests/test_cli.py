"""The command line as an operator uses it: real processes, piped stdin, exit codes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

CODE = re.compile(r"([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})\s+Phường Hải Châu")


def runner(directory):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")},
        "SIPAS_DATABASE_URL": f"sqlite:///{directory / 'cli.db'}",
        "SIPAS_DATA_DIR": str(directory / "data"),
    }

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            input=stdin,
            env=env,
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


@pytest.fixture
def sipas(tmp_path):
    """``sipas-bot`` on an empty database of its own."""
    return runner(tmp_path)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """A migrated database with demo data (no recent responses), made once."""
    directory = tmp_path_factory.mktemp("demo")
    run = runner(directory)
    assert run("db", "upgrade").returncode == 0
    demo = run("demo", "--responses", "0")
    assert demo.returncode == 0, demo.stderr
    (directory / "demo.out").write_text(demo.stdout)
    return directory


@pytest.fixture
def demo_sipas(demo_dir, tmp_path):
    """``sipas-bot`` on a private copy of the demo database (and its secret key)."""
    shutil.copy(demo_dir / "cli.db", tmp_path / "cli.db")
    shutil.copytree(demo_dir / "data", tmp_path / "data")
    shutil.copy(demo_dir / "demo.out", tmp_path / "demo.out")
    return runner(tmp_path)


def test_piped_chat_survey_shows_up_in_the_report(demo_sipas, tmp_path):
    sipas = demo_sipas
    counter_code = CODE.search((tmp_path / "demo.out").read_text()).group(
        1
    )  # the ward's counter code
    assert (tmp_path / "data" / "secret.key").exists()

    script = (
        "\n".join(
            [
                f"/start {counter_code}",
                "5",  # overall: Rất hài lòng (button 5)
                "1",  # "Có, tiếp tục"
                "4",
                "5",
                "3",  # E1, E2, E3
                "6",  # E4: button 6 is "Bỏ qua"
                "hài lòng",  # E5 by label
                "Nhân viên tận tình",
            ]
        )
        + "\n"
    )
    chat = sipas("chat", "--user", "zalo-123", stdin=script)
    assert chat.returncode == 0, chat.stderr
    assert "Kính chào Ông/Bà" in chat.stdout and "Xin cảm ơn Ông/Bà" in chat.stdout
    assert "  6. Bỏ qua" in chat.stdout  # buttons are numbered

    report = sipas(
        "report", "satisfaction", "--unit", "DN.HAICHAU", "--period", "hôm nay", "--format", "json"
    )
    assert report.returncode == 0, report.stderr
    total = json.loads(report.stdout)["total"]
    # By hand: overall 5 → 100 %; E1 4 → 100; E2 5 → 100; E3 3 → 0; E4 skipped (no
    # figure); E5 4 → 100. SIPAS % = mean of the four rated elements = 75 %.
    assert total["respondents"] == 1
    assert total["overall_question_percent"] == 100.0
    assert total["elements"] == {"E1": 100.0, "E2": 100.0, "E3": 0.0, "E5": 100.0}
    assert total["percent"] == 75.0
    assert total["items"]["E4"]["skipped"] == 1 and total["items"]["E4"]["valid"] == 0
    assert total["mean_score"] == pytest.approx((5 + 4 + 5 + 3 + 4) / 5)

    table = sipas("report", "satisfaction", "--unit", "DN.HAICHAU", "--period", "hôm nay")
    assert "Chung: 75,0%" in table.stdout

    quota = sipas("report", "quota", "--unit", "DN.SONTRA", "--period", "10/2023")
    assert "249/300 phiếu (83,0%)" in quota.stdout and "370/370 phiếu (100,0%)" in quota.stdout
    csv_out = tmp_path / "q.csv"
    assert (
        sipas(
            "report", "quota", "--period", "10/2023", "--format", "csv", "--out", str(csv_out)
        ).returncode
        == 0
    )
    assert "DN.SONTRA.MC" in csv_out.read_text()


def test_chat_ends_cleanly_on_empty_input(sipas):
    sipas("db", "upgrade")
    result = sipas("chat", stdin="")
    assert result.returncode == 0 and result.stdout == ""


def test_invite_and_person_commands(demo_sipas, tmp_path):
    sipas = demo_sipas
    invite = sipas(
        "invite",
        "create",
        "--unit",
        "DN.HAICHAU",
        "--procedure",
        "DEMO-HT-01",
        "--qr",
        str(tmp_path / "qr.png"),
    )
    assert invite.returncode == 0, invite.stderr
    assert re.search(r"Mã khảo sát: [0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", invite.stdout)
    assert "Zalo: " in invite.stdout and "/chat?code=" in invite.stdout
    assert (tmp_path / "qr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    person = sipas(
        "person", "add", "--name", "Phạm Thị Dung", "--unit", "DN.HAICHAU", "--role", "official"
    )
    assert person.returncode == 0 and "Mã đăng ký" in person.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("report", "satisfaction", "--unit", "NOPE"),
        ("report", "quota", "--period", "tháng mười ba"),
        ("report", "satisfaction", "--from", "31/02/2024"),
        ("report", "satisfaction", "--period", "2023", "--from", "01/01/2023"),
        ("invite", "create", "--unit", "DN.HAICHAU", "--procedure", "NOPE"),
        ("person", "add", "--name", "X", "--unit", "DN.HAICHAU", "--role", "king"),
        ("demo",),  # the database already has data
        ("no-such-command",),
    ],
)
def test_bad_input_exits_2_with_one_line(demo_sipas, args):
    result = demo_sipas(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() and "Traceback" not in result.stderr


def test_bad_settings_exit_2():
    env_result = subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"],
        env={**os.environ, "SIPAS_TIMEZONE": "Mars/Olympus"},
        capture_output=True,
        text=True,
    )
    assert env_result.returncode == 2 and "SIPAS_TIMEZONE" in env_result.stderr


def test_a_reader_that_goes_away_stops_the_command_quietly(demo_dir):
    """``sipas-bot holiday list | head -1``: when the pipe's reader has gone, the command
    stops with exit code 1 and no traceback or error line."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")},
        "SIPAS_DATABASE_URL": f"sqlite:///{demo_dir / 'cli.db'}",
        "SIPAS_DATA_DIR": str(demo_dir / "data"),
    }
    read, write = os.pipe()
    os.close(read)  # nobody will read: the first write fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bot", "holiday", "list", "--year", "2026"],
            stdout=write,
            stderr=subprocess.PIPE,
            env=env,
            cwd=demo_dir,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)
    assert done.returncode == 1 and done.stderr == ""
