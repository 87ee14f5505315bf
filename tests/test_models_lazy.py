"""``storage.models`` loads a group of tables when one of them is first asked for."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def run(code: str) -> dict:
    """Run ``code`` in a fresh interpreter (this one has every table loaded already);
    it prints a JSON object as its last line."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_table_loads_its_group_only():
    seen = run(
        "import sys, json\n"
        "from storage.models import Unit\n"
        "print(json.dumps({'module': Unit.__module__,"
        " 'groups': sorted(m for m in sys.modules if m.startswith('storage.models.'))}))"
    )
    assert seen["module"] == "storage.models.organisation"
    assert seen["groups"] == ["storage.models.base", "storage.models.organisation"]


def test_metadata_has_every_table_whatever_was_loaded_before():
    from storage import models

    seen = run(
        "import json\n"
        "from storage.models import Unit\n"
        "from storage.models import metadata\n"
        "print(json.dumps(sorted(metadata.tables)))"
    )
    assert seen == sorted(models.metadata.tables)
    # Every name the package lists is a table registered on that metadata.
    names = [n for n in models.__all__ if n != "metadata"]
    assert len(names) == len(models.metadata.tables) == len(seen)
    for name in names:
        assert (
            getattr(models, name).__table__
            is models.metadata.tables[getattr(models, name).__tablename__]
        )


def test_an_unknown_name_is_an_attribute_error():
    from storage import models

    with pytest.raises(AttributeError, match="Nope"):
        models.Nope  # noqa: B018
    with pytest.raises(ImportError):
        exec("from storage.models import Nope", {})
