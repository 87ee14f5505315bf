"""What every table shares: the naming convention of constraints, the metadata, and the
timestamp fields."""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow

# Deterministic constraint names: Alembic's batch mode on SQLite needs them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata
# Build each model's pydantic validator when it is first used, not when its class is
# defined: the tables are mostly used through SQLAlchemy, and building the forty
# validators cost every command about 80 ms of start-up.
SQLModel.model_config["defer_build"] = True


def now_field(**kw: Any) -> Any:
    # The column default too, so Core INSERTs (bulk and upserts) get it as well.
    return Field(
        default_factory=utcnow, sa_type=UTCDateTime, sa_column_kwargs={"default": utcnow}, **kw
    )


def time_field(**kw: Any) -> Any:
    return Field(default=None, sa_type=UTCDateTime, **kw)
