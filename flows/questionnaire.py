"""Questionnaires as data: YAML files under ``flows/questionnaires/``, validated on load.

A questionnaire has elements (the five SIPAS elements), sections of items, and
optionally extra answer scales. Items use the built-in five-level ``satisfaction``
scale unless they name another; only satisfaction items count towards percentages.
A section with an ``offer`` is optional: the citizen is asked whether to go on.
Every text has a Vietnamese and an English version.
"""

from __future__ import annotations

import functools
from datetime import date
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

QUESTIONNAIRE_DIR = Path(__file__).resolve().parent / "questionnaires"
SATISFACTION = "satisfaction"
OVERALL = "overall"  # the element code of an overall-satisfaction question
Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")]


class QuestionnaireError(ValueError):
    """A questionnaire file that cannot be used, with the reason and where it is."""


class Text(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    vi: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, locale: str) -> str:
        """The text in ``locale`` (Vietnamese unless English is asked for)."""
        return self.en if locale == "en" else self.vi


class Option(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    value: int = Field(ge=1, le=10)
    vi: str = Field(min_length=1, max_length=40)
    en: str = Field(min_length=1, max_length=40)

    def label(self, locale: str) -> str:
        """The label in ``locale``."""
        return self.en if locale == "en" else self.vi


class Element(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code: Code
    name: Text


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code: Code
    element: Code
    text: Text
    scale: Code = SATISFACTION


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code: Code
    offer: Text | None = None
    items: tuple[Item, ...] = Field(min_length=1)


class Source(BaseModel):
    """Where a questionnaire's wording comes from.

    ``official`` is True only for a form published by the authority (``decision``,
    ``issued``); a product's own short form says False. ``unchecked`` lists the item
    codes whose wording could not be compared with the published text.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    official: bool
    decision: str | None = None
    issued: date | None = None
    note: Text | None = None
    unchecked: tuple[str, ...] = ()


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code: Code
    vi: str = Field(min_length=1, max_length=40)
    en: str = Field(min_length=1, max_length=40)

    def label(self, locale: str) -> str:
        """The label in ``locale``."""
        return self.en if locale == "en" else self.vi


class Questionnaire(BaseModel):
    """A validated questionnaire; ``items`` lists every item in asking order."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: Code
    version: int = Field(ge=1)
    title: Text
    elements: tuple[Element, ...] = Field(min_length=1)
    scales: dict[str, tuple[Option, ...]] = Field(default_factory=dict)
    negative_reasons: tuple[Reason, ...] = ()
    sections: tuple[Section, ...] = Field(min_length=1)
    source: Source | None = None
    # Items of earlier versions that are no longer asked: their answers stay in the
    # database under their own code, and reports still need to name them.
    retired: tuple[Item, ...] = ()

    @model_validator(mode="after")
    def _check_references(self) -> Questionnaire:
        elements = {e.code for e in self.elements}
        if len(elements) != len(self.elements):
            raise ValueError("element codes must be unique")
        if SATISFACTION in self.scales:
            raise ValueError(f"scale '{SATISFACTION}' is built in and cannot be redefined")
        for name, options in self.scales.items():
            values = [o.value for o in options]
            if len(options) < 2 or len(set(values)) != len(values):
                raise ValueError(f"scale '{name}' needs at least two options with distinct values")
        seen: set[str] = set()
        for section in self.sections:
            for item in section.items:
                if item.code in seen:
                    raise ValueError(f"item code '{item.code}' is used twice")
                seen.add(item.code)
                if item.element not in elements and item.element != OVERALL:
                    raise ValueError(f"item '{item.code}': unknown element '{item.element}'")
                if item.scale != SATISFACTION and item.scale not in self.scales:
                    raise ValueError(f"item '{item.code}': unknown scale '{item.scale}'")
        for item in self.retired:
            if item.code in seen:
                raise ValueError(f"retired item '{item.code}' is still asked")
        if self.source is not None:
            unknown = set(self.source.unchecked) - seen
            if unknown:
                raise ValueError(f"source.unchecked names unknown items: {sorted(unknown)}")
        return self

    @property
    def items(self) -> tuple[Item, ...]:
        """Every item of every section, in asking order."""
        return tuple(item for section in self.sections for item in section.items)

    def element(self, code: str) -> Element | None:
        """The element with this code, if the questionnaire has it."""
        return next((e for e in self.elements if e.code == code), None)

    def section_of(self, index: int) -> Section:
        """The section holding the item at position ``index`` of ``items``."""
        for section in self.sections:
            if index < len(section.items):
                return section
            index -= len(section.items)
        raise IndexError(index)

    def section_start(self, index: int) -> bool:
        """Whether the item at ``index`` opens its section."""
        start = 0
        for section in self.sections:
            if index == start:
                return True
            start += len(section.items)
        return False


def parse(raw: object, source: str = "<data>") -> Questionnaire:
    """Validate a loaded YAML document; errors name the file and the offending place."""
    try:
        return Questionnaire.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise QuestionnaireError(f"{source}: {where}: {first['msg']}{more}") from None


def load_file(path: Path) -> Questionnaire:
    """Read and validate one questionnaire file."""
    import yaml  # here: a command that never reads a questionnaire never loads PyYAML

    try:
        # libyaml's loader when PyYAML was built with it: the same safe loading, a
        # seventh of the time (every report command reads these files).
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except yaml.YAMLError as exc:
        raise QuestionnaireError(f"{path.name}: not valid YAML: {exc}") from None
    q = parse(raw, path.name)
    if q.code != path.stem:
        raise QuestionnaireError(f"{path.name}: code '{q.code}' must match the file name")
    return q


@functools.cache
def catalogue(directory: Path = QUESTIONNAIRE_DIR) -> dict[str, Questionnaire]:
    """Every questionnaire in ``directory`` by code (loaded once)."""
    return {q.code: q for q in map(load_file, sorted(directory.glob("*.yaml")))}


def codes(directory: Path = QUESTIONNAIRE_DIR) -> set[str]:
    """The codes of the questionnaires in ``directory``, from the file names alone (a
    file's code must match its name): what a setting is checked against without reading
    and validating every file, which cost each command about 50 ms."""
    return {path.stem for path in directory.glob("*.yaml")}


def get(code: str) -> Questionnaire:
    """The questionnaire ``code``; KeyError when there is none."""
    return catalogue()[code]
