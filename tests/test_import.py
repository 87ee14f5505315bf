"""CSV import: all or nothing, every bad row named by its line."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.services.imports import ImportFailed, import_csv
from storage.models import Person, Procedure, ProcedureField, Unit


async def units_count(app) -> int:
    async with app.db.read() as session:
        return (await session.exec(select(func.count()).select_from(Unit))).scalar_one()


def write(tmp_path, text: str, name: str = "f.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


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
    assert result.loaded == 3
    async with app.db.read() as session:
        rows = {u.code: u for u in (await session.exec(select(Unit))).scalars()}
    assert rows["P.W1.C"].path.startswith(rows["P.W1"].path) and rows["P.W1"].path.startswith(
        rows["P"].path
    )
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
    # Row problems and clashes found while loading come together, in line order.
    assert [str(e) for e in failed.value.errors] == [
        "line 3: code: must not be empty",
        "line 4: parent 'MISSING' not found",
        "line 5: questionnaire: Value error, unknown questionnaire 'nope' "
        "(have: quick, sipas-2023)",
        "line 6: unit 'A' is also on line 2",
        "line 7: 6 cells, the header has 5",
        "line 8: name: String should have at most 255 characters",
    ]
    assert await units_count(app) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("code,name\nA,B\n", "missing column 'kind'"),
        ("code,name,kind,colour\nA,B,c,red\n", "unknown column 'colour'"),
        ("code,name,kind\n", "no rows to load"),
    ],
)
async def test_file_level_problems(app, tmp_path, content, message):
    with pytest.raises(ImportFailed) as failed:
        await import_csv(app, "units", write(tmp_path, content))
    assert message in str(failed.value.errors[0])


async def test_not_utf8(app, tmp_path):
    path = tmp_path / "legacy.csv"
    path.write_bytes(b"code,name,kind\nA,Ph\xf0\xd5\xf4ng,ward\n")  # a legacy 8-bit encoding
    with pytest.raises(ImportFailed) as failed:
        await import_csv(app, "units", path)
    assert "not UTF-8" in str(failed.value.errors[0])


async def test_procedures_and_people(app, tmp_path):
    await import_csv(app, "units", write(tmp_path, "code,name,kind\nW,Phường W,ward\n", "u.csv"))
    procs = write(
        tmp_path,
        "code,name,field_code,field_name\n"
        "HT-1,Đăng ký khai sinh,HT,Hộ tịch\nHT-2,Đăng ký khai tử,HT,\nX-1,Khác,,\n",
        "p.csv",
    )
    assert (await import_csv(app, "procedures", procs)).loaded == 3
    bad = write(tmp_path, "code,name,field_code\nHT-1,again,HT\nZ-1,z,NEWFIELD\n", "p2.csv")
    with pytest.raises(ImportFailed) as failed:
        await import_csv(app, "procedures", bad)
    assert [e.line for e in failed.value.errors] == [2, 3]
    people = write(
        tmp_path, "name,unit_code,role\nNguyễn Văn A,W,official\nTrần Thị B,W,leader\n", "pp.csv"
    )
    result = await import_csv(app, "people", people)
    assert result.loaded == 2 and all("(" in line for line in result.output)
    bad_people = write(tmp_path, "name,unit_code,role\nX,NOPE,official\nY,W,king\n", "pp2.csv")
    with pytest.raises(ImportFailed) as failed:
        await import_csv(app, "people", bad_people)
    assert [str(e) for e in failed.value.errors] == [
        "line 2: unit 'NOPE' not found",
        "line 3: role: Value error, role must be official, leader, admin or surveyor",
    ]
    async with app.db.read() as session:
        assert (await session.exec(select(func.count()).select_from(Person))).scalar_one() == 2
        assert (await session.exec(select(func.count()).select_from(Procedure))).scalar_one() == 3
        assert (
            await session.exec(select(func.count()).select_from(ProcedureField))
        ).scalar_one() == 1
