"""Schema migrations (Alembic), callable from async code and the CLI."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

from storage.db import Database
from storage.revision import alembic_current, alembic_head, current_revision, head_revision

__all__ = [
    "alembic_config",
    "alembic_current",
    "alembic_head",
    "current_revision",
    "downgrade",
    "head_revision",
    "upgrade",
]

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """An Alembic config pointing at the project's migrations (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


async def upgrade(db: Database, revision: str = "head") -> None:
    """Apply migrations up to ``revision``."""
    await _run(db, lambda cfg: command.upgrade(cfg, revision))


async def downgrade(db: Database, revision: str) -> None:
    """Revert migrations down to ``revision`` ("base" for an empty database)."""
    await _run(db, lambda cfg: command.downgrade(cfg, revision))


async def _run(db: Database, action) -> None:
    cfg = alembic_config()

    def run(sync_conn) -> None:
        cfg.attributes["connection"] = sync_conn
        action(cfg)

    # A plain engine: SQLite batch mode copies tables, which foreign-key enforcement
    # (switched on for the application's connections) would trip over mid-way.
    engine = create_async_engine(db.url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(run)
    finally:
        await engine.dispose()
