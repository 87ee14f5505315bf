"""The README's reminder set-up as an admin types it: real processes, exit codes."""

from __future__ import annotations

import re
from datetime import date

from tests.test_cli import runner

UNITS = """code,name,kind,parent_code
TN,Tỉnh Thử Nghiệm,province,
TN.A,Phường An Bình,ward,TN
TN.B,Xã Bình Minh,commune,TN
"""
PEOPLE = """name,unit_code,role
Nguyễn Văn An,TN.A,official
Trần Thị Bình,TN.B,official
Phạm Thị Lan,TN.A,leader
"""
BAD_DEADLINES = """code,title,schedule,units,offsets
BC-1,Báo cáo tháng,monthly 20,TN,"10,5,1,0"
BC-2,Báo cáo quý,quarterly 40,TN,
BC-3,Báo cáo năm,yearly 20/12,NOPE,
BC-1,Trùng mã,monthly 5,TN,
BC-5,Không người nhận,monthly 5,,
BC-6,Nhắc lạ,monthly 5,TN,"ten, five"
"""
GOOD_DEADLINES = """code;title;schedule;units;people;escalate_after
THANG;Báo cáo kết quả khảo sát tháng;hằng tháng 25;TN.A TN.B;;3
TDG;Tự chấm điểm Chỉ số CCHC;{next_year}-11-30;;Nguyễn Văn An@TN.A;0
"""
REGISTRATION = re.compile(r"([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})\s+Nguyễn Văn An")


def test_admin_sets_up_the_quarterly_cchc_reports(tmp_path):
    sipas = runner(tmp_path)
    assert sipas("db", "upgrade").returncode == 0
    (tmp_path / "units.csv").write_text(UNITS, encoding="utf-8")
    (tmp_path / "people.csv").write_text(PEOPLE, encoding="utf-8")
    assert sipas("import", "units", "units.csv").returncode == 0
    people = sipas("import", "people", "people.csv")
    assert people.returncode == 0, people.stderr
    code = REGISTRATION.search(people.stdout).group(1)

    added = sipas(
        "deadline",
        "add",
        "--template",
        "cchc-quarterly",
        "--shift-days",
        "-5",
        "--units",
        "TN",
        "--starts",
        "01/11/2026",  # so the passes below, in 12/2026, count whatever today is
    )
    assert added.returncode == 0, added.stderr
    assert "Đã thêm CCHC-Q1: Báo cáo công tác cải cách hành chính quý I" in added.stdout
    assert "hằng năm, ngày 15/3" in added.stdout
    listing = sipas("deadline", "list")
    assert "CCHC-Y  Báo cáo công tác cải cách hành chính năm" in listing.stdout
    assert "Hạn tiếp theo: 15/12/" in listing.stdout and "Giao cho: TN" in listing.stdout
    again = sipas("deadline", "add", "--template", "cchc-quarterly", "--units", "TN")
    assert again.returncode == 2 and "hạn công việc 'CCHC-Q1' đã có" in again.stderr

    # The official links a chat account (the console here), then a pass runs.
    chat = sipas("chat", "--user", "an", stdin=f"/start {code}\n")
    assert "Phường An Bình" in chat.stdout
    first = sipas("reminders", "run-due", "--now", "2026-12-01T08:00")
    assert first.returncode == 0, first.stderr
    # The annual report is due 15/12/2026 (a Tuesday): 10 working days before is 1/12.
    # An gets it; Bình has not linked an account, so hers cannot be delivered.
    assert "Đã gửi: 1, đã hủy: 0, không gửi được: 1." in first.stdout
    second = sipas("reminders", "run-due", "--now", "2026-12-01T08:00+07:00")
    assert "Nhắc việc mới lên lịch: 0. Đã gửi: 0" in second.stdout

    (tmp_path / "bad.csv").write_text(BAD_DEADLINES, encoding="utf-8")
    bad = sipas("import", "deadlines", "bad.csv")
    assert bad.returncode == 2
    lines = bad.stderr.splitlines()
    assert any(line.startswith("bad.csv: dòng 3, cột schedule:") for line in lines), lines
    assert "bad.csv: dòng 4: không có đơn vị mã 'NOPE'" in lines
    assert "bad.csv: dòng 5, cột code: 'BC-1' trùng với dòng 2" in lines
    assert any(line.startswith("bad.csv: dòng 6: cho biết hạn dành cho ai") for line in lines)
    assert any(line.startswith("bad.csv: dòng 7, cột offsets:") for line in lines)
    assert "BC-1" not in sipas("deadline", "list").stdout  # nothing of a bad file loads

    next_year = date.today().year + 1
    (tmp_path / "good.csv").write_text(GOOD_DEADLINES.format(next_year=next_year), encoding="utf-8")
    good = sipas("import", "deadlines", "good.csv")
    assert good.returncode == 0, good.stderr
    listing = sipas("deadline", "list").stdout
    assert "THANG  Báo cáo kết quả khảo sát tháng" in listing
    assert "Giao cho: TN.A, TN.B" in listing and "Giao cho: Nguyễn Văn An (#1)" in listing

    holiday = sipas("holiday", "add", "2027-02-20", "--working", "--name", "Làm bù Tết")
    assert holiday.returncode == 0 and "20/02/2027 là ngày làm việc" in holiday.stdout
    year = sipas("holiday", "list", "--year", "2027").stdout
    assert "20/02/2027  ngày làm việc" in year and "Làm bù Tết *" in year
    assert "10/02/2027  ngày nghỉ" in year
    off = sipas("deadline", "disable", "CCHC-Q1")
    assert off.returncode == 0 and "Đã tắt CCHC-Q1" in off.stdout
    for bad in (
        ("reminders", "run-due", "--now", "yesterday"),
        ("deadline", "add", "--code", "X", "--title", "T", "--schedule", "monthly 40"),
        (
            "deadline",
            "add",
            "--code",
            "X",
            "--title",
            "T",
            "--schedule",
            "01/01/2020",
            "--units",
            "TN",
        ),
        ("deadline", "add", "--code", "X Y", "--title", "T", "--schedule", "monthly 5"),
        ("deadline", "disable", "NOPE"),
    ):
        result = sipas(*bad)
        assert result.returncode == 2, (bad, result.stdout, result.stderr)
        assert "sipas-bot" in result.stderr.strip().splitlines()[-1]
        assert "Traceback" not in result.stderr
