"""The command line as a newcomer meets it: its language, its start, its refusals.

Real processes on a private copy of the demo database (``tests/test_cli.py``'s fixtures).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import runner


@pytest.fixture
def sipas(tmp_path):
    """``sipas-bot`` on an empty database of its own (never migrated)."""
    return runner(tmp_path)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
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


def count(directory, table: str) -> int:
    with sqlite3.connect(directory / "cli.db") as db:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def loaded_modules(*args: str, env: dict | None = None, cwd=None) -> set[str]:
    """The modules a command imported by its end (it runs in-process here)."""
    script = (
        "import sys, json\n"
        "from bot.cli import main\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stderr.write(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=cwd, capture_output=True, text=True
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


# --- language ------------------------------------------------------------------------------


def test_help_is_in_the_deployment_language_argparse_words_too(sipas, tmp_path):
    vi = sipas("invite", "create", "--help")
    assert vi.returncode == 0
    assert "cách dùng: sipas-bot invite create" in vi.stdout
    assert "tùy chọn:" in vi.stdout and "hiện trợ giúp này rồi thoát" in vi.stdout
    assert "mã hoặc tên đơn vị" in vi.stdout
    assert "usage:" not in vi.stdout and "show this help" not in vi.stdout
    wrong = sipas("report", "quota", "--format", "pdf")
    assert wrong.returncode == 2 and "lựa chọn không hợp lệ: 'pdf'" in wrong.stderr
    (tmp_path / ".env").write_text("SIPAS_DEFAULT_LOCALE=en\n")
    en = sipas("invite", "create", "--help")
    assert "usage: sipas-bot invite create" in en.stdout and "unit code or name" in en.stdout


def test_roles_and_kinds_are_words_of_the_language(demo_sipas, tmp_path):
    demo = (tmp_path / "demo.out").read_text()
    assert "(công chức, DN.HAICHAU)" in demo and "(quản trị viên, DN)" in demo
    assert "official" not in demo and "(admin" not in demo
    person = demo_sipas(
        "person", "add", "--name", "Phạm Thị Dung", "--unit", "DN.HAICHAU", "--role", "leader"
    )
    assert "Phạm Thị Dung (lãnh đạo)" in person.stdout, person.stdout
    csv = tmp_path / "units.csv"
    csv.write_text("code,name,kind,parent_code\nDN.MOI,Phường Mới,ward,DN\n", encoding="utf-8")
    loaded = demo_sipas("import", "units", str(csv))
    assert loaded.returncode == 0, loaded.stderr
    assert "1 dòng đơn vị" in loaded.stdout and "units" not in loaded.stdout.replace(
        "units.csv", ""
    )


def test_settings_errors_have_no_pydantic_prefix(sipas):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"],
        env={**os.environ, "SIPAS_TIMEZONE": "Mars/Olympus"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "SIPAS_TIMEZONE" in result.stderr
    assert "Value error" not in result.stderr and "Mars/Olympus" in result.stderr


# --- start-up -------------------------------------------------------------------------------


def test_help_loads_no_database_web_or_channel_library(tmp_path):
    modules = top_level(loaded_modules("--help", cwd=tmp_path))
    heavy = {"sqlalchemy", "sqlmodel", "pydantic", "fastapi", "aiogram", "httpx", "alembic"}
    assert "bot" in modules and not modules & heavy, modules & heavy


def test_a_report_loads_no_web_channel_or_drawing_library(demo_dir):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")},
        "SIPAS_DATABASE_URL": f"sqlite:///{demo_dir / 'cli.db'}",
        "SIPAS_DATA_DIR": str(demo_dir / "data"),
    }
    loaded = loaded_modules("report", "quota", "--period", "10/2023", env=env, cwd=demo_dir)
    modules = top_level(loaded)
    heavy = {"fastapi", "aiogram", "httpx", "alembic", "matplotlib", "openpyxl", "uvicorn"}
    heavy |= {"prometheus_client"}  # the metrics are the server's
    assert "sqlalchemy" in modules and not modules & heavy, modules & heavy
    # Only the tables it reads (storage.models loads a group on first use), and no
    # PostgreSQL dialect on SQLite.
    assert "storage.models.organisation" in loaded
    unneeded = {"storage.models.zns", "storage.models.people", "storage.models.inperson"}
    assert not loaded & unneeded, loaded & unneeded
    assert "sqlalchemy.dialects.postgresql" not in loaded


def test_the_cli_lists_of_kinds_and_defaults_are_the_services_own():
    from bot.cli import deadline, imports
    from bot.services import deadlines
    from bot.services.imports import IMPORTERS, NICENESS
    from scheduler.recurrence import TEMPLATES

    assert tuple(sorted(IMPORTERS)) == imports.KINDS
    assert imports.NICENESS == NICENESS
    assert deadline.OFFSETS_DEFAULT == deadlines.DEFAULT_OFFSETS
    assert deadline.ESCALATE_DEFAULT == deadlines.DEFAULT_ESCALATE_AFTER
    assert tuple(sorted(TEMPLATES)) == deadline.TEMPLATE_NAMES


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("invite", "create", "--unit", "DN.HAICHAU", "--qr", "/missing/dir/x.png"),
        ("invite", "create", "--unit", "DN.HAICHAU", "--counter", "--poster", "/missing/p.pdf"),
        ("report", "quota", "--format", "csv", "--out", "/missing/dir/q.csv"),
        ("report", "satisfaction", "--chart", "/missing/dir/c.png"),
        ("invite", "create", "--unit", "DN.HAICHAU", "--qr", "."),  # a folder
    ],
)
def test_an_unwritable_output_is_refused_before_anything_changes(demo_sipas, tmp_path, args):
    invites = count(tmp_path, "survey_invite")
    result = demo_sipas(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("sipas-bot: không ghi được ")
    assert result.stdout == "" and count(tmp_path, "survey_invite") == invites


@pytest.mark.parametrize(
    "unit", ["DN.HAICHAU", "HAICHAU", "haichau", "Hải Châu", "phường hải châu"]
)
def test_a_unit_is_found_by_code_short_code_or_name_as_in_chat(demo_sipas, unit):
    result = demo_sipas("report", "quota", "--unit", unit, "--period", "10/2023")
    assert result.returncode == 0, result.stderr
    assert "Phường Hải Châu" in result.stdout.splitlines()[0]


def test_an_ambiguous_or_unknown_unit_is_refused_with_the_candidates(demo_sipas):
    several = demo_sipas("report", "quota", "--unit", "Phường")
    assert several.returncode == 2 and "DN.HAICHAU (Phường Hải Châu)" in several.stderr
    unknown = demo_sipas("report", "quota", "--unit", "NOPE")
    assert unknown.returncode == 2 and "không có đơn vị 'NOPE'" in unknown.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("holiday", "list"),
        ("report", "quota"),
        ("deadline", "list"),
        ("invite", "create", "--unit", "X"),
    ],
)
def test_a_never_migrated_database_says_to_run_db_upgrade(sipas, args):
    result = sipas(*args)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip() == (
        "sipas-bot: cơ sở dữ liệu chưa được khởi tạo: hãy chạy 'sipas-bot db upgrade' trước"
    )


def test_an_old_database_names_both_revisions(sipas, tmp_path):
    import asyncio

    from storage.db import Database
    from storage.migrate import upgrade

    async def old() -> None:
        db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
        try:
            await upgrade(db, "0001")
        finally:
            await db.dispose()

    asyncio.run(old())
    result = sipas("holiday", "list")
    assert result.returncode == 1 and "phiên bản 0001," in result.stderr
    assert "sipas-bot db upgrade" in result.stderr and "SELECT" not in result.stderr


# --- files the console is sent ----------------------------------------------------------------


def test_console_chart_and_export_are_written_and_their_paths_printed(demo_sipas, tmp_path):
    demo = (tmp_path / "demo.out").read_text()
    admin_code = next(line.split()[0] for line in demo.splitlines() if "(quản trị viên" in line)
    folder = tmp_path / "files"
    folder.mkdir()
    script = f"/start {admin_code}\n/chart 10/2023\n/export 10/2023\n/chart 10/2023\n"
    chat = demo_sipas("chat", "--user", "admin-1", "--files", str(folder), stdin=script)
    assert chat.returncode == 0, chat.stderr
    printed = [line.split("📎 ", 1)[1] for line in chat.stdout.splitlines() if "📎 " in line]
    assert len(printed) == 3 and len(set(printed)) == 3  # the second chart is not overwritten
    written = sorted(p.name for p in folder.iterdir())
    assert sorted(os.path.basename(p) for p in printed) == written
    png, xlsx = (
        next(p for p in printed if p.endswith(".png")),
        next(p for p in printed if p.endswith(".xlsx")),
    )
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Path(xlsx).read_bytes()[:2] == b"PK"


async def test_serve_sets_up_a_new_database_and_leaves_an_old_one_to_db_upgrade(tmp_path, capsys):
    from bot.core.app import App
    from bot.server import _schema_ready
    from storage.migrate import current_revision, head_revision, upgrade
    from tests.conftest import make_settings

    fresh = App(make_settings(f"sqlite:///{tmp_path / 'new.db'}", tmp_path / "data"))
    old = App(make_settings(f"sqlite:///{tmp_path / 'old.db'}", tmp_path / "data"))
    try:
        assert await _schema_ready(fresh, lambda text: text)
        assert await current_revision(fresh.db) == head_revision()
        assert "New database: set up at revision" in capsys.readouterr().out
        await upgrade(old.db, "0001")
        assert not await _schema_ready(old, lambda text: text)
        assert await current_revision(old.db) == "0001"  # left alone
        assert "run 'sipas-bot db upgrade' first" in capsys.readouterr().err
    finally:
        await fresh.close()
        await old.close()
