"""Property-based run of the whole OpenAPI description against a real server, and
hostile bodies (not UTF-8, huge, nested, wrong content type) to the JSON API and the
web chat: a 4xx, never a 5xx, and nothing stored.

Schemathesis generates requests from ``/openapi.json`` (valid and invalid bodies, odd
codes in paths) and checks every answer against the description: never a 5xx, only
documented status codes and content types, bodies matching their schemas, and the API
key enforced. Bounded: a fixed number of examples per operation, derandomised so CI
runs the same cases every time. (Schemathesis's own pytest loader is not used: its lazy
fixture loader does not work with pytest 9; its strategies are, through Hypothesis.)
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import func, select

from storage import units
from storage.models import Dossier, Procedure, metadata
from tests.live import LiveServer

KEY = "fuzz-key"
EXAMPLES = 40  # per operation and mode


@pytest.fixture(scope="module")
def live(tmp_path_factory, sqlite_template):
    import shutil

    directory = tmp_path_factory.mktemp("fuzz")
    shutil.copy(sqlite_template, directory / "sipas.db")
    with LiveServer(
        f"sqlite:///{directory / 'sipas.db'}",
        directory / "data",
        api_keys=KEY,
        telegram_token="123:fake",  # so citizen invitations are accepted, not refused
    ) as server:

        async def setup(app):
            # Codes Hypothesis tends to draw first ("0", "A"), so generated requests get
            # past the lookups into the code that writes.
            async with app.db.write() as session:
                for code in ("0", "A", "DN.HAICHAU"):
                    await units.create_unit(session, code, f"Đơn vị {code}", "ward")
                    session.add(Procedure(code=code, name=f"Thủ tục {code}"))

        server.run(setup)
        yield server


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_keeps_its_description(live, mode):
    before = live.run(_table_counts)
    schema = schemathesis.openapi.from_url(f"{live.base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert any(op.path == "/api/v1/dossiers" for op in operations)
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case):
            case.call_and_validate(
                base_url=live.base,
                headers={"Authorization": f"Bearer {KEY}"},
                # Schema-valid is not always acceptable: a well-formed but unknown unit
                # code is a documented 422. Every other check stays on.
                excluded_checks=[positive_data_acceptance],
                timeout=10,
            )

        try:
            call()
        except Unsatisfiable:
            # An operation with no parameters and no body has no invalid input to send.
            assert mode == GenerationMode.NEGATIVE, operation.path
        except Exception as exc:
            raise AssertionError(f"{operation.method.upper()} {operation.path}: {exc}") from exc
    if mode == GenerationMode.POSITIVE:
        assert live.run(_dossiers) > 0, "no generated request reached the happy path"
    else:  # every request was invalid and refused: not a row more anywhere
        assert live.run(_table_counts) == before


async def _dossiers(app) -> int:
    async with app.db.read() as session:
        return (await session.exec(select(func.count()).select_from(Dossier))).scalar_one()


# --- nothing stored, and hostile bodies the generator does not try -------------------------

AUTH = {"Authorization": f"Bearer {KEY}"}


async def _table_counts(app) -> dict[str, int]:
    counts = {}
    async with app.db.read() as session:
        for table in metadata.sorted_tables:
            counts[table.name] = (
                await session.exec(select(func.count()).select_from(table))
            ).one()[0]
    return counts


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


HOSTILE_BODIES = [
    ("not UTF-8", b'{"receipt_code": "\xff\xfe\xfa"}', "application/json"),
    ("UTF-16 text", '{"receipt_code": "hồ sơ"}'.encode("utf-16"), "application/json"),
    ("truncated JSON", b'{"receipt_code": "R1", "unit_code": ', "application/json"),
    ("empty", b"", "application/json"),
    ("JSON null", b"null", "application/json"),
    ("JSON array", b'[{"receipt_code": "R1"}]', "application/json"),
    ("NaN", b'{"receipt_code": NaN, "completed_at": Infinity}', "application/json"),
    ("deeply nested", _deep(100_000), "application/json"),
    ("huge string", b'{"receipt_code": "' + b"A" * 3_000_000 + b'"}', "application/json"),
    (
        "many keys",
        b"{" + b",".join(b'"k%d": 1' % i for i in range(200_000)) + b"}",
        "application/json",
    ),
    (
        "form instead of JSON",
        b"receipt_code=R1&unit_code=DN.HAICHAU",
        "application/x-www-form-urlencoded",
    ),
    ("text/plain JSON", b'{"receipt_code": "R1"}', "text/plain"),
    (
        "multipart",
        b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n',
        "multipart/form-data; boundary=x",
    ),
    ("XML", b"<dossier><receipt_code>R1</receipt_code></dossier>", "application/xml"),
    (
        "charset lie",
        '{"receipt_code": "Đ"}'.encode("cp1258", errors="replace"),
        "application/json; charset=utf-8",
    ),
]


@pytest.mark.parametrize(
    ("what", "body", "content_type"), HOSTILE_BODIES, ids=[h[0] for h in HOSTILE_BODIES]
)
def test_hostile_bodies_to_the_json_api_get_4xx_and_store_nothing(live, what, body, content_type):
    before = live.run(_table_counts)
    r = httpx.post(
        f"{live.base}/api/v1/dossiers",
        content=body,
        headers={**AUTH, "Content-Type": content_type},
        timeout=30,
    )
    assert 400 <= r.status_code < 500, (what, r.status_code, r.text[:200])
    assert r.headers["content-type"].startswith("application/json"), what
    assert live.run(_table_counts) == before, what


ODD_QUERIES = [
    "from=%ff%fe",
    "from=31/02/2026",
    "from=2026-13-01&to=2026-01-01",
    "to=9999999999-01-01",
    "unit=%00",
    "unit=" + "A" * 10_000,
    "period=%c0%af",
    "period=quarter&period=year",
    "from=2026-05-01&to=2026-01-01",
]


@pytest.mark.parametrize("path", ["/api/v1/satisfaction", "/api/v1/quotas"])
def test_odd_report_queries_never_get_a_5xx_and_store_nothing(live, path):
    before = live.run(_table_counts)
    for query in ODD_QUERIES:
        r = httpx.get(f"{live.base}{path}?{query}", headers=AUTH, timeout=30)
        assert r.status_code < 500, (query[:60], r.status_code, r.text[:200])
        if "%ff" in query or "%00" in query or "31/02" in query or "13-01" in query:
            assert 400 <= r.status_code < 500, (query[:60], r.status_code)
    assert live.run(_table_counts) == before


def _chat_session(client: httpx.Client) -> str:
    page = client.get("/chat")
    assert page.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return csrf


def test_hostile_web_chat_posts_get_4xx_and_store_nothing(live):
    form = "application/x-www-form-urlencoded"
    upload = (
        b'--x\r\nContent-Disposition: form-data; name="f"; filename="a.bin"\r\n\r\n'
        b"\x00\x01\r\n--x--\r\n"
    )
    with httpx.Client(base_url=live.base, timeout=30) as client:
        csrf = _chat_session(client)
        before = live.run(_table_counts)
        cases = [
            ("wrong csrf", b"csrf=nope&text=5", form),
            ("no csrf", b"text=5", form),
            ("huge", b"csrf=" + csrf.encode() + b"&text=" + b"A" * 200_000, form),
            ("JSON body", json.dumps({"csrf": csrf, "text": "5"}).encode(), "application/json"),
            ("not UTF-8, wrong csrf", b"csrf=%ff%fe&text=%c0%af", form),
            ("binary", bytes(range(256)) * 8, "application/octet-stream"),
            ("multipart file, wrong csrf", upload, "multipart/form-data; boundary=x"),
            (
                "broken multipart",
                b'--x\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n',
                "multipart/form-data; boundary=x",
            ),
        ]
        for what, body, content_type in cases:
            r = client.post("/chat", content=body, headers={"Content-Type": content_type})
            assert 400 <= r.status_code < 500, (what, r.status_code, r.text[:200])
        # No Content-Length at all (a chunked body): refused before it is read.
        chunks = iter([b"csrf=", csrf.encode(), b"&text=5"])
        r = client.post("/chat", content=chunks, headers={"Content-Type": form})
        assert 400 <= r.status_code < 500, ("chunked", r.status_code)
        # Valid session and token but nothing to say: no event, a redirect, nothing stored.
        r = client.post("/chat", data={"csrf": csrf, "text": " \x00\x07 "})
        assert r.status_code == 303
    assert live.run(_table_counts) == before


def test_web_chat_posts_with_odd_but_valid_text_never_get_a_5xx(live):
    with httpx.Client(base_url=live.base, timeout=30) as client:
        csrf = _chat_session(client)
        for text in ["\x00Đ\x00", "%ff%fe", "😀" * 900, "\u202e\u200b", "' OR 1=1 --", "<script>"]:
            r = client.post("/chat", data={"csrf": csrf, "text": text})
            assert r.status_code == 303, (text[:10], r.status_code, r.text[:200])
        page = client.get("/chat")
        assert page.status_code == 200 and "<script>" not in page.text
