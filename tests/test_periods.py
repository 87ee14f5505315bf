"""Periods as people type them."""

from __future__ import annotations

from datetime import date

import pytest

from flows.i18n import Translator
from flows.periods import Period, PeriodError, describe, infer, parse

TODAY = date(2026, 11, 26)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("10/2023", date(2023, 10, 1), date(2023, 10, 31)),
        ("T10/2023", date(2023, 10, 1), date(2023, 10, 31)),
        ("tháng 10/2023", date(2023, 10, 1), date(2023, 10, 31)),
        ("2023-10", date(2023, 10, 1), date(2023, 10, 31)),
        ("2/2024", date(2024, 2, 1), date(2024, 2, 29)),
        ("Q4/2023", date(2023, 10, 1), date(2023, 12, 31)),
        ("quý 4/2023", date(2023, 10, 1), date(2023, 12, 31)),
        ("Quý IV 2023", date(2023, 10, 1), date(2023, 12, 31)),
        ("H1/2024", date(2024, 1, 1), date(2024, 6, 30)),
        ("2023", date(2023, 1, 1), date(2023, 12, 31)),
        ("năm 2023", date(2023, 1, 1), date(2023, 12, 31)),
        ("tháng này", date(2026, 11, 1), date(2026, 11, 30)),
        ("tháng trước", date(2026, 10, 1), date(2026, 10, 31)),
        ("quý này", date(2026, 10, 1), date(2026, 12, 31)),
        ("quý trước", date(2026, 7, 1), date(2026, 9, 30)),
        ("năm nay", date(2026, 1, 1), date(2026, 12, 31)),
        ("this month", date(2026, 11, 1), date(2026, 11, 30)),
        ("hôm nay", TODAY, TODAY),
        ("15/10/2023", date(2023, 10, 15), date(2023, 10, 15)),
        ("01/10/2023-15/10/2023", date(2023, 10, 1), date(2023, 10, 15)),
        ("1/10/2023 đến 5/10/2023", date(2023, 10, 1), date(2023, 10, 5)),
        ("2023-10-01..2023-10-31", date(2023, 10, 1), date(2023, 10, 31)),
    ],
)
def test_parse(text, start, end):
    period = parse(text, TODAY)
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize(
    "text", ["", "13/2023", "Q5/2023", "31/02/2024", "hôm qua nữa", "5/10/2023-1/10/2023"]
)
def test_nonsense_is_refused(text):
    with pytest.raises(PeriodError):
        parse(text, TODAY)


def test_describe_in_vietnamese():
    t = Translator("vi")
    assert describe(parse("10/2023", TODAY), t) == "tháng 10/2023"
    assert describe(parse("Q4/2023", TODAY), t) == "quý IV/2023"
    assert describe(parse("2023", TODAY), t) == "năm 2023"
    assert describe(parse("H1/2024", TODAY), t) == "6 tháng đầu năm 2024"
    assert (
        describe(Period(date(2023, 10, 1), date(2023, 10, 15), "range"), t)
        == "01/10/2023 – 15/10/2023"
    )
    assert infer(date(2023, 10, 1), date(2023, 12, 31)).kind == "quarter"
