"""Builders for the admin tests: a small tree, linked staff, citizens who rate."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot.core.app import App
from storage import units
from storage.models import AuditLog, Procedure, ProcedureField, Unit
from tests.builders import Citizen, new_code, new_registration


@dataclass
class Tree:
    """P (province) → D (district) → W1, W2 (wards); P → W3 (ward)."""

    province: Unit
    district: Unit
    w1: Unit
    w2: Unit
    w3: Unit
    procedure: Procedure


async def make_tree(app: App) -> Tree:
    async with app.db.write() as session:
        p = await units.create_unit(session, "P", "Tỉnh Thử Nghiệm", "province")
        d = await units.create_unit(session, "P.D", "Huyện Đông", "district", p)
        w1 = await units.create_unit(session, "P.D.W1", "Phường Một", "ward", d)
        w2 = await units.create_unit(session, "P.D.W2", "Phường Hai", "ward", d)
        w3 = await units.create_unit(session, "P.W3", "Xã Ba", "commune", p)
        f = ProcedureField(code="HT", name="Hộ tịch")
        session.add(f)
        await session.flush()
        proc = Procedure(code="T-HT-01", name="Đăng ký khai sinh", field_id=f.id)
        session.add(proc)
        await session.flush()
    return Tree(p, d, w1, w2, w3, proc)


async def staff(app: App, unit: Unit, role: str, user: str, name: str = "Cán Bộ") -> Citizen:
    """A person of ``role`` at ``unit``, linked to chat user ``user``; inbox emptied."""
    chat = Citizen(app, user)
    await chat.say(await new_registration(app, unit, role, name))
    return chat


async def rate(
    app: App,
    unit: Unit,
    user: str,
    overall: int,
    *,
    code: str | None = None,
    contact: bool = False,
    comment: str | None = None,
    elements: list[int | None] | None = None,
) -> Citizen:
    """One citizen's quick survey through the real engine."""
    citizen = Citizen(app, user)
    await citizen.say(code or await new_code(app, unit))
    await citizen.say(str(overall))
    if overall in (1, 2):
        await citizen.press_label("Chờ đợi lâu")
        await citizen.press_label("Có, xin liên hệ" if contact else "Không cần")
    if elements is None:
        await citizen.press_label("Không, kết thúc")
    else:
        await citizen.press_label("Có, tiếp tục")
        asked = overall in (1, 2)  # the "what went wrong" follow-up comes once
        for value in elements:
            await citizen.say("bỏ qua" if value is None else str(value))
            if value in (1, 2) and not asked:
                asked = True
                await citizen.press_label("Chờ đợi lâu")
                await citizen.press_label("Không cần")
    if comment:
        await citizen.say(comment)
    else:
        await citizen.press_label("Bỏ qua")
    return citizen


async def audit_actions(app: App) -> list[tuple[str, str | None]]:
    async with app.db.read() as session:
        rows = (await session.exec(select(AuditLog).order_by(AuditLog.id))).scalars().all()
    return [(r.action, r.target) for r in rows]
