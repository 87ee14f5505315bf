"""What admins type: periods in Vietnamese, units by code or forgiving name, ambiguity;
office hours and quota pace; the small-number rule. Plain calls, no database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from flows.contract import UnitInfo
from flows.i18n import translator
from flows.office_hours import working_days_left, working_hours_between
from flows.periods import parse
from flows.privacy import Privacy, for_role, redact
from flows.report_text import pace_line, quota_text
from flows.units import (
    EXACT_CODE,
    NAME_STARTS,
    NONE,
    SAME_NAME,
    WORDS_IN_NAME,
    TargetError,
    find_units,
    match_quality,
    parse_target,
)

TODAY = date(2026, 11, 26)  # a Thursday
HCM = ZoneInfo("Asia/Ho_Chi_Minh")

UNITS = [
    UnitInfo(1, "HCM", "Thành phố Hồ Chí Minh", "city", "/1/"),
    UnitInfo(2, "HCM.Q1", "Quận 1", "district", "/1/2/", 1),
    UnitInfo(3, "HCM.Q3", "Quận 3", "district", "/1/3/", 1),
    UnitInfo(4, "HCM.Q1.BN", "Phường Bến Nghé", "ward", "/1/2/4/", 2),
    UnitInfo(5, "DN.HAICHAU", "Phường Hải Châu", "ward", "/5/"),
    UnitInfo(6, "DN.Q.HAICHAU", "Quận Hải Châu (đến 30/6/2025)", "district", "/6/"),
    UnitInfo(7, "DN.SONTRA", "Quận Sơn Trà (đến 30/6/2025)", "district", "/7/"),
    UnitInfo(8, "DN.SONTRA.MC", "Bộ phận Một cửa quận Sơn Trà", "one_stop", "/7/8/", 7),
    UnitInfo(9, "HCM.P12", "Phường 12", "ward", "/1/9/", 1),
]


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("hôm qua", date(2026, 11, 25), date(2026, 11, 25)),
        ("tuần này", date(2026, 11, 23), date(2026, 11, 29)),
        ("tuần trước", date(2026, 11, 16), date(2026, 11, 22)),
        ("tháng 10", date(2026, 10, 1), date(2026, 10, 31)),
        ("tháng 12", date(2025, 12, 1), date(2025, 12, 31)),  # December has not begun: last year's
        ("quý 4", date(2026, 10, 1), date(2026, 12, 31)),
        ("Q1", date(2026, 1, 1), date(2026, 3, 31)),
        ("6 tháng đầu năm 2024", date(2024, 1, 1), date(2024, 6, 30)),
        ("6 tháng cuối năm", date(2026, 7, 1), date(2026, 12, 31)),
        ("từ 01/10/2023 đến 15/10/2023", date(2023, 10, 1), date(2023, 10, 15)),
        ("Quý IV/2023", date(2023, 10, 1), date(2023, 12, 31)),
    ],
)
def test_more_vietnamese_periods(text, start, end):
    period = parse(text, TODAY)
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize(
    ("text", "unit_id", "quality"),
    [
        ("HCM.Q1", 2, EXACT_CODE),
        ("hcm.q1", 2, EXACT_CODE),
        ("Quận 1", 2, SAME_NAME),
        ("quan 1", 2, SAME_NAME),
        ("Bến Nghé", 4, SAME_NAME),  # the kind word may be left out
        ("ben nghe", 4, SAME_NAME),
        ("sontra.mc", 8, SAME_NAME),  # the code without its prefix
        ("Sơn Trà", 7, SAME_NAME),  # the remark in brackets too
        ("Một cửa", 8, NAME_STARTS),
        ("cua son", 8, WORDS_IN_NAME),
    ],
)
def test_units_by_code_or_forgiving_name(text, unit_id, quality):
    best, found = find_units(text, UNITS)
    assert best == quality
    assert [u.unit_id for u in found] == [unit_id]


def test_ambiguous_name_gives_every_candidate():
    best, found = find_units("Hải Châu", UNITS)
    assert best == SAME_NAME and [u.unit_id for u in found] == [5, 6]
    assert match_quality("Đà Lạt", UNITS[0]) == NONE


@pytest.mark.parametrize(
    ("text", "unit_ids", "period"),
    [
        ("", [], None),
        ("quý 4/2023", [], (date(2023, 10, 1), date(2023, 12, 31))),
        ("tháng này", [], (date(2026, 11, 1), date(2026, 11, 30))),
        ("HCM.Q1 10/2023", [2], (date(2023, 10, 1), date(2023, 10, 31))),
        ("10/2023 HCM.Q1", [2], (date(2023, 10, 1), date(2023, 10, 31))),
        # "1 2023" also reads as January 2023; the unit that matches best decides.
        ("Quận 1 2023", [2], (date(2023, 1, 1), date(2023, 12, 31))),
        ("Phường 12", [9], None),
        ("Hải Châu quý này", [5, 6], (date(2026, 10, 1), date(2026, 12, 31))),
        ("Sơn Trà 01/10/2023-15/10/2023", [7], (date(2023, 10, 1), date(2023, 10, 15))),
    ],
)
def test_arguments_split_into_unit_and_period(text, unit_ids, period):
    target = parse_target(text, UNITS, TODAY)
    assert [u.unit_id for u in target.units] == unit_ids
    if period is None:
        assert target.period is None
    else:
        assert (target.period.start, target.period.end) == period


def test_unknown_unit_quotes_what_is_not_a_period():
    with pytest.raises(TargetError) as err:
        parse_target("Đà Lạt tháng 10/2023", UNITS, TODAY)
    assert err.value.unit_text == "Đà Lạt"
    with pytest.raises(TargetError) as err:
        parse_target("xyz", UNITS, TODAY)
    assert err.value.unit_text == "xyz"


def test_scope_is_the_subtree():
    city, q1, q3, ben_nghe = UNITS[:4]
    assert city.contains(ben_nghe) and q1.contains(ben_nghe) and q1.contains(q1)
    assert not q3.contains(ben_nghe) and not ben_nghe.contains(q1)


# --- office hours and pace ------------------------------------------------------------


def local(*args) -> datetime:
    return datetime(*args, tzinfo=HCM)


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        (local(2026, 11, 23, 8, 0), local(2026, 11, 23, 10, 30), 2.5),  # Monday morning
        (local(2026, 11, 23, 16, 0), local(2026, 11, 24, 8, 30), 2.0),  # overnight: 1 + 1
        (local(2026, 11, 27, 16, 0), local(2026, 11, 30, 8, 0), 1.5),  # Fri → Mon, weekend free
        (local(2026, 11, 28, 9, 0), local(2026, 11, 29, 17, 0), 0.0),  # all weekend
        (local(2026, 11, 23, 6, 0), local(2026, 11, 23, 20, 0), 9.5),  # a whole office day
        (local(2026, 11, 23, 7, 30), local(2026, 11, 30, 7, 30), 47.5),  # a week: 5 × 9.5
    ],
)
def test_working_hours(start, end, hours):
    assert working_hours_between(start, end, HCM) == pytest.approx(hours)
    assert working_hours_between(end, start, HCM) == 0.0


def test_working_hours_are_counted_in_the_display_zone():
    # 01:00 UTC is 08:00 in Hà Nội: one hour of office time until 09:00 local.
    start = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    assert working_hours_between(start, datetime(2026, 11, 23, 2, 0, tzinfo=UTC), HCM) == 1.0


def test_working_days_left():
    assert working_days_left(TODAY, date(2026, 11, 30)) == 3  # Thu, Fri, Mon
    assert working_days_left(TODAY, date(2026, 12, 31)) == 26
    assert working_days_left(TODAY, TODAY) == 1
    assert working_days_left(TODAY, date(2026, 11, 25)) == 0
    assert working_days_left(date(2026, 11, 28), date(2026, 11, 29)) == 0  # a weekend


def quota(collected, target=90, start=date(2026, 10, 1), end=date(2026, 12, 31), **kw):
    return SimpleNamespace(
        unit_name=kw.get("unit", "Phường Một"),
        fields=kw.get("fields", []),
        period_start=start,
        period_end=end,
        target_count=target,
        collected=collected,
        percent=collected / target,
        remaining=max(target - collected, 0),
        target_ratio=kw.get("ratio"),
        surveyed_share=kw.get("share"),
    )


def test_quota_pace_by_hand():
    t = translator("vi")
    # 40 to go over 26 working days (26/11 → 31/12): 40/26 = 1.54 → 2 a day.
    assert pace_line(quota(50), t, TODAY) == "Cần 2 phiếu mỗi ngày làm việc (còn 26 ngày làm việc)."
    # 249/300 with 3 working days left: 51/3 = 17.
    october = quota(249, 300, date(2026, 11, 1), date(2026, 11, 30))
    assert "Cần 17 phiếu mỗi ngày làm việc (còn 3 ngày làm việc)" in pace_line(october, t, TODAY)
    assert pace_line(quota(90), t, TODAY) == "Đã đạt chỉ tiêu."
    ended = quota(10, 20, date(2026, 10, 1), date(2026, 10, 31))
    assert pace_line(ended, t, TODAY) == "Kỳ đã kết thúc ngày 31/10/2026."
    later = quota(0, 20, date(2027, 1, 1), date(2027, 3, 31))
    assert pace_line(later, t, TODAY) == "Bắt đầu từ ngày 01/01/2027."


def test_quota_text_ranks_and_fits_a_phone():
    t = translator("vi")
    rows = [
        quota(50, unit="Phường Hai", ratio=0.15, share=0.123),
        quota(81, unit="Phường Một"),
        quota(300, 300, unit="Quận Ba", fields=["Y tế"]),
    ]
    text = quota_text(rows, t, "Tỉnh Thử", parse("quý này", TODAY), TODAY)
    lines = text.splitlines()
    assert lines[:2] == ["Chỉ tiêu khảo sát – Tỉnh Thử", "Kỳ: quý IV/2026"]
    ranked = [line for line in lines if line[:2] in ("1.", "2.", "3.")]
    assert ranked == ["1. Quận Ba – Y tế", "2. Phường Một", "3. Phường Hai"]
    assert "   50/90 phiếu (55,6%), còn thiếu 40" in lines
    assert "   khảo sát 12,3% số hồ sơ (chỉ tiêu 15,0%)" in lines
    assert max(len(line) for line in lines) <= 60


# --- privacy ---------------------------------------------------------------------------


def test_small_number_threshold():
    leader, admin = for_role("leader", 5), for_role("admin", 5)
    assert not leader.shows(4) and leader.shows(5)
    assert admin.full and admin.shows(0) and admin.shows(1)
    assert Privacy(0).full and not Privacy(1).full


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Gọi tôi: 0905 123 456 nhé", "Gọi tôi: […] nhé"),
        ("sđt +84.905.123.456", "sđt […]"),
        ("email an.nguyen@gmail.com", "email […]"),
        ("CCCD 048123456789", "CCCD […]"),
        ("Chờ 2 tiếng, quầy số 3", "Chờ 2 tiếng, quầy số 3"),  # short numbers stay
        ("ngày 12/10/2023", "ngày 12/10/2023"),
    ],
)
def test_comments_lose_what_identifies(text, expected):
    assert redact(text) == expected
    assert for_role("leader", 5).comment(text) == expected
    assert for_role("admin", 5).comment(text) == text
