"""The operations commands as an operator types them: prune, backup, check, restore,
outbox list (real processes on a SQLite database; both databases are covered by
test_ops_retention.py and test_ops_backup.py)."""

from __future__ import annotations

import re

from tests.test_cli import runner


def responses(out: str) -> int:
    return int(re.search(r"response: (\d+)", out).group(1))


def people(out: str) -> int:
    return int(re.search(r"person: (\d+)", out).group(1))


def test_prune_backup_check_restore_and_dead_letters_from_the_command_line(tmp_path):
    run = runner(tmp_path)
    assert run("db", "upgrade").returncode == 0
    assert run("demo", "--responses", "3").returncode == 0

    pruned = run("db", "prune")
    assert pruned.returncode == 0 and "Đã xóa 0 khóa chống trùng" in pruned.stdout

    taken = run("db", "backup", str(tmp_path / "b1.db"))
    assert taken.returncode == 0, taken.stderr
    assert "secret.key" in taken.stdout and responses(taken.stdout) > 0
    before = responses(taken.stdout)
    again = run("db", "backup", str(tmp_path / "b1.db"))
    assert again.returncode == 2 and "đã có: hãy chọn một tệp mới" in again.stderr

    checked = run("db", "check", str(tmp_path / "b1.db"))
    assert checked.returncode == 0 and responses(checked.stdout) == before
    (tmp_path / "junk.db").write_text("not a database")
    assert run("db", "check", str(tmp_path / "junk.db")).returncode == 2
    assert run("db", "restore", str(tmp_path / "junk.db")).returncode == 2

    staff = people(taken.stdout)
    added = run(
        "person", "add", "--name", "Lê Văn Mới", "--unit", "DN.HAICHAU", "--role", "official"
    )
    assert added.returncode == 0, added.stderr  # a change after the backup
    assert people(run("db", "check", str(tmp_path / "cli.db")).stdout) == staff + 1
    restored = run("db", "restore", str(tmp_path / "b1.db"))
    assert restored.returncode == 0, restored.stderr
    now = run("db", "check", str(tmp_path / "cli.db")).stdout
    assert responses(now) == before and people(now) == staff  # the change is gone

    listed = run("outbox", "list", "--dead")
    assert listed.returncode == 0 and "Không có tin nhắn nào gửi thất bại" in listed.stdout
    wrong = run("outbox", "resend", "999999")
    assert wrong.returncode == 2 and "999999" in wrong.stderr


def test_zns_dead_letters_can_be_listed_by_channel(tmp_path):
    """ZNS messages waiting as dead letters (cap, quota, template) are listed like any
    other channel's."""
    run = runner(tmp_path)
    assert run("db", "upgrade").returncode == 0
    listed = run("outbox", "list", "--dead", "--channel", "zns")
    assert listed.returncode == 0, listed.stderr


def test_restore_is_refused_while_a_server_holds_the_database(tmp_path):
    """A serving process holds its instance lock; ``db restore`` refuses, changes nothing,
    and works once the server has stopped."""
    import asyncio

    from storage.db import Database
    from storage.instances import InstanceLock

    run = runner(tmp_path)
    assert run("db", "upgrade").returncode == 0
    assert run("db", "backup", str(tmp_path / "b.db")).returncode == 0

    db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    lock = InstanceLock(db, "test-server")
    assert asyncio.run(lock.hold())
    try:
        refused = run("db", "restore", str(tmp_path / "b.db"))
        assert refused.returncode == 2
        assert "một máy chủ đang chạy trên cơ sở dữ liệu này" in refused.stderr
    finally:
        asyncio.run(lock.release())
    assert run("db", "restore", str(tmp_path / "b.db")).returncode == 0
