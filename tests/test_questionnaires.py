"""Questionnaires are data, validated with errors that say what and where."""

from __future__ import annotations

import pytest
import yaml

from flows import questionnaire as qn


def test_shipped_questionnaires():
    quick = qn.get("quick")
    assert [i.code for i in quick.items] == ["overall", "E1", "E2", "E3", "E4", "E5"]
    assert quick.sections[1].offer is not None
    sipas = qn.get("sipas-2023")
    assert len(sipas.items) == 19
    per_element = {
        e.code: sum(1 for i in sipas.items if i.element == e.code) for e in sipas.elements
    }
    assert per_element == {"E1": 4, "E2": 4, "E3": 5, "E4": 3, "E5": 3}
    for q in (quick, sipas):
        assert all(item.text.vi and item.text.en for item in q.items)
    assert "Ông/Bà" in quick.items[0].text.vi  # the polite form citizens expect


def minimal(**changes):
    doc = {
        "code": "test",
        "version": 1,
        "title": {"vi": "Thử", "en": "Test"},
        "elements": [{"code": "E1", "name": {"vi": "Một", "en": "One"}}],
        "sections": [
            {
                "code": "s",
                "items": [{"code": "q1", "element": "E1", "text": {"vi": "?", "en": "?"}}],
            }
        ],
    }
    doc.update(changes)
    return doc


def test_a_custom_scale_such_as_the_expectation_items_is_accepted():
    doc = minimal(
        scales={
            "expectation": [
                {"value": 3, "vi": "Rất nhiều", "en": "Very much"},
                {"value": 2, "vi": "Nhiều", "en": "Much"},
                {"value": 1, "vi": "Ít", "en": "Little"},
            ]
        },
        sections=[
            {
                "code": "x",
                "items": [
                    {
                        "code": "X1",
                        "element": "E1",
                        "scale": "expectation",
                        "text": {"vi": "Mong đợi", "en": "Expectation"},
                    }
                ],
            }
        ],
    )
    q = qn.parse(doc)
    assert q.items[0].scale == "expectation" and len(q.scales["expectation"]) == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 0}, "version"),
        ({"elements": []}, "elements"),
        ({"title": {"vi": "Thử"}}, "title.en"),
        (
            {
                "sections": [
                    {
                        "code": "s",
                        "items": [{"code": "q1", "element": "E9", "text": {"vi": "?", "en": "?"}}],
                    }
                ]
            },
            "unknown element 'E9'",
        ),
        (
            {
                "sections": [
                    {
                        "code": "s",
                        "items": [
                            {
                                "code": "q1",
                                "element": "E1",
                                "scale": "stars",
                                "text": {"vi": "?", "en": "?"},
                            }
                        ],
                    }
                ]
            },
            "unknown scale 'stars'",
        ),
        (
            {
                "sections": [
                    {
                        "code": "s",
                        "items": [
                            {"code": "q1", "element": "E1", "text": {"vi": "?", "en": "?"}},
                            {"code": "q1", "element": "E1", "text": {"vi": "?", "en": "?"}},
                        ],
                    }
                ]
            },
            "used twice",
        ),
        ({"surprise": True}, "surprise"),
    ],
)
def test_invalid_questionnaires_are_refused_with_a_clear_reason(change, message):
    with pytest.raises(qn.QuestionnaireError) as err:
        qn.parse(minimal(**change), "test.yaml")
    assert str(err.value).startswith("test.yaml: ") and message in str(err.value)


def test_file_errors_name_the_file(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("code: [unclosed")
    with pytest.raises(qn.QuestionnaireError, match=r"broken\.yaml: not valid YAML"):
        qn.load_file(broken)
    renamed = tmp_path / "other.yaml"
    renamed.write_text(yaml.safe_dump(minimal()))
    with pytest.raises(qn.QuestionnaireError, match="must match the file name"):
        qn.load_file(renamed)


# --- the official form and its versions ------------------------------------------------------


def test_the_survey_of_record_is_the_official_form_with_its_source():
    sipas = qn.get("sipas-2023")
    assert sipas.source is not None and sipas.source.official
    assert sipas.source.decision == "QĐ 1001/QĐ-BNV"
    assert sipas.source.issued.isoformat() == "2023-12-11"
    assert sipas.version >= 2  # v1 was the paraphrase: answers to it keep pointing at v1
    text = {i.code: i.text.vi for i in sipas.items}
    assert "dễ tiếp cận" in text["E1.1"]
    assert "văn minh" in text["E1.3"] and "ngăn nắp" not in text["E1.3"]
    assert "chất lượng tốt, giúp" in text["E1.4"] and text["E1.4"].endswith("dễ dàng hơn.")
    assert "tại trụ sở" in text["E2.1"] and "dễ thấy, dễ hiểu" in text["E2.1"]
    assert text["E4.3b"].startswith("Kết quả") and "công bằng" in text["E4.3b"]
    assert "nhiều hình thức" not in text["E5.1"]
    assert sipas.element("E4").name.vi == "Kết quả"
    # The item asked differently got a new code; the old one is kept to name old answers.
    assert "E4.3" not in text and [i.code for i in sipas.retired] == ["E4.3"]
    # Every item whose wording is not yet compared with the published form is listed.
    assert set(sipas.source.unchecked) <= set(text)


def test_quick_is_marked_as_the_products_own_short_form():
    quick = qn.get("quick")
    assert quick.source is not None and not quick.source.official
    assert quick.source.decision is None
    assert "không phải phiếu chính thức" in quick.source.note.vi


def test_item_texts_name_retired_items_too():
    from flows.report_text import item_texts

    texts = item_texts("vi")
    assert "công bằng" in texts["E4.3"] and texts["E4.3b"].startswith("Kết quả")


def test_a_retired_item_cannot_still_be_asked_and_unchecked_codes_must_exist():
    item = {"code": "q1", "element": "E1", "text": {"vi": "?", "en": "?"}}
    with pytest.raises(qn.QuestionnaireError, match="still asked"):
        qn.parse(minimal(retired=[item]))
    with pytest.raises(qn.QuestionnaireError, match="unknown items"):
        qn.parse(minimal(source={"official": False, "unchecked": ["nope"]}))


async def test_answers_keep_the_meaning_of_the_version_they_were_given_under(db_url):
    """v1 and v2 are two rows of the questionnaire table; a v1 response still reads v1."""
    from sqlalchemy import select

    from storage import questionnaires
    from storage.db import Database
    from storage.models import Questionnaire

    db = Database(db_url)
    v1 = {"code": "sipas-2023", "version": 1, "sections": [{"items": [{"code": "E4.3"}]}]}
    v2 = qn.get("sipas-2023")
    try:
        async with db.write() as session:
            old = await questionnaires.ensure(session, "sipas-2023", 1, "v1", v1)
            new = await questionnaires.ensure(
                session, v2.code, v2.version, v2.title.vi, v2.model_dump(mode="json")
            )
            again = await questionnaires.ensure(session, "sipas-2023", 1, "v1", {"x": 1})
        assert old != new and again == old
        async with db.read() as session:
            rows = {
                q.version: q.definition
                for q in (await session.exec(select(Questionnaire))).scalars()
            }
        assert rows[1] == v1  # never overwritten by a later load
        codes = [i["code"] for s in rows[2]["sections"] for i in s["items"]]
        assert "E4.3b" in codes and "E4.3" not in codes
    finally:
        await db.dispose()
