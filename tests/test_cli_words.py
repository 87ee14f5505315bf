"""The command line's refusals and help in Vietnamese, the default language: bad
schedules, duplicate codes, bad cells in a deadlines file, bad phone numbers, wrong
output suffixes, unknown periods, bad settings, the help of every command group. No English sentence
may show through (issue 16, item 17).

Real processes on a private copy of the demo database (``tests/test_cli_usability.py``'s
fixtures)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.test_cli_usability import demo_dir, demo_sipas  # noqa: F401  (fixtures)

# English function words that no Vietnamese sentence has. What the user typed is quoted
# ('hangtuan') and taken out first, with options, metavars and file names.
ENGLISH = re.compile(
    r"\b(the|is|are|not|must|be|of|to|for|with|or|and|already|exists|unknown|needs?|"
    r"cannot|use|give|only|before|between|called|line|at most|no such|there)\b",
    re.IGNORECASE,
)
VIETNAMESE = re.compile(r"[\u00c0-\u024f\u1ea0-\u1ef9]")  # letters with diacritics


def english_words(text: str) -> list[str]:
    """English words left in ``text`` once quoted input, options and codes are out."""
    text = re.sub(r"'[^']*'|“[^”]*”", " ", text)
    text = re.sub(r"--?[a-z][a-z-]*|\b[A-Z][A-Z0-9_.=]+\b|\S+\.(csv|xlsx|pdf|png|db)\b", " ", text)
    text = re.sub(r"sipas-bot( [a-z-]+)*", " ", text)
    return ENGLISH.findall(text)


def assert_vietnamese(result, *, code: int = 2) -> str:
    """The refusal's text, checked: the exit code, Vietnamese, no English sentence."""
    out = result.stdout + result.stderr
    assert result.returncode == code, out
    assert "Traceback" not in out, out
    lines = [line for line in result.stderr.splitlines() if not line.startswith(" ")]
    lines = [line for line in lines if not line.startswith(("cách dùng:", "Đang "))]
    assert lines, out
    for line in lines:
        assert VIETNAMESE.search(line), line
        assert not english_words(line), (english_words(line), line)
    return "\n".join(lines)


BAD_SCHEDULES = [
    ("hangtuan", "không đọc được lịch 'hangtuan'"),
    ("monthly 40", "lịch hằng tháng cần một ngày trong tháng (1–31), không phải '40'"),
    ("quarterly x", "lịch hằng quý cần một ngày"),
    ("yearly 20-12", "lịch hằng năm cần ngày/tháng"),
    ("yearly 30/2", "30/2 không phải năm nào cũng có"),
    ("FREQ=HOURLY", "lặp lại nhiều nhất mỗi ngày một lần"),
    ("RRULE:FREQ=NOPE", "'FREQ=NOPE' không phải là RRULE hợp lệ"),
]


@pytest.mark.parametrize(("schedule", "said"), BAD_SCHEDULES)
def test_a_bad_schedule_is_refused_in_vietnamese(demo_sipas, schedule, said):  # noqa: F811
    result = demo_sipas(
        "deadline", "add", "--code", "X1", "--title", "Báo cáo", "--schedule", schedule
    )
    assert said in assert_vietnamese(result)


def test_deadline_refusals_are_vietnamese(demo_sipas):  # noqa: F811
    add = ("deadline", "add", "--title", "Báo cáo")
    again = demo_sipas(*add, "--code", "CCHC-Q1", "--schedule", "monthly 20", "--units", "DN")
    assert "hạn công việc 'CCHC-Q1' đã có" in assert_vietnamese(again)
    many = demo_sipas(
        *add, "--code", "X Y", "--schedule", "monthly 20", "--units", "NOPE", "--people", "Ai Đó"
    )
    text = assert_vietnamese(many)
    assert "mã 'X Y': tối đa 64 ký tự" in text and "không có đơn vị mã 'NOPE'" in text
    assert "không có người nào đang hoạt động tên 'Ai Đó'" in text
    past = demo_sipas(*add, "--code", "X2", "--schedule", "01/01/2020", "--units", "DN")
    assert "hạn 01/01/2020 đã qua" in assert_vietnamese(past)
    nobody = demo_sipas(*add, "--code", "X3", "--schedule", "monthly 20")
    assert "cho biết hạn dành cho ai" in assert_vietnamese(nobody)
    for offsets, said in (("abc", "ngày nhắc là số ngày làm việc"), ("99", "quá 60 ngày")):
        bad = demo_sipas(*add, "--code", "X4", "--schedule", "monthly 20", "--offsets", offsets)
        assert said in assert_vietnamese(bad)
    shifted = demo_sipas(
        "deadline", "add", "--template", "cchc-quarterly", "--shift-days", "99", "--units", "DN"
    )
    assert "--shift-days phải trong khoảng từ -60 đến 60" in assert_vietnamese(shifted)
    assert "X1" not in demo_sipas("deadline", "list").stdout  # nothing was added


BAD_DEADLINES = """code,title,schedule,units,people,offsets,escalate_after,overdue_daily,starts_on
A1,Báo cáo,hangtuan,DN.HAICHAU,,,,,
A2,Báo cáo,monthly 20,NOPE,,abc,,,
A3,Báo cáo,monthly 20,DN.HAICHAU,,,,,xx
A4,,monthly 20,DN.HAICHAU,,,99,maybe,
CCHC-Q1,Báo cáo khác,monthly 20,DN.HAICHAU,,,,,
A5,Báo cáo,01/01/2020,,Không Ai,,,,
A6,Báo cáo,monthly 20,DN.HAICHAU,,,,,
A6,Báo cáo,monthly 21,DN.HAICHAU,,,,,
"""


def test_a_deadlines_file_with_bad_cells_is_refused_in_vietnamese(demo_sipas, tmp_path):  # noqa: F811
    (tmp_path / "bad.csv").write_text(BAD_DEADLINES, encoding="utf-8")
    text = assert_vietnamese(demo_sipas("import", "deadlines", "bad.csv"))
    for said in (
        "bad.csv: dòng 2, cột schedule: không đọc được lịch 'hangtuan'",
        "bad.csv: dòng 3, cột offsets: ngày nhắc là số ngày làm việc trước hạn",
        "bad.csv: dòng 4, cột starts_on: không phải ngày (dùng dd/mm/yyyy hoặc yyyy-mm-dd)",
        "bad.csv: dòng 5, cột title: không được để trống",
        "bad.csv: dòng 6, cột code: hạn công việc 'CCHC-Q1' đã có, với thông tin khác",
        "bad.csv: dòng 7: hạn 01/01/2020 đã qua",
        "bad.csv: dòng 7: không có người nào đang hoạt động tên 'Không Ai'",
        "bad.csv: dòng 9, cột code: 'A6' trùng với dòng 8",
        "sipas-bot: bad.csv: 10 dòng lỗi; không nạp dòng nào",
    ):
        assert said in text, text
    assert "A6" not in demo_sipas("deadline", "list").stdout


def test_a_deadlines_file_loaded_again_says_its_rows_were_there(demo_sipas, tmp_path):  # noqa: F811
    (tmp_path / "ok.csv").write_text(
        "code,title,schedule,units\nA7,Báo cáo tháng,monthly 20,DN.HAICHAU\n", encoding="utf-8"
    )
    first = demo_sipas("import", "deadlines", "ok.csv")
    assert first.returncode == 0 and "đã nạp 1 dòng hạn công việc mới, 0 dòng" in first.stdout
    again = demo_sipas("import", "deadlines", "ok.csv")
    assert again.returncode == 0, again.stderr
    assert "ok.csv: đã nạp 0 dòng hạn công việc mới, 1 dòng đã có từ trước." in again.stdout


def test_other_refusals_are_vietnamese(demo_sipas):  # noqa: F811
    cases = [
        (
            (
                *("person", "add", "--name", "A", "--unit", "DN", "--role", "official"),
                "--phone",
                "1",
            ),
            "--phone: không phải số di động Việt Nam",
        ),
        (("ballots", "template", "--out", "x.pdf"), "--out phải có đuôi .xlsx"),
        (("ballots", "form", "--unit", "DN", "--out", "x.xlsx"), "--out phải có đuôi .pdf"),
        (
            ("ballots", "template", "--questionnaire", "nope", "--out", "x.xlsx"),
            "không có bộ câu hỏi 'nope'",
        ),
        (("report", "satisfaction", "--period", "tháng mười ba"), "không hiểu kỳ"),
        (
            ("report", "satisfaction", "--period", "10/2023", "--from", "01/10/2023"),
            "không ghi cả hai",
        ),
        (
            ("report", "satisfaction", "--from", "02/10/2023", "--to", "01/10/2023"),
            "ngày cuối ở trước ngày đầu",
        ),
        (("outbox", "resend", "abc"), "không phải số hiệu dòng tin gửi đi: 'abc'"),
        (("db", "check", "nope.db"), "nope.db không phải là tệp"),
        (("db", "backup", "cli.db"), "cli.db đã có: hãy chọn một tệp mới"),
        (
            ("kiosk", "add", "--unit", "DN.HAICHAU", "--counter", "x" * 300),
            "--counter: tối đa 255 ký tự",
        ),
    ]
    for args, said in cases:
        assert said in assert_vietnamese(demo_sipas(*args)), args


@pytest.mark.parametrize(
    "command",
    [
        ("ballots",),
        ("ballots", "template"),
        ("kiosk",),
        ("kiosk", "add"),
        ("outbox",),
        ("outbox", "list"),
        ("zalo",),
        ("zalo", "ratings"),
        ("zalo", "zns"),
        ("zalo", "zns", "spend"),
        ("db",),
        ("deadline", "add"),
    ],
)
def test_help_of_every_group_is_vietnamese(demo_sipas, command):  # noqa: F811
    result = demo_sipas(*command, "--help")
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        if line.startswith(("cách dùng:", "  -h")) or line.strip().startswith("["):
            continue
        assert not english_words(line), (command, line)
        words = re.sub(
            r"\{[^}]*\}|--?[a-z][a-z-]*|\b[A-Z][A-Z0-9_.=]+\b|^ +[a-z-]+ {2,}", " ", line
        )
        if len(re.findall(r"[^\W\d_]{2,}", words)) >= 2:  # a description, not just names
            assert VIETNAMESE.search(line), (command, line)


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("SIPAS_TIMEZONE=Mars/Olympus", "không có múi giờ 'Mars/Olympus'"),
        ("SIPAS_OFFICE_HOURS=7-17", "giờ làm việc phải có dạng 07:30-17:00"),
        ("SIPAS_OFFICE_HOURS=17:00-07:00", "giờ làm việc phải kết thúc sau khi bắt đầu"),
        ("SIPAS_INVITE_HOURS=x", "cần dạng HH:MM-HH:MM, không phải 'x'"),
        ("SIPAS_HTTP_PORT=abc", "phải là số nguyên"),
        ("SIPAS_RETENTION_INBOUND_DAYS=1", "không được nhỏ hơn 2"),
    ],
)
def test_a_bad_setting_is_named_in_vietnamese(tmp_path, setting, said):
    name, _sep, value = setting.partition("=")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")}
    env |= {name: value, "SIPAS_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    text = assert_vietnamese(result)
    assert text.startswith(f"sipas-bot: {name}: ") and said in text, text
