"""Complementary suppression: no withheld figure can be worked out from the shown ones.

The test takes what the API actually returns to a leader (``satisfaction_data`` with
the threshold), writes every shown number as a linear function of the raw counts
(answers per part, item and level), checks that each function gives the shown value,
and then looks for a linear combination of the shown numbers (and of the valid-answer
counts, which are public) that equals a withheld count: there must be none.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.render.report_text import satisfaction_data
from flows.privacy import Privacy, withheld_items
from storage.reports import ItemFigures, Satisfaction, SatisfactionReport

P = (1 << 61) - 1  # exact arithmetic modulo a large prime
LEVELS = (1, 2, 3, 4, 5)


def _mod(x: Fraction) -> int:
    return x.numerator % P * pow(x.denominator % P, P - 2, P) % P


def rank(rows: list[dict]) -> int:
    """Rank of sparse rows (variable → Fraction) over GF(P)."""
    basis: dict = {}  # pivot variable → reduced row
    for row in rows:
        r = {k: _mod(v) for k, v in row.items() if _mod(v)}
        for pivot, b in basis.items():
            if pivot in r:
                f = r[pivot]
                for k, v in b.items():
                    r[k] = (r.get(k, 0) - f * v) % P
                r = {k: v for k, v in r.items() if v}
        if r:
            pivot = min(r)
            inv = pow(r[pivot], P - 2, P)
            r = {k: v * inv % P for k, v in r.items()}
            for other, b in basis.items():
                if pivot in b:
                    f = b[pivot]
                    for k, v in r.items():
                        b[k] = (b.get(k, 0) - f * v) % P
                    basis[other] = {k: v for k, v in b.items() if v}
            basis[pivot] = r
    return len(basis)


def derivable(shown: list[dict], target: dict) -> bool:
    """Whether ``target`` is a linear combination of ``shown``."""
    return rank([*shown, target]) == rank(shown)


# --- a report from raw counts ------------------------------------------------------------


ELEMENT_OF = {"a1": "E1", "a2": "E1", "b1": "E2", "b2": "E2", "c1": "E3", "q": "overall"}


def build(counts: dict[int, dict[str, dict[int, int]]]) -> SatisfactionReport:
    """Groups 0..n-1 with per-item level counts; the total pools them."""
    units, total = [], Satisfaction(100, "T", "Total")
    for g, items in counts.items():
        s = Satisfaction(g + 1, f"G{g}", f"Part {g}")
        for item, levels in items.items():
            for level, n in levels.items():
                if n:
                    for target in (s, total):
                        target.items.setdefault(item, ItemFigures(item, ELEMENT_OF[item]))
                        target.items[item].counts[level] += n
        s.respondents = max((sum(v.values()) for v in items.values()), default=0)
        total.respondents += s.respondents
        units.append(s)
    return SatisfactionReport(date(2026, 1, 1), date(2026, 1, 31), total, units)


def var(g: int, item: str, level: int) -> tuple:
    return (g, item, level)


def functionals(data: dict, counts: dict) -> list[tuple[dict, float]]:
    """Every number the API shows, as (coefficients over the raw counts, shown value)."""
    groups = sorted(counts)
    out: list[tuple[dict, float]] = []

    def valid(members, item):
        return sum(counts[g].get(item, {}).get(v, 0) for g in members for v in LEVELS)

    def weighted(members, item, weight):
        return {var(g, item, v): Fraction(weight(v)) for g in members for v in LEVELS}

    entities = [(data["total"], groups)] + [
        (u, [g]) for u, g in zip(data["units"], groups, strict=True)
    ]
    for entity, members in entities:
        item_pct: dict[str, dict] = {}
        for code, item in entity["items"].items():
            n = valid(members, code)
            for v in LEVELS:
                out.append((weighted(members, code, lambda x, v=v: x == v), item["counts"][str(v)]))
            out.append((weighted(members, code, lambda x: x >= 4), item["satisfied"]))
            if n:
                pct = weighted(members, code, lambda x, n=n: Fraction(100 * (x >= 4), n))
                item_pct[code] = pct
                out.append((pct, item["percent"]))
                out.append(
                    (weighted(members, code, lambda x, n=n: Fraction(x, n)), item["mean_score"])
                )
        elements: dict[str, dict] = {}
        for code, value in entity["elements"].items():
            parts = [item_pct[i] for i in item_pct if ELEMENT_OF[i] == code]
            f: Counter = Counter()
            for p in parts:
                for k, c in p.items():
                    f[k] += c / len(parts)
            elements[code] = dict(f)
            out.append((dict(f), value))
        if entity["percent"] is not None:
            f = Counter()
            for e in elements.values():
                for k, c in e.items():
                    f[k] += c / len(elements)
            out.append((dict(f), entity["percent"]))
        shown_items = list(entity["items"])
        for v in LEVELS:
            f = {var(g, i, v): Fraction(1) for g in members for i in shown_items}
            out.append((f, entity["distribution"][str(v)]))
        total_valid = sum(valid(members, i) for i in shown_items)
        if entity["mean_score"] is not None:
            f = {
                var(g, i, v): Fraction(v, total_valid)
                for g in members
                for i in shown_items
                for v in LEVELS
            }
            out.append((f, entity["mean_score"]))
    return out


def value(f: dict, counts: dict) -> float:
    return float(sum(c * counts[g].get(i, {}).get(v, 0) for (g, i, v), c in f.items()))


def public(counts: dict) -> list[dict]:
    """Valid answers per part and item (shown as respondents, answers, valid)."""
    return [{var(g, i, v): Fraction(1) for v in LEVELS} for g in counts for i in ELEMENT_OF]


def withheld_targets(counts: dict, t: int) -> list[dict]:
    """The counts that must stay hidden: each level of each part's item with 1 to t-1
    valid answers, and the same of the total's items."""
    targets = []
    for item in ELEMENT_OF:
        per = {g: sum(counts[g].get(item, {}).values()) for g in counts}
        for g, n in per.items():
            if 0 < n < t:
                targets += [{var(g, item, v): Fraction(1)} for v in LEVELS]
        if 0 < sum(per.values()) < t:
            targets += [{var(g, item, v): Fraction(1) for g in counts} for v in LEVELS]
    return targets


level_counts = st.dictionaries(st.sampled_from(LEVELS), st.integers(0, 4), max_size=3)
part = st.dictionaries(st.sampled_from(sorted(ELEMENT_OF)), level_counts, min_size=1)


@settings(max_examples=120, deadline=None)
@given(parts=st.lists(part, min_size=1, max_size=3), t=st.integers(2, 6))
def test_no_withheld_count_is_a_linear_combination_of_shown_figures(parts, t):
    counts = dict(enumerate(parts))
    data = satisfaction_data(build(counts), Privacy(t))
    shown = functionals(data, counts)
    for f, v in shown:  # the model is what the API shows
        if v is not None:
            assert abs(value(f, counts) - v) < 0.006, (f, v)
    rows = [f for f, v in shown if v is not None and f] + public(counts)
    for target in withheld_targets(counts, t):
        assert not derivable(rows, target), target


def test_the_issues_example_would_leak_without_it():
    """5 × overall − the four shown elements gave the hidden one exactly."""
    e = {f"E{i}": {(i, 1): Fraction(1)} for i in range(1, 6)}
    overall = {k: Fraction(1, 5) for f in e.values() for k in f}
    assert derivable([overall, e["E1"], e["E2"], e["E3"], e["E4"]], e["E5"])
    assert not derivable([e["E1"], e["E2"], e["E3"], e["E4"]], e["E5"])


def test_a_small_element_leaves_the_overall_and_says_so():
    # 20 respondents; element E3 (item c1) answered by 3: withheld for a threshold of 5.
    counts = {0: {"a1": {5: 20}, "b1": {4: 10, 2: 10}, "c1": {1: 3}}}
    data = satisfaction_data(build(counts), Privacy(5))
    total = data["total"]
    assert total["withheld_items"] == ["c1"] and "E3" not in total["elements"]
    assert total["percent"] == 75.0  # (100 + 50) / 2: E3's 0 % is not in it
    assert (total["elements_counted"], total["elements_total"]) == (2, 5)
    admin = satisfaction_data(build(counts), Privacy())["total"]
    assert admin["percent"] == 50.0 and admin["elements_counted"] == 3  # (100 + 50 + 0) / 3


def test_a_lone_small_part_is_paired_with_the_smallest_other():
    hidden_total, hidden = withheld_items(
        {"x": 40, "y": 40}, {"A": {"x": 2, "y": 20}, "B": {"x": 30, "y": 10}, "C": {"x": 8}}, 5
    )
    assert hidden_total == set()
    assert hidden == {"A": {"x"}, "B": set(), "C": {"x"}}  # C has fewer answers to x than B
    assert withheld_items({"x": 3}, {"A": {"x": 3}}, 0) == (set(), {"A": set()})


def test_leaders_read_chua_du_so_phieu_and_what_the_figure_rests_on():
    from flows.i18n import translator
    from flows.periods import month
    from flows.report_text import satisfaction_text

    counts = {0: {"a1": {5: 20}, "b1": {4: 10, 2: 10}, "c1": {1: 3}}}
    t = translator("vi")
    text = satisfaction_text(build(counts), t, month(2026, 1), Privacy(5))
    lines = text.splitlines()
    assert "Chung: 75,0% · 20 người trả lời" in text
    assert (
        "(dựa trên 2/5 yếu tố; chưa đủ số phiếu: Công chức trực tiếp giải quyết công việc" in text
    )
    assert "  chưa đủ số phiếu  Công chức trực tiếp giải quyết công việc" in lines
    assert not any(line.strip().startswith("…") for line in lines)  # no bare "…"
    admin = satisfaction_text(build(counts), t, month(2026, 1), Privacy())
    assert "Chung: 50,0%" in admin and "dựa trên 3/5 yếu tố" in admin
