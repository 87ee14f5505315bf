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
