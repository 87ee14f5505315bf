"""The dossier file's fast row reader gives what ``DossierRow`` gives, or leaves the row
to it: never a value the model would not make, never a row the model would refuse."""

from __future__ import annotations

import itertools

import pytest
from pydantic import ValidationError

from bot.services.imports.dossier_rows import DossierRow, DossierValues, dossier_reader

HEADER = [
    "receipt_code",
    "unit_code",
    "procedure_code",
    "completed_at",
    "citizen_channel",
    "citizen_user_id",
    "phone",
]
CELLS = {
    "receipt_code": ["H-0001", " H/2025:7 ", "", "-bad", "x" * 64, "x" * 65, "H 1", "\x1cH1"],
    "unit_code": ["P.W1", " p.w1\t", "", "u" * 65, "Phường 1"],
    "procedure_code": ["T-HT-01", "", "p" * 64, "\tT-HT-01 ", "T\u00a0"],
    "completed_at": [
        "24/11/2025 08:15",
        "1/2/2025",
        "24/11/2025 08:15:07",
        "2025-11-20T14:30+07:00",
        "2025-11-20 14:30",
        "31/02/2025 08:00",
        "24/11/1999 08:15",
        "tomorrow",
        "",
        " 24/11/2025 08:15 ",
    ],
    "citizen_channel": ["", "telegram", "zalo", "sms", "Telegram", " telegram", "zalo\t", "  "],
    "citizen_user_id": ["", "700000001", "12a", "1" * 33, "١٢٣", " 42 ", "\t"],
    "phone": ["", "0905 123 456", "+84905123456", "12345", " 0905123456 ", "\xa00905123456"],
}


def _model(cells: list[str]) -> DossierRow | None:
    try:
        return DossierRow.model_validate(dict(zip(HEADER, cells, strict=True)))
    except ValidationError:
        return None


def _combinations():
    base = [values[0] for values in CELLS.values()]
    for i, name in enumerate(HEADER):  # one column varied at a time
        for value in CELLS[name]:
            yield [*base[:i], value, *base[i + 1 :]]
    channels = itertools.product(CELLS["citizen_channel"], CELLS["citizen_user_id"])
    for channel, user in channels:
        yield [*base[:4], channel, user, base[6]]


@pytest.mark.parametrize("cells", list(_combinations()))
def test_fast_reader_agrees_with_the_model(cells):
    fast = dossier_reader(HEADER)(cells)
    model = _model(cells)
    if fast is None:
        return  # the model decides, as before
    assert model is not None, f"the fast path took a row the model refuses: {cells}"
    assert fast == DossierValues(*(getattr(model, f) for f in DossierValues._fields))


def test_fast_reader_takes_the_usual_rows_and_fewer_columns():
    header = ["procedure_code", "receipt_code", "completed_at", "unit_code"]
    row = dossier_reader(header)(["T-HT-01", "H1", "24/11/2025 08:15", "P.W1"])
    assert row is not None and row.receipt_code == "H1" and row.phone is None
    assert row.citizen_channel is None and row.completed_at.hour == 8
