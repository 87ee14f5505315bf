"""The audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import AuditLog


async def log(
    session: AsyncSession,
    actor: str,
    action: str,
    *,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Append one audit line (in the caller's transaction)."""
    entry = AuditLog(actor=actor, action=action, target=target, detail=detail or {})
    if at is not None:
        entry.at = at
    session.add(entry)
    await session.flush()
