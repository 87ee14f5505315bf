"""Counter tablets (kiosk devices): registration, pairing, revocation, and the responses
they open. Only keyed hashes of the pairing code and of the device token are stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Feedback, KioskDevice, Procedure, Response, ResponseOrigin, Unit
from storage.sql import insert
from storage.surveys import COMPLETED, IN_PROGRESS


@dataclass(frozen=True)
class DeviceRow:
    """A tablet with its unit, as the kiosk pages and ``kiosk list`` need it."""

    id: int
    unit_id: int
    unit_code: str
    unit_name: str
    questionnaire_code: str
    counter: str | None
    procedures: tuple[tuple[int, str], ...]  # (id, name) offered in the picker
    paired_at: datetime | None
    revoked_at: datetime | None
    last_seen_at: datetime | None
    pairing_expires_at: datetime | None
    responses: int = 0

    @property
    def status(self) -> str:
        """``revoked``, ``paired`` or ``waiting`` (its pairing link not used yet)."""
        if self.revoked_at is not None:
            return "revoked"
        return "paired" if self.paired_at is not None else "waiting"


async def add_device(
    session: AsyncSession,
    unit_id: int,
    counter: str | None,
    procedure_ids: list[int],
    pairing_hash: str,
    pairing_expires_at: datetime,
) -> int:
    """Register a tablet waiting to be paired; returns its id."""
    device = KioskDevice(
        unit_id=unit_id,
        counter=counter,
        procedures=procedure_ids,
        pairing_hash=pairing_hash,
        pairing_expires_at=pairing_expires_at,
    )
    session.add(device)
    await session.flush()
    assert device.id is not None
    return device.id


def _device_query():
    return select(KioskDevice, Unit.code, Unit.name, Unit.questionnaire_code).join(
        Unit, Unit.id == KioskDevice.unit_id
    )


async def _row(session: AsyncSession, device: KioskDevice, code: str, name: str, q: str):
    names: dict[int, str] = {}
    if device.procedures:
        stmt = select(Procedure.id, Procedure.name).where(Procedure.id.in_(device.procedures))
        names = dict((await session.exec(stmt)).all())  # type: ignore[arg-type]
    assert device.id is not None
    return DeviceRow(
        id=device.id,
        unit_id=device.unit_id,
        unit_code=code,
        unit_name=name,
        questionnaire_code=q,
        counter=device.counter,
        procedures=tuple((pid, names[pid]) for pid in device.procedures if pid in names),
        paired_at=device.paired_at,
        revoked_at=device.revoked_at,
        last_seen_at=device.last_seen_at,
        pairing_expires_at=device.pairing_expires_at,
    )


async def waiting_for_pairing(
    session: AsyncSession, pairing_hash: str, now: datetime
) -> DeviceRow | None:
    """The unpaired, unrevoked tablet whose pairing link this is, if it has not expired."""
    stmt = _device_query().where(
        KioskDevice.pairing_hash == pairing_hash,
        KioskDevice.paired_at.is_(None),
        KioskDevice.revoked_at.is_(None),
        KioskDevice.pairing_expires_at > now,
    )
    found = (await session.exec(stmt)).first()
    return await _row(session, *found) if found else None


async def pair(
    session: AsyncSession, pairing_hash: str, token_hash: str, now: datetime
) -> int | None:
    """Spend a pairing link: the tablet's token is stored; returns the device id (None
    when the link is unknown, expired, revoked or already used)."""
    stmt = (
        update(KioskDevice)
        .where(
            KioskDevice.pairing_hash == pairing_hash,
            KioskDevice.paired_at.is_(None),
            KioskDevice.revoked_at.is_(None),
            KioskDevice.pairing_expires_at > now,
        )
        .values(pairing_hash=None, token_hash=token_hash, paired_at=now, last_seen_at=now)
        .returning(KioskDevice.id)
    )
    return (await session.exec(stmt)).scalar_one_or_none()


async def paired_device(session: AsyncSession, device_id: int, token_hash: str) -> DeviceRow | None:
    """The paired, unrevoked tablet with this id and token (None otherwise)."""
    stmt = _device_query().where(
        KioskDevice.id == device_id,
        KioskDevice.token_hash == token_hash,
        KioskDevice.revoked_at.is_(None),
        KioskDevice.paired_at.is_not(None),
    )
    found = (await session.exec(stmt)).first()
    return await _row(session, *found) if found else None


async def touch(session: AsyncSession, device_id: int, now: datetime) -> None:
    """Note that the tablet was used now."""
    await session.exec(
        update(KioskDevice).where(KioskDevice.id == device_id).values(last_seen_at=now)
    )


async def revoke(session: AsyncSession, device_id: int, now: datetime) -> bool:
    """Revoke a tablet (its token and any unused pairing link); False if unknown or
    already revoked."""
    stmt = (
        update(KioskDevice)
        .where(KioskDevice.id == device_id, KioskDevice.revoked_at.is_(None))
        .values(revoked_at=now, pairing_hash=None)
        .returning(KioskDevice.id)
    )
    return (await session.exec(stmt)).scalar_one_or_none() is not None


async def list_devices(session: AsyncSession) -> list[DeviceRow]:
    """Every tablet, with the completed responses it collected."""
    counts = dict(
        (
            await session.exec(
                select(ResponseOrigin.device_id, func.count())
                .join(Response, Response.id == ResponseOrigin.response_id)
                .where(ResponseOrigin.device_id.is_not(None), Response.status == COMPLETED)
                .group_by(ResponseOrigin.device_id)
            )
        ).all()  # type: ignore[arg-type]
    )
    rows = []
    for found in (await session.exec(_device_query().order_by(KioskDevice.id))).all():
        row = await _row(session, *found)
        rows.append(DeviceRow(**{**row.__dict__, "responses": counts.get(row.id, 0)}))
    return rows


async def open_response(
    session: AsyncSession,
    *,
    key: str,
    device_id: int,
    unit_id: int,
    procedure_id: int | None,
    questionnaire_id: int,
    respondent_hash: str,
    at: datetime,
) -> int:
    """The id of the tablet's response ``key``, opened now if it is new (a double tap
    posts the same key twice: the second finds the first)."""
    await session.exec(
        insert(session, Response)
        .values(
            key=key,
            unit_id=unit_id,
            procedure_id=procedure_id,
            questionnaire_id=questionnaire_id,
            channel="kiosk",
            respondent_hash=respondent_hash,
            status=IN_PROGRESS,
            started_at=at,
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )
    response_id = (await session.exec(select(Response.id).where(Response.key == key))).scalar_one()
    await session.exec(
        insert(session, ResponseOrigin)
        .values(response_id=response_id, device_id=device_id)
        .on_conflict_do_nothing(index_elements=["response_id"])
    )
    return response_id


async def response_status(session: AsyncSession, key: str, device_id: int) -> str | None:
    """The status of the tablet's response ``key`` (None when it has none by that key)."""
    found = await response_state(session, key, device_id)
    return found[0] if found else None


async def response_state(
    session: AsyncSession, key: str, device_id: int
) -> tuple[str, datetime | None] | None:
    """The status and completion time of the tablet's response ``key``, if it has one."""
    stmt = (
        select(Response.status, Response.completed_at)
        .join(ResponseOrigin, ResponseOrigin.response_id == Response.id)
        .where(Response.key == key, ResponseOrigin.device_id == device_id)
    )
    row = (await session.exec(stmt)).first()
    return (row[0], row[1]) if row else None


async def has_feedback(session: AsyncSession, key: str) -> bool:
    """Whether the response ``key`` already has a feedback item (a double tap)."""
    stmt = (
        select(Feedback.id)
        .join(Response, Response.id == Feedback.response_id)
        .where(Response.key == key)
    )
    return (await session.exec(stmt)).first() is not None
