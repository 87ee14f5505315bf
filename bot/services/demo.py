"""Demo data: a city after the July 2025 reform (wards under the city) and a legacy
district from 2023, with procedures, quotas, officials and synthetic responses.

Names of places are real, codes are the project's own (never official TTHC codes), and
every response is synthetic, drawn from a seeded generator so runs are reproducible.
The legacy district holds the figures used in examples: its one-stop shop collected
249 of 300 questionnaires in 10/2023, and three fields (Giáo dục, Tài nguyên và Môi
trường, Y tế) 370 of 370.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, insert, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.app import App
from bot.services import demo_inperson
from bot.services.invites import IssuedInvite, issue_invite, issue_registration
from flows import questionnaire as qn
from flows.periods import month, quarter_of
from storage import rollups, units
from storage.models import (
    Answer,
    Dossier,
    Procedure,
    ProcedureField,
    Quota,
    QuotaField,
    Response,
    Unit,
)
from storage.surveys import COMPLETED

FIELDS = [
    ("HT", "Hộ tịch"),
    ("CT", "Chứng thực"),
    ("BTXH", "Bảo trợ xã hội"),
    ("DD", "Đất đai"),
    ("XD", "Xây dựng"),
    ("HKD", "Hộ kinh doanh"),
    ("GD", "Giáo dục và Đào tạo"),
    ("TNMT", "Tài nguyên và Môi trường"),
    ("YT", "Y tế"),
]
PROCEDURES = [
    ("DEMO-HT-01", "Đăng ký khai sinh", "HT"),
    ("DEMO-HT-02", "Đăng ký khai tử", "HT"),
    ("DEMO-HT-03", "Đăng ký kết hôn", "HT"),
    ("DEMO-HT-04", "Xác nhận tình trạng hôn nhân", "HT"),
    ("DEMO-HT-05", "Cấp bản sao trích lục hộ tịch", "HT"),
    ("DEMO-CT-01", "Chứng thực bản sao từ bản chính", "CT"),
    ("DEMO-CT-02", "Chứng thực chữ ký", "CT"),
    ("DEMO-BTXH-01", "Trợ cấp xã hội hằng tháng", "BTXH"),
    ("DEMO-DD-01", "Đăng ký biến động đất đai", "DD"),
    ("DEMO-XD-01", "Cấp giấy phép xây dựng nhà ở riêng lẻ", "XD"),
    ("DEMO-HKD-01", "Đăng ký thành lập hộ kinh doanh", "HKD"),
    ("DEMO-GD-01", "Chuyển trường đối với học sinh trung học cơ sở", "GD"),
    ("DEMO-TNMT-01", "Đăng ký kế hoạch bảo vệ môi trường", "TNMT"),
    ("DEMO-YT-01", "Cấp giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm", "YT"),
]
WARD_PROCEDURES = [p for p in PROCEDURES if p[2] in ("HT", "CT", "BTXH", "DD", "XD", "HKD")]
CITY = ("DN", "Thành phố Đà Nẵng", "city")
WARDS = [
    ("DN.HAICHAU", "Phường Hải Châu", "ward", 0.90),
    ("DN.THANHKHE", "Phường Thanh Khê", "ward", 0.84),
    ("DN.HOIAN", "Phường Hội An", "ward", 0.88),
    ("DN.HOAVANG", "Xã Hòa Vang", "commune", 0.78),
]
DISTRICT = ("DN.SONTRA", "Quận Sơn Trà (đến 30/6/2025)", "district")
DISTRICT_OFFICES = [
    (
        "DN.SONTRA.MC",
        "Bộ phận Một cửa quận Sơn Trà",
        "one_stop",
        0.83,
        ["HT", "CT", "XD", "HKD"],
        249,
    ),
    ("DN.SONTRA.GD", "Phòng Giáo dục và Đào tạo quận Sơn Trà", "department", 0.86, ["GD"], 130),
    (
        "DN.SONTRA.TNMT",
        "Phòng Tài nguyên và Môi trường quận Sơn Trà",
        "department",
        0.80,
        ["TNMT"],
        120,
    ),
    ("DN.SONTRA.YT", "Phòng Y tế quận Sơn Trà", "department", 0.89, ["YT"], 120),
]
LEGACY_MONTH = (2023, 10)


@dataclass
class DemoSummary:
    units: int = 0
    responses: int = 0
    counter_codes: list[IssuedInvite] = field(default_factory=list)
    dossier_codes: list[IssuedInvite] = field(default_factory=list)
    registrations: list[tuple[str, str, str, str]] = field(
        default_factory=list
    )  # name, role, unit, code
    kiosk_link: str = ""  # pairs the demo counter tablet


async def is_empty(session: AsyncSession) -> bool:
    """Whether the database has no units yet."""
    return (await session.exec(select(func.count()).select_from(Unit))).scalar_one() == 0


async def load(
    app: App, session: AsyncSession, responses: int = 200, seed: int = 2025
) -> DemoSummary:
    """Load the demo organisation and ``responses`` synthetic recent responses."""
    rng = random.Random(seed)
    summary = DemoSummary()
    fields = {}
    for code, name in FIELDS:
        f = ProcedureField(code=code, name=name)
        session.add(f)
        fields[code] = f
    await session.flush()
    procedures = {}
    for code, name, field_code in PROCEDURES:
        p = Procedure(code=code, name=name, field_id=fields[field_code].id)
        session.add(p)
        procedures[code] = p
    await session.flush()

    city = await units.create_unit(session, *CITY)
    wards = [
        (await units.create_unit(session, code, name, kind, city), quality)
        for code, name, kind, quality in WARDS
    ]
    district = await units.create_unit(
        session, *DISTRICT, city, questionnaire_code="sipas-2023", legacy=True
    )
    offices = []
    for code, name, kind, quality, office_fields, n in DISTRICT_OFFICES:
        unit = await units.create_unit(
            session, code, name, kind, district, questionnaire_code="sipas-2023", legacy=True
        )
        offices.append((unit, quality, office_fields, n))
    summary.units = 2 + len(wards) + len(offices)

    # Quotas: 2023 legacy figures, and this quarter's 90 per ward (Hội An's 2024 figure).
    legacy = month(*LEGACY_MONTH)
    legacy_start, legacy_end = legacy.start, legacy.end
    session.add(
        Quota(
            unit_id=offices[0][0].id,
            period_start=legacy_start,
            period_end=legacy_end,
            target_count=300,
            label="Phiếu khảo sát tháng 10/2023",
        )
    )
    fields_quota = Quota(
        unit_id=district.id,
        period_start=legacy_start,
        period_end=legacy_end,
        target_count=370,
        label="Khảo sát lĩnh vực GD, TNMT, Y tế",
    )
    session.add(fields_quota)
    await session.flush()
    for code in ("GD", "TNMT", "YT"):
        session.add(QuotaField(quota_id=fields_quota.id, field_id=fields[code].id))
    today = app.now().astimezone(app.tz).date()
    this_quarter = quarter_of(today)
    for ward, _quality in wards:
        session.add(
            Quota(
                unit_id=ward.id,
                period_start=this_quarter.start,
                period_end=this_quarter.end,
                target_count=90,
                target_ratio=0.15,
                label="Chỉ tiêu khảo sát quý",
            )
        )
    await session.flush()

    # Legacy October 2023 responses (sipas-2023, 19 items), exactly as in the examples.
    sipas = qn.get("sipas-2023")
    sipas_id = await app.questionnaire_id(session, sipas.code, sipas.version)
    for unit, quality, office_fields, n in offices:
        office_procs = [procedures[c] for c, _n, f in PROCEDURES if f in office_fields]
        when = _spread(rng, n, legacy_start, legacy_end, app)
        summary.responses += await _responses(
            session, rng, unit, office_procs, sipas, sipas_id, quality, when, dossiers=True
        )

    # Recent responses at the wards (quick questionnaire).
    quick = qn.get("quick")
    quick_id = await app.questionnaire_id(session, quick.code, quick.version)
    start = max(this_quarter.start, today - timedelta(days=45))
    ward_procs = [procedures[c] for c, _n, _f in WARD_PROCEDURES]
    in_person = responses // 4  # a quarter at the counter, by surveyors and on paper
    chat = responses - in_person
    for i, (ward, quality) in enumerate(wards):
        n = chat // len(wards) + (1 if i < chat % len(wards) else 0)
        when = _spread(rng, n, start, today, app)
        summary.responses += await _responses(
            session, rng, ward, ward_procs, quick, quick_id, quality, when, dossiers=True
        )

    # Counter tablet, assisted interviews and paper ballots (bot/services/demo_inperson.py).
    n, surveyor_code, summary.kiosk_link = await demo_inperson.load(
        app, session, random.Random(seed + 1), in_person, wards, ward_procs, start, today
    )
    summary.responses += n
    await rollups.rebuild(session, app.tz)  # the bulk inserts above bypass the increments

    # Codes to try: a counter code per ward, a few single-use dossier codes.
    for ward, _quality in wards:
        summary.counter_codes.append(
            await issue_invite(app, session, ward, kind="counter", label="Quầy tiếp nhận")
        )
    for proc_code in ("DEMO-HT-01", "DEMO-CT-01", "DEMO-HKD-01"):
        summary.dossier_codes.append(
            await issue_invite(app, session, wards[0][0], procedure=procedures[proc_code])
        )
    staff = [
        ("Nguyễn Văn An", "official", wards[0][0]),
        ("Trần Thị Bình", "leader", wards[0][0]),
        ("Lê Minh Châu", "admin", city),
    ]
    for name, role, unit in staff:
        _pid, code = await issue_registration(app, session, name=name, role=role, unit=unit)
        summary.registrations.append((name, role, unit.code, code))
    summary.registrations.append(("Phạm Thu Hà", "surveyor", wards[0][0].code, surveyor_code))
    # Deadlines for the wards' officials (the CCHC reports and the self-assessment).
    from bot.services.deadlines import load_demo

    await load_demo(app, session, city.code)
    return summary


async def fresh_code(app: App, session: AsyncSession) -> IssuedInvite | None:
    """A new single-use code at the first demo ward, for someone trying the demo again;
    None when the database holds no demo data."""
    ward = await units.by_code(session, WARDS[0][0])
    stmt = select(Procedure).where(Procedure.code == PROCEDURES[0][0])
    procedure = (await session.exec(stmt)).scalars().first()
    if ward is None or procedure is None:
        return None
    return await issue_invite(app, session, ward, procedure=procedure)


def _spread(rng: random.Random, n: int, start: date, end: date, app: App) -> list[datetime]:
    """``n`` completion times on working days between 07:30 and 17:00 local time."""
    days = [start + timedelta(days=d) for d in range((end - start).days + 1)]
    working = [d for d in days if d.weekday() < 5] or days
    times = []
    for _ in range(n):
        day = rng.choice(working)
        minute = rng.randint(7 * 60 + 30, 17 * 60)
        local = datetime.combine(day, time(minute // 60, minute % 60), app.tz)
        times.append(min(local.astimezone(UTC), app.now()))
    return sorted(times)


def _rating(rng: random.Random, quality: float) -> int:
    """A 1–5 answer: ``quality`` is the chance of 4 or 5."""
    if rng.random() < quality:
        return 5 if rng.random() < 0.55 else 4
    return rng.choices([3, 2, 1], weights=[6, 3, 1])[0]


async def _responses(
    session: AsyncSession,
    rng: random.Random,
    unit: Unit,
    procs: list[Procedure],
    q: qn.Questionnaire,
    questionnaire_id: int,
    quality: float,
    times: list[datetime],
    *,
    dossiers: bool,
) -> int:
    if not times:
        return 0
    response_rows, answer_rows, dossier_rows = [], [], []
    for completed in times:
        proc = rng.choice(procs)
        key = secrets.token_hex(16)
        unit_quality = min(0.99, max(0.3, quality + rng.uniform(-0.08, 0.08)))
        response_rows.append(
            {
                "key": key,
                "unit_id": unit.id,
                "procedure_id": proc.id,
                "questionnaire_id": questionnaire_id,
                "channel": rng.choice(["zalo", "zalo", "zalo", "telegram", "web"]),
                "respondent_hash": secrets.token_hex(20),
                "status": COMPLETED,
                "started_at": completed - timedelta(minutes=rng.randint(1, 4)),
                "completed_at": completed,
            }
        )
        if dossiers:
            dossier_rows.append(
                {
                    "receipt_code": f"DEMO-{unit.code}-{len(dossier_rows) + 1:05d}-{key[:4]}",
                    "unit_id": unit.id,
                    "procedure_id": proc.id,
                    "completed_at": completed - timedelta(minutes=10),
                    "created_at": completed - timedelta(minutes=10),
                }
            )
        wants_elements = q.code != "quick" or rng.random() < 0.6
        for item in q.items:
            if item.element != "overall" and not wants_elements:
                break
            skip_chance = 0.3 if item.element == "E5" else 0.03
            value = None if rng.random() < skip_chance else _rating(rng, unit_quality)
            answer_rows.append((key, item, value, completed))
    # Dossiers not surveyed too, so "share of dossiers surveyed" is realistic (≈ 1 in 6).
    if dossiers:
        for i in range(int(len(times) * rng.uniform(4.0, 7.5))):
            completed = rng.choice(times) - timedelta(minutes=rng.randint(0, 600))
            dossier_rows.append(
                {
                    "receipt_code": f"DEMO-{unit.code}-X{i:06d}",
                    "unit_id": unit.id,
                    "procedure_id": rng.choice(procs).id,
                    "completed_at": completed,
                    "created_at": completed,
                }
            )
    ids = dict(
        (
            await session.exec(
                insert(Response).returning(Response.key, Response.id, sort_by_parameter_order=True),
                params=response_rows,
            )
        ).all()
    )
    await session.exec(
        insert(Answer),
        params=[
            {
                "response_id": ids[key],
                "item_code": item.code,
                "element_code": item.element,
                "scale": item.scale,
                "value": value,
                "answered_at": at,
            }
            for key, item, value, at in answer_rows
        ],
    )
    if dossier_rows:
        await session.exec(insert(Dossier), params=dossier_rows)
    return len(response_rows)
