"""Which schema revision the database is at, and which one the code needs, without
Alembic: every command checks this before it runs, and importing Alembic and loading
each migration to find the newest cost a report ~0.15 s of its start-up.

The newest revision is read from the migration files' ``revision`` and ``down_revision``
assignments (parsed, not run); the database's from Alembic's own ``alembic_version``
table. Anything these cannot read plainly (a merge of branches, two rows in the table)
is left to Alembic (``alembic_head``, ``alembic_current``, imported only then), whose
answers tests/test_migrations.py compares with these.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from sqlalchemy import inspect, text

from storage.db import Database

VERSIONS = Path(__file__).parent / "migrations" / "versions"
VERSION_TABLE = "alembic_version"  # Alembic's default (storage/migrations/env.py keeps it)


@functools.cache
def head_revision() -> str:
    """The newest revision in the project."""
    revisions: dict[str, object] = {}
    for path in sorted(VERSIONS.glob("*.py")):
        found = _assignments(path)
        if not isinstance(found.get("revision"), str):
            return alembic_head()
        revisions[found["revision"]] = found.get("down_revision")  # type: ignore[index]
    if any(not (down is None or isinstance(down, str)) for down in revisions.values()):
        return alembic_head()  # a merge: several parents
    heads = set(revisions) - {down for down in revisions.values() if down is not None}
    return heads.pop() if len(heads) == 1 else alembic_head()


def _assignments(path: Path) -> dict[str, object]:
    """The module-level constants ``revision`` and ``down_revision`` of a migration."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            try:
                found[target.id] = ast.literal_eval(value) if value is not None else None
            except ValueError:
                found[target.id] = object()  # not a constant: Alembic decides
    return found


def alembic_head() -> str:
    """The newest revision in the project, as Alembic finds it (the reference)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(VERSIONS.parent))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


async def alembic_current(db: Database) -> str | None:
    """The revision the database is at, as Alembic reads it (the reference)."""
    from alembic.runtime.migration import MigrationContext

    async with db.engine.connect() as conn:
        return await conn.run_sync(
            lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
        )


async def current_revision(db: Database) -> str | None:
    """The revision the database is at (None before the first migration)."""
    async with db.engine.connect() as conn:
        if not await conn.run_sync(lambda c: inspect(c).has_table(VERSION_TABLE)):
            return None
        rows = (await conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))).all()
    if len(rows) > 1:  # branches: Alembic says what that means
        return await alembic_current(db)
    return rows[0][0] if rows else None
