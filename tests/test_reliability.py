"""Inbound reliability over real HTTP: a server killed with SIGKILL under load, every
webhook delivered three times (also at once), and fuzzed webhook bodies.

The citizens (tests/citizens.py) post exactly what Telegram and Zalo would post; the
server is uvicorn running ``create_app`` (a thread, or a ``sipas-bot serve`` process for
the kill); the checks read the database afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import time
from collections import Counter
from datetime import timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.engine import make_url

from bot.core.app import App
from flows import questionnaire as qn
from storage.models import (
    Answer,
    Conversation,
    InboundEvent,
    Outbox,
    Response,
    RollupAnswer,
    RollupResponse,
)
from tests.builders import Citizen as Citizen_
from tests.builders import make_org
from tests.citizens import (
    ANSWERS,
    BOT_ID,
    PRESSES,
    STEPS,
    TELEGRAM_PATH,
    TELEGRAM_SECRET_HEADER,
    ZALO_PATH,
    Citizen,
    Request,
    issue_codes,
    telegram_citizen,
    telegram_message,
    zalo_citizen,
    zalo_request,
)
from tests.conftest import make_settings
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.fake_zalo import ZaloEvents
from tests.live import LiveServer
from tests.processes import free_port, start_serving, stop_process, wait_healthy

SECRET = "reliability_Secret-1"
ZALO_APP_ID = "4411223344556677889"
ZALO_OA_SECRET = "reliability-oa-secret"
CHANNEL_SETTINGS = {
    "telegram_token": TOKEN,
    "telegram_webhook_secret": SECRET,
    "zalo_app_id": ZALO_APP_ID,
    "zalo_oa_secret": ZALO_OA_SECRET,
}
TABLES = (InboundEvent, Conversation, Outbox, Response, Answer)


def event_id(request: Request) -> tuple[str, str]:
    """The inbound_event key the engine stores for a citizen's request."""
    kind, _, value = request.key.partition(":")
    if kind == "tg":
        return "telegram", f"{BOT_ID}:{value}"
    return "zalo", f"m:{value}"


async def make_citizens(app: App, telegram: int, zalo: int, first_chat: int) -> list[Citizen]:
    """``telegram`` + ``zalo`` citizens, each with a fresh survey code."""
    org = await make_org(app)
    codes = await issue_codes(app, org.ward, org.procedure, telegram + zalo)
    update_ids = itertools.count(500_000)
    signer = ZaloEvents(ZALO_APP_ID, ZALO_OA_SECRET)
    citizens = [
        telegram_citizen(first_chat + n, codes[n], SECRET, update_ids, with_message=False)
        for n in range(telegram)
    ]
    citizens += [
        zalo_citizen(f"{first_chat + n}", codes[n], signer, app.keys)
        for n in range(telegram, telegram + zalo)
    ]
    return citizens


async def count(app: App, model) -> int:
    async with app.db.read() as session:
        return (await session.exec(select(func.count()).select_from(model))).scalar_one()


async def assert_surveys_counted_once(app: App, citizens: list[Citizen]) -> None:
    """Every citizen's survey is completed once, with each answer stored and counted once."""
    async with app.db.read() as session:
        responses = (await session.exec(select(Response))).scalars().all()
        answers = (await session.exec(select(Answer))).scalars().all()
        rollup_responses = (
            await session.exec(select(func.sum(RollupResponse.responses)))
        ).scalar_one()
        rollup_answers = (await session.exec(select(RollupAnswer))).scalars().all()
    expected_hashes = {app.keys.user_hash(c.channel, c.user_id) for c in citizens}
    assert len(responses) == len(citizens)
    assert {r.respondent_hash for r in responses} == expected_hashes
    assert all(r.status == "completed" for r in responses)
    per_response: dict[int, dict[str, int | None]] = {}
    for a in answers:
        assert a.item_code not in per_response.setdefault(a.response_id, {})
        per_response[a.response_id][a.item_code] = a.value
    assert list(per_response.values()) == [ANSWERS] * len(citizens)
    assert rollup_responses == len(citizens)
    levels: dict[str, Counter] = {}  # summed over days (a run may straddle local midnight)
    for row in rollup_answers:
        for level in range(1, 6):
            levels.setdefault(row.item_code, Counter())[level] += getattr(row, f"n{level}")
    expected = {item: Counter({value: len(citizens)}) for item, value in ANSWERS.items()}
    assert {item: +counts for item, counts in levels.items()} == expected


async def assert_outbox_rows_unique(app: App) -> None:
    """No reply was queued twice: within a chat, no two rows carry the same payload."""
    async with app.db.read() as session:
        rows = (await session.exec(select(Outbox.channel, Outbox.recipient, Outbox.payload))).all()
    seen = Counter((c, r, json.dumps(p, sort_keys=True)) for c, r, p in rows)
    twice = [key for key, n in seen.items() if n > 1]
    assert not twice, f"queued more than once: {twice[:3]}"


# --- every webhook delivered three times ---------------------------------------------


@pytest.fixture
def live(db_url, tmp_path):
    with LiveServer(db_url, tmp_path / "data", **CHANNEL_SETTINGS) as server:
        yield server


async def test_every_webhook_delivered_three_times_counts_each_answer_once(live):
    app = App(live.settings)
    try:
        citizens = await make_citizens(app, telegram=6, zalo=6, first_chat=7000)

        async with httpx.AsyncClient(base_url=live.base, timeout=30) as http:
            answers: list[dict] = []  # the calls the webhooks' 200s carried

            async def post(request: Request) -> int:
                r = await http.post(request.path, content=request.body, headers=request.headers)
                if r.status_code == 200 and "method" in r.json():
                    answers.append(r.json())
                return r.status_code

            async def take_part(citizen: Citizen) -> list[int]:
                statuses = []
                for request in citizen.requests:  # three copies at once, then the next step
                    statuses += await asyncio.gather(*(post(request) for _ in range(3)))
                return statuses

            results = await asyncio.gather(*(take_part(c) for c in citizens))
            assert all(s == 200 for statuses in results for s in statuses)
            # Late redeliveries of everything, after the surveys were completed.
            late = await asyncio.gather(*(post(r) for c in citizens for r in c.requests))
            assert set(late) == {200}

        assert await count(app, InboundEvent) == len(citizens) * STEPS
        await assert_surveys_counted_once(app, citizens)
        await assert_outbox_rows_unique(app)
        async with app.db.read() as session:
            calls = (await session.exec(select(Outbox.payload))).scalars().all()
        queued = [
            p for p in calls if p.get("calls", [{}])[0].get("method") == "answerCallbackQuery"
        ]
        assert queued == []  # a webhook's press is answered in its 200, not from the outbox
        # Every copy of a press got the answer (Telegram delivers again only when its
        # first answer was lost), so 3 + 1 late copies; every press was answered.
        assert {a["method"] for a in answers} == {"answerCallbackQuery"}
        queries = Counter(a["callback_query_id"] for a in answers)
        assert len(queries) == 6 * len(PRESSES) and set(queries.values()) == {4}
    finally:
        await app.close()


# --- the first surveys of a process (found by bench/inbound.py) ----------------------------


async def test_a_rolled_back_first_survey_leaves_no_stale_questionnaire_id(app):
    # The id of a questionnaire row inserted in a transaction that then failed was
    # cached anyway: every later survey of the process broke its foreign key.
    quick = qn.get("quick")
    with contextlib.suppress(RuntimeError):
        async with app.db.write() as session:
            await app.questionnaire_id(session, quick.code, quick.version)
            raise RuntimeError("the event failed after the questionnaire was stored")
    org = await make_org(app)
    (code,) = await issue_codes(app, org.ward, org.procedure, 1)
    await Citizen_(app, "first").say(f"/start {code}")
    assert await count(app, Response) == 1


async def test_concurrent_first_surveys_of_a_fresh_server_all_start(live):
    # PostgreSQL: a concurrent transaction used the id before its row was committed.
    app = App(live.settings)
    try:
        citizens = await make_citizens(app, telegram=6, zalo=6, first_chat=6000)
        async with httpx.AsyncClient(base_url=live.base, timeout=30) as http:
            firsts = [c.requests[0] for c in citizens]
            statuses = await asyncio.gather(*(http.post(r.path, **_req(r)) for r in firsts))
        assert [r.status_code for r in statuses] == [200] * len(citizens)
        assert await count(app, Response) == len(citizens)
    finally:
        await app.close()


# --- bodies found to crash the webhooks (fixed), then fuzzing ----------------------------


async def test_odd_but_signed_bodies_get_4xx_or_are_stored_cleanly(live):
    app = App(live.settings)
    signer = ZaloEvents(ZALO_APP_ID, ZALO_OA_SECRET)
    tg_headers = {"Content-Type": "application/json", TELEGRAM_SECRET_HEADER: SECRET}
    try:
        citizens = await make_citizens(app, telegram=1, zalo=1, first_chat=8000)
        async with httpx.AsyncClient(base_url=live.base, timeout=30) as http:
            # Ids too long to be real were a 500 on PostgreSQL (varchar(128)), forever
            # redelivered; now refused, nothing stored.
            for update_id, chat_id in ((10**130, 5), (5, 10**130)):
                body = json.dumps(telegram_message(update_id, chat_id, 1, "/start")).encode()
                r = await http.post(TELEGRAM_PATH, content=body, headers=tg_headers)
                assert r.status_code == 400
            for sender in ({"id": "9" * 300}, {"id": {"nested": 1}}, {"id": True}):
                event = signer.text_event("x", "hello", "zmsg1")
                event["sender"] = sender
                r = await http.post(ZALO_PATH, **_req(zalo_request(signer, event, "k")))
                assert r.status_code == 200 and r.json().get("ignored")
            # JSON nested deeper than the parser's recursion limit was a 500.
            deep = b"[" * 100_000 + b"]" * 100_000
            r = await http.post(TELEGRAM_PATH, content=deep, headers=tg_headers)
            assert r.status_code == 400
            body = b'{"timestamp": "1795000000000", "x": ' + deep + b"}"
            headers = {"X-ZEvent-Signature": signer.signature(body, "1795000000000")}
            assert (await http.post(ZALO_PATH, content=body, headers=headers)).status_code == 400
            assert [await count(app, m) for m in TABLES] == [0] * len(TABLES)

            # A comment with NUL and a lone surrogate was a 500 on PostgreSQL (text
            # columns refuse NUL; UTF-8 cannot encode a lone surrogate): now stored clean.
            for citizen in citizens:
                for request in citizen.requests[:-1]:
                    assert (await http.post(request.path, **_req(request))).status_code == 200
            tg, zl = citizens
            comment = "Tốt\x00 lắm\ud800!"
            press = telegram_message(999_001, int(tg.user_id), 50, comment)
            body = json.dumps(press).encode()  # ASCII escapes: the lone surrogate survives
            assert (
                await http.post(TELEGRAM_PATH, content=body, headers=tg_headers)
            ).status_code == 200
            event = signer.text_event(zl.user_id, comment, "zmsg-comment")
            body = json.dumps(event).encode()
            headers = {
                "Content-Type": "application/json",
                "X-ZEvent-Signature": signer.signature(body, event["timestamp"]),
            }
            assert (await http.post(ZALO_PATH, content=body, headers=headers)).status_code == 200
        async with app.db.read() as session:
            comments = (await session.exec(select(Response.comment, Response.status))).all()
        assert sorted(comments) == [("Tốt lắm\ufffd!", "completed")] * 2
    finally:
        await app.close()


def _req(request: Request) -> dict:
    return {"content": request.body, "headers": request.headers}


# --- fuzzed webhook bodies -------------------------------------------------------------

_json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
)
_json = st.recursive(
    _json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
_texts = st.text(max_size=60) | st.sampled_from(
    ["/start", "/start ABC", "\x00", "\ud800x", "a" * 5000]
)
_odd_ids = (
    st.integers(min_value=-(10**150), max_value=10**150)
    | st.text(max_size=8)
    | st.text(min_size=100, max_size=300)
    | st.none()
)
_good_ids = st.integers(min_value=1, max_value=2**40)
_ids = st.one_of(_good_ids, _good_ids, _odd_ids)  # mostly plausible, so some get processed
_dates = st.one_of(st.integers(min_value=0, max_value=2**31), _odd_ids)


@st.composite
def telegram_bodies(draw) -> bytes:
    """Garbage, JSON that is no update, and updates with odd fields (ids, texts, kinds)."""
    kind = draw(st.sampled_from(["bytes", "json", "message", "press", "member"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "json":
        return json.dumps(draw(_json)).encode()
    chat = {"id": draw(_ids), "type": draw(st.sampled_from(["private", "private", "group", "x"]))}
    user = {"id": draw(_ids), "is_bot": draw(st.booleans()), "first_name": draw(_texts)}
    if draw(st.booleans()):
        user["language_code"] = draw(_texts)
    update: dict = {"update_id": draw(_ids)}
    if kind == "message":
        update["message"] = {
            "message_id": draw(_ids),
            "date": draw(_dates),
            "chat": chat,
            "from": user,
            "text": draw(_texts),
        }
    elif kind == "press":
        update["callback_query"] = {
            "id": draw(_texts),
            "from": user,
            "chat_instance": "c",
            "data": draw(_texts),
        }
    else:
        member = {"user": user, "status": draw(st.sampled_from(["kicked", "member", "?"]))}
        update["my_chat_member"] = {
            "chat": chat,
            "from": user,
            "date": draw(_dates),
            "old_chat_member": member,
            "new_chat_member": member,
        }
    return json.dumps(update, ensure_ascii=draw(st.booleans())).encode(errors="surrogatepass")


_START_MS = int(time.time() * 1000)  # fixed for the run: strategies must not change


@st.composite
def zalo_bodies(draw) -> bytes:
    """Garbage and events with odd fields; every one carries a timestamp to sign."""
    kind = draw(st.sampled_from(["bytes", "json", "event"]))
    # Mostly recent: events outside the accepted window are refused before they are read.
    recent = st.integers(min_value=-3_600_000, max_value=60_000).map(lambda d: _START_MS + d)
    stamp = str(draw(recent | recent | st.integers(min_value=0, max_value=2**64)))
    if kind == "bytes":
        return draw(st.binary(max_size=200)) + f'"timestamp":"{stamp}"'.encode()
    if kind == "json":
        return json.dumps({"timestamp": stamp, "x": draw(_json)}).encode()
    event = {
        "app_id": ZALO_APP_ID,
        "event_name": draw(
            st.sampled_from(["user_send_text", "follow", "unfollow", "user_send_image", "oa_x"])
            | st.text(max_size=10)
        ),
        "sender": draw(
            st.fixed_dictionaries({"id": _ids | _json})
            | st.dictionaries(st.sampled_from(["id", "x"]), _json, max_size=2)
            | _json
        ),
        "follower": {"id": draw(_ids)},
        "message": {"text": draw(_texts), "msg_id": draw(_ids | _json)},
        "timestamp": draw(st.sampled_from([stamp, int(stamp)])),
    }
    return json.dumps(event, ensure_ascii=draw(st.booleans())).encode(errors="surrogatepass")


def sync_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


FUZZ = settings(
    max_examples=75,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


def test_fuzzed_webhook_bodies_get_4xx_or_are_ignored_never_5xx(live):
    engine = create_engine(sync_url(live.settings.database_url))
    signer = ZaloEvents(ZALO_APP_ID, ZALO_OA_SECRET)

    def counts() -> tuple[int, ...]:
        with engine.connect() as conn:
            return tuple(
                conn.execute(text(f"SELECT count(*) FROM {m.__tablename__}")).scalar_one()
                for m in TABLES
            )

    def check(response: httpx.Response, before: tuple[int, ...]) -> None:
        assert response.status_code < 500, response.text
        after = counts()
        if response.status_code != 200 or response.json().get("ignored"):
            assert after == before, "a refused or ignored body changed the database"
        else:  # processed: at most one event stored
            assert after[0] - before[0] in (0, 1)

    try:
        with httpx.Client(base_url=live.base, timeout=30) as http:

            @FUZZ
            @given(body=telegram_bodies(), right_secret=st.booleans())
            def telegram(body: bytes, right_secret: bool) -> None:
                before = counts()
                secret = SECRET if right_secret else SECRET[:-1]
                headers = {"Content-Type": "application/json", TELEGRAM_SECRET_HEADER: secret}
                response = http.post(TELEGRAM_PATH, content=body, headers=headers)
                if not right_secret:
                    assert response.status_code == 401
                check(response, before)

            @FUZZ
            @given(body=zalo_bodies(), signing=st.sampled_from(["right", "wrong", "none"]))
            def zalo(body: bytes, signing: str) -> None:
                before = counts()
                stamp = body.split(b'"timestamp":', 1)[-1].strip(b' "').split(b'"')[0]
                stamp = bytes(c for c in stamp if 48 <= c <= 57)[:20]
                headers = {"Content-Type": "application/json"}
                if signing != "none":
                    mac = signer.signature(body, stamp.decode())
                    headers["X-ZEvent-Signature"] = mac if signing == "right" else mac[::-1]
                response = http.post(ZALO_PATH, content=body, headers=headers)
                if signing != "right":
                    assert response.status_code == 401
                check(response, before)

            telegram()
            zalo()
    finally:
        engine.dispose()


# --- a serving process killed under load -----------------------------------------------


class Load:
    """Citizens posting their steps in order, concurrently; remembers what got a 200."""

    def __init__(self, base: str, citizens: list[Citizen]) -> None:
        self.base = base
        self.citizens = citizens
        self.next = {id(c): 0 for c in citizens}  # index of each citizen's next request
        self.ok: list[Request] = []  # every request that was answered 200
        self.answers: list[dict] = []  # the Bot API calls those 200s carried
        self.changed = asyncio.Event()

    async def run(self, redeliver: int = 0) -> None:
        """Until each citizen is done or the server stops answering; with ``redeliver``,
        a request that got no 200 (a 5xx, a time-out on a busy machine) is sent again up
        to that many times, half a second apart, as Telegram and Zalo do."""
        limits = httpx.Limits(max_connections=len(self.citizens))
        async with httpx.AsyncClient(base_url=self.base, timeout=30, limits=limits) as http:
            await asyncio.gather(*(self._citizen(http, c, redeliver) for c in self.citizens))

    async def _citizen(self, http: httpx.AsyncClient, citizen: Citizen, redeliver: int) -> None:
        tries = 0
        while self.next[id(citizen)] < len(citizen.requests):
            request = citizen.requests[self.next[id(citizen)]]
            try:
                r = await http.post(request.path, content=request.body, headers=request.headers)
                status = r.status_code
                if status == 200 and "method" in r.json():
                    self.answers.append(r.json())
            except httpx.TransportError:
                status = 0  # the server died (or did not answer in time)
            if status != 200:
                tries += 1
                if tries > redeliver:
                    return  # the channel will deliver this one again
                await asyncio.sleep(0.5)
                continue
            tries = 0
            self.ok.append(request)
            self.next[id(citizen)] += 1
            self.changed.set()


@pytest.mark.slow
async def test_a_process_killed_under_load_loses_no_acknowledged_update_and_sends_once(
    db_url, tmp_path
):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(db_url, tmp_path / "data", public_url=base, **CHANNEL_SETTINGS)
    app = App(settings)  # the test's view of the database
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")}
    env.update(
        SIPAS_DATABASE_URL=db_url,
        SIPAS_DATA_DIR=str(tmp_path / "data"),
        SIPAS_SECRET_KEY=settings.secret_key.get_secret_value(),
        SIPAS_PUBLIC_URL=base,
        SIPAS_HTTP_PORT=str(port),
        SIPAS_TELEGRAM_TOKEN=TOKEN,
        SIPAS_TELEGRAM_WEBHOOK_SECRET=SECRET,
        # First life: the Bot API cannot be reached, so nothing is sent before the kill
        # and every message the fake receives later is one the restarted process sent.
        SIPAS_TELEGRAM_API_BASE=f"http://127.0.0.1:{free_port()}",
        SIPAS_TELEGRAM_RATE="1000",
        SIPAS_TELEGRAM_CHAT_INTERVAL="0",
        SIPAS_ZALO_APP_ID=ZALO_APP_ID,
        SIPAS_ZALO_OA_SECRET=ZALO_OA_SECRET,
    )
    log_path = tmp_path / "serve.log"
    proc = None
    tg = FakeTelegram()
    try:
        await tg.start()
        citizens = await make_citizens(app, telegram=24, zalo=8, first_chat=9000)
        total = len(citizens) * STEPS
        proc = await start_serving(env, log_path)
        await wait_healthy(base, proc)

        load = Load(base, citizens)
        running = asyncio.create_task(load.run())
        async with asyncio.timeout(60):
            while len(load.ok) < total * 0.4:  # kill in the middle of the load
                load.changed.clear()
                await load.changed.wait()
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        await running
        acknowledged = list(load.ok)
        assert 0 < len(acknowledged) < total

        # Every update that got a 200 is stored, with its effect.
        async with app.db.read() as session:
            stored = set(
                (await session.exec(select(InboundEvent.channel, InboundEvent.event_id))).all()
            )
            responses = {
                r.respondent_hash: r for r in (await session.exec(select(Response))).scalars()
            }
            answers = {
                (a.response_id, a.item_code): a.value
                for a in (await session.exec(select(Answer))).scalars()
            }
        assert {event_id(r) for r in acknowledged} <= stored
        print(f"killed after {len(acknowledged)}/{total} acknowledged, {len(stored)} stored")
        items = ["overall", "E1", "E2", "E3", "E4", "E5"]
        for citizen in citizens:
            done = load.next[id(citizen)]  # steps answered 200, in order
            if done == 0:
                continue
            response = responses[app.keys.user_hash(citizen.channel, citizen.user_id)]
            for press in PRESSES[: done - 1]:
                if press.startswith("a:"):
                    index, value = (int(p) for p in press.split(":")[1:])
                    assert answers[(response.id, items[index])] == value
            if done == STEPS:
                assert response.status == "completed"

        # Retries of the first life (the Bot API was unreachable) come due now rather
        # than being waited for. Rows the dead process had claimed, or was sending, are
        # left as they are: the next process releases them as it starts, without waiting
        # for their lease (those it was sending are settled as "outcome unknown").
        async with app.db.write() as session:
            await session.exec(
                update(Outbox)
                .where(Outbox.status == "pending")
                .values(not_before=app.now() - timedelta(seconds=1))
            )
            held = select(Outbox.claimed_by).where(Outbox.status.in_(("claimed", "sending")))
            owners = [o for o in (await session.exec(held)).scalars() if o]
        print(f"{len(owners)} rows claimed or being sent by the killed process")
        owners = set(owners)

        # Second life, with the Bot API reachable; the load goes on where each citizen
        # was (what got no 200 is delivered again, as Telegram and Zalo do).
        env["SIPAS_TELEGRAM_API_BASE"] = tg.url
        proc = await start_serving(env, log_path)
        await wait_healthy(base, proc)
        async with app.db.read() as session:
            still = (
                select(func.count())
                .select_from(Outbox)
                .where(Outbox.claimed_by.in_(owners), Outbox.status.in_(("claimed", "sending")))
            )
            assert (await session.exec(still)).scalar_one() == 0, "claims of the dead process"
        await load.run(redeliver=20)
        assert all(load.next[id(c)] == STEPS for c in citizens)

        async def drained() -> bool:
            async with app.db.read() as session:
                left = (
                    select(func.count())
                    .select_from(Outbox)
                    .where(Outbox.channel == "telegram", Outbox.status.in_(("pending", "claimed")))
                )
                return (await session.exec(left)).scalar_one() == 0

        async with asyncio.timeout(60):
            while True:
                if await drained():
                    break
                await asyncio.sleep(0.2)

        assert await count(app, InboundEvent) == total
        await assert_surveys_counted_once(app, citizens)
        await assert_outbox_rows_unique(app)
        sent = Counter(
            (c.params["chat_id"], c.params["text"]) for c in tg.calls_of("sendMessage", ok=True)
        )
        assert sent and max(sent.values()) == 1, "a message went out twice"
        thanked = {chat for chat, t in sent if "cảm ơn" in t.lower()}
        assert len(thanked) == 24  # every Telegram citizen got their last message
        assert tg.calls_of("answerCallbackQuery") == []  # answered in the webhooks' 200s
        queries = Counter(a["callback_query_id"] for a in load.answers)
        assert len(queries) == 24 * len(PRESSES) and max(queries.values()) == 1
    except BaseException:
        print(log_path.read_text(errors="replace")[-5000:] if log_path.exists() else "(no log)")
        raise
    finally:
        await stop_process(proc)
        await tg.stop()
        await app.close()
