"""CSV import: the whole file checked first, every bad row named (line, column, reason in
Vietnamese), nothing of a bad file loaded; then published in short transactions."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from bot.services import imports
from bot.services.imports import ImportFailed, cli_import, import_csv
from bot.services.imports import pipeline as fw
from storage.models import Person, Procedure, ProcedureField, Unit


async def count(app, model) -> int:
    async with app.db.read() as session:
        return (await session.exec(select(func.count()).select_from(model))).scalar_one()


def write(tmp_path, text: str, name: str = "f.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def problems(failed) -> list[tuple[int, str | None, str]]:
    return [(e.line, e.column, e.message) for e in failed.value.errors]


async def test_units_in_any_order_with_excel_bom_and_semicolons(app, tmp_path):
    path = write(
        tmp_path,
        "\ufeffCode;Name;Kind;Parent_Code;Questionnaire\n"
        "P.W1;Phường Một;ward;P;\n"
        "P;Tỉnh P;province;;sipas-2023\n"
        "\n"
        "P.W1.C;Quầy 1;counter;P.W1;\n",
    )
    result = await import_csv(app, "units", path)
    assert (result.loaded, result.existing, result.rows) == (3, 0, 3)
    async with app.db.read() as session:
        rows = {u.code: u for u in (await session.exec(select(Unit))).scalars()}
    assert rows["P.W1.C"].path == f"/{rows['P'].id}/{rows['P.W1'].id}/{rows['P.W1.C'].id}/"
    assert rows["P.W1"].parent_id == rows["P"].id
    assert (
        rows["P"].questionnaire_code == "sipas-2023" and rows["P.W1"].questionnaire_code == "quick"
    )


async def test_a_bad_file_loads_nothing_and_names_every_bad_line(app, tmp_path):
    path = write(
        tmp_path,
        "code,name,kind,parent_code,questionnaire\n"
        "A,Tỉnh A,province,,\n"
        ",no code,ward,A,\n"
        "A.1,Phường,ward,MISSING,\n"
        "A.2,Phường,ward,A,nope\n"
        "A,again,province,,\n"
        "A.3,too,many,cells,,\n"
        f"A.4,{'x' * 300},ward,A,\n",
    )
    with pytest.raises(ImportFailed) as failed:
        await import_csv(app, "units", path)
    assert sorted(problems(failed)) == [
        (3, "code", "không được để trống"),
        (4, "parent_code", "không tìm thấy đơn vị cấp trên 'MISSING'"),
        (5, "questionnaire", "không có bộ câu hỏi 'nope' (hiện có: quick, sipas-2023)"),
        (6, "code", "'A' trùng với dòng 2"),
        (7, None, "dòng có 6 ô, dòng tiêu đề có 5 ô"),
        (8, "name", "tối đa 255 ký tự"),
    ]
    assert [e.line for e in failed.value.errors] == [3, 4, 5, 6, 7, 8]  # in line order
    assert await count(app, Unit) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "tệp trống"),
        ("code,name\nA,B\n", "thiếu cột 'kind'"),
        ("code,name,kind,colour\nA,B,c,red\n", "cột lạ 'colour'"),
        ("code,name,kind\n", "không có dòng nào để nạp"),
        # A repeated column would let the last one win silently: refused.
        (
            "code,name,kind,Name\nA,B,c,D\n",
            "cột 'name' xuất hiện hai lần ở dòng tiêu đề (cột thứ 2 và thứ 4)",
        ),
    ],
)
async def test_file_level_problems(app, tmp_path, content, message):
    with pytest.raises(ImportFailed) as failed:
        await import_csv(app, "units", write(tmp_path, content))
    assert [e.message for e in failed.value.errors] == [message]
    assert await count(app, Unit) == 0


async def test_not_utf8(app, tmp_path):
    path = tmp_path / "legacy.csv"
    path.write_bytes(b"code,name,kind\nA,Ph\xf0\xd5\xf4ng,ward\n")  # a legacy 8-bit encoding
    with pytest.raises(ImportFailed) as failed:
        await import_csv(app, "units", path)
    assert "không phải văn bản UTF-8" in failed.value.errors[0].message


async def test_procedures_and_people_and_importing_them_again(app, tmp_path):
    await import_csv(app, "units", write(tmp_path, "code,name,kind\nW,Phường W,ward\n", "u.csv"))
    procs = write(
        tmp_path,
        "code,name,field_code,field_name\n"
        "HT-2,Đăng ký khai tử,HT,\nHT-1,Đăng ký khai sinh,HT,Hộ tịch\nX-1,Khác,,\n",
        "p.csv",
    )
    assert (await import_csv(app, "procedures", procs)).loaded == 3
    again = await import_csv(app, "procedures", procs)
    assert (again.loaded, again.existing) == (0, 3)
    bad = write(tmp_path, "code,name,field_code\nHT-1,again,HT\nZ-1,z,NEWFIELD\n", "p2.csv")
    with pytest.raises(ImportFailed) as failed:
        await import_csv(app, "procedures", bad)
    assert problems(failed) == [
        (2, "code", "thủ tục 'HT-1' đã có, với thông tin khác"),
        (3, "field_name", "lĩnh vực mới 'NEWFIELD' cần có tên ở cột field_name"),
    ]
    people = write(
        tmp_path, "name,unit_code,role\nNguyễn Văn A,W,official\nTrần Thị B,W,leader\n", "pp.csv"
    )
    result = await import_csv(app, "people", people)
    assert result.loaded == 2
    assert result.output[0].endswith("  Nguyễn Văn A (công chức, W)")
    assert result.output[1].endswith("  Trần Thị B (lãnh đạo, W)")
    again = await import_csv(app, "people", people)
    assert (again.loaded, again.existing) == (0, 2)
    assert again.output[0] == "Nguyễn Văn A (công chức, W): đã có từ trước, không cấp mã mới"
    bad_people = write(
        tmp_path, "name,unit_code,role\nX,NOPE,official\nY,W,king\nZ,W,admin\nZ,W,admin\n", "b.csv"
    )
    with pytest.raises(ImportFailed) as failed:
        await import_csv(app, "people", bad_people)
    assert problems(failed) == [
        (2, "unit_code", "không tìm thấy đơn vị 'NOPE'"),
        (
            3,
            "role",
            "phải là official (công chức), leader (lãnh đạo), admin (quản trị) "
            "hoặc surveyor (khảo sát viên)",
        ),
        (5, "name", "'Z' trùng với dòng 4"),
    ]
    assert await count(app, Person) == 2
    assert await count(app, Procedure) == 3 and await count(app, ProcedureField) == 1


async def test_units_again_say_they_existed_and_a_changed_one_is_refused(app, tmp_path):
    text = "code,name,kind,parent_code\nP,Tỉnh P,province,\nP.W1,Phường Một,ward,P\n"
    await import_csv(app, "units", write(tmp_path, text))
    again = await import_csv(app, "units", write(tmp_path, text + "P.W2,Phường Hai,ward,P\n"))
    assert (again.loaded, again.existing) == (1, 2)
    changed = write(tmp_path, "code,name,kind,parent_code\nP.W1,Phường 1,ward,P\n")
    with pytest.raises(ImportFailed) as failed:
        await import_csv(app, "units", changed)
    assert problems(failed) == [(2, "code", "đơn vị 'P.W1' đã có, với thông tin khác")]


async def test_a_deep_tree_across_many_small_transactions(app, tmp_path, monkeypatch):
    # Chunks of at most 3 rows: every parent is published in an earlier transaction than
    # some of its children, in the order of the tree, whatever the order of the file.
    monkeypatch.setattr(fw, "MIN_CHUNK", 1)
    monkeypatch.setattr(fw, "MAX_CHUNK", 3)
    lines = ["code,name,kind,parent_code"]
    for depth in range(12, 0, -1):
        parent = f"L{depth - 1}" if depth > 1 else ""
        lines += [f"L{depth},Cấp {depth},level,{parent}", f"L{depth}.X,Nhánh {depth},leaf,L{depth}"]
    result = await import_csv(app, "units", write(tmp_path, "\n".join(lines) + "\n"))
    assert result.loaded == 24
    async with app.db.read() as session:
        rows = {u.code: u for u in (await session.exec(select(Unit))).scalars()}
    assert rows["L12.X"].path.count("/") == 14 and rows["L12.X"].path.startswith(rows["L1"].path)


async def test_the_command_prints_in_vietnamese_with_plain_progress_when_piped(app, tmp_path):
    text = "code,name,kind\nW,Phường W,ward\n"
    out, err = io.StringIO(), io.StringIO()
    assert (
        await cli_import(
            app, "units", write(tmp_path, text, "u.csv"), out=out, err=err, background=False
        )
        == 0
    )
    assert out.getvalue().splitlines() == [
        "u.csv: đã nạp 1 dòng đơn vị mới, 0 dòng đã có từ trước."
    ]
    assert [line.split(":")[0] for line in err.getvalue().splitlines()] == [
        "Đang kiểm tra",
        "Đang nạp",
    ]
    assert "1/1 dòng" in err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert (
        await cli_import(
            app, "units", write(tmp_path, text, "u.csv"), out=out, err=err, background=False
        )
        == 0
    )
    assert out.getvalue() == "u.csv: đã nạp 0 dòng đơn vị mới, 1 dòng đã có từ trước.\n"
    bad = write(tmp_path, "code,name,kind\nW,Phường W,ward\n,x,ward\n", "bad.csv")
    out, err = io.StringIO(), io.StringIO()
    assert await cli_import(app, "units", bad, out=out, err=err, background=False) == 2
    lines = err.getvalue().splitlines()
    assert "bad.csv: dòng 3, cột code: không được để trống" in lines
    assert lines[-1] == "sipas-bot: bad.csv: 1 dòng lỗi; không nạp dòng nào"
    # More bad rows than are shown: the rest counted as rows, not as people.
    many = write(tmp_path, "code,name,kind\n" + ",x,ward\n" * 1203, "many.csv")
    out, err = io.StringIO(), io.StringIO()
    assert await cli_import(app, "units", many, out=out, err=err, background=False) == 2
    lines = err.getvalue().splitlines()
    assert sum(line.startswith("many.csv: dòng ") for line in lines) == 200
    assert lines[-2:] == [
        "… và 1.003 dòng lỗi khác",
        "sipas-bot: many.csv: 1.203 dòng lỗi; không nạp dòng nào",
    ]


def test_every_kind_is_registered():
    import bot.services.deadlines  # noqa: F401  (the deadlines importer registers itself there)

    assert set(imports.IMPORTERS) == {"units", "procedures", "people", "dossiers", "deadlines"}
