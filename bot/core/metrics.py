"""The process's Prometheus metrics (``GET /metrics``; prometheus-client).

Counters and the step histogram are bumped where things happen, and stay cheap there:
the labelled children of the hot path (one per channel and outcome) are looked up once
and kept (``inbound``). Figures that live in the database (outbox depth, dead letters,
reminders due, the Zalo token) are read when ``/metrics`` is scraped (bot/http/metrics.py),
never on the path of a message.

Every process has its own figures (a second worker on PostgreSQL has its own
``/metrics``); Prometheus adds them up.

Other parts count into the objects below: the outbox sender (sends, 429s), the reminder
clock (reminders sent), the database (errors), and the ZNS sender (``ZNS_SPEND``, in
đồng, and ``ZNS_SENT``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

INBOUND = Counter(
    "sipas_inbound_events",
    "Inbound events by channel and outcome (processed, duplicate, refused, failed, ignored)",
    ["channel", "outcome"],
    registry=REGISTRY,
)
STEP_SECONDS = Histogram(
    "sipas_step_seconds",
    "Time to process one inbound event (dedupe, state, flow step, commit)",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
STEP_PATH = Counter(
    "sipas_step_path",
    "Chat steps by how they were stored: direct (read, step, one guarded write) or "
    "locked (a transaction holding the conversation's lock)",
    ["path"],
    registry=REGISTRY,
)
SENDS = Counter(
    "sipas_outbox_sends",
    "Outbox send attempts by channel and result (sent, retry, dead)",
    ["channel", "result"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "sipas_outbox_rate_limited",
    "Answers asking us to slow down (HTTP 429 and the like), by channel",
    ["channel"],
    registry=REGISTRY,
)
OUTBOX_DEPTH = Gauge(
    "sipas_outbox_depth",
    "Outbox rows still to send (pending, claimed, sending), by channel and status",
    ["channel", "status"],
    registry=REGISTRY,
)
DEAD_LETTERS = Gauge(
    "sipas_outbox_dead_letters",
    "Dead outbox rows waiting for a human (sipas-bot outbox list --dead), by channel",
    ["channel"],
    registry=REGISTRY,
)
SENT_PRUNED = Gauge(
    "sipas_outbox_sent_pruned",
    "Sent outbox rows removed by retention (their count is kept), by channel",
    ["channel"],
    registry=REGISTRY,
)
REMINDERS_DUE = Gauge(
    "sipas_reminders_due",
    "Reminders due now and not yet dispatched",
    registry=REGISTRY,
)
REMINDERS_SENT = Counter(
    "sipas_reminders_sent",
    "Reminders dispatched by this process",
    registry=REGISTRY,
)
ZALO_TOKEN_VALID = Gauge(
    "sipas_zalo_token_valid",
    "1 when a Zalo access token is stored and not expired, else 0 (only where Zalo sends)",
    ["channel"],
    registry=REGISTRY,
)
ZALO_TOKEN_EXPIRES = Gauge(
    "sipas_zalo_token_expires_seconds",
    "Seconds until the stored Zalo access token expires (negative: expired)",
    ["channel"],
    registry=REGISTRY,
)
ZNS_SENT = Counter(
    "sipas_zns_sent",
    "ZNS template messages sent, by template",
    ["template"],
    registry=REGISTRY,
)
ZNS_SPEND = Counter(
    "sipas_zns_spend_dong",
    "What the ZNS messages sent cost, in đồng, by template",
    ["template"],
    registry=REGISTRY,
)
DB_ERRORS = Counter(
    "sipas_database_errors",
    "Database errors (connection lost, timeouts, refused statements), by kind",
    ["kind"],
    registry=REGISTRY,
)
THROTTLED = Counter(
    "sipas_throttled",
    "Requests refused by a throttle (web posts, code tries), by what was limited",
    ["limit"],
    registry=REGISTRY,
)

_inbound_children: dict[tuple[str, str], Counter] = {}
_step_children: dict[str, Histogram] = {}


def inbound(channel: str, outcome: str) -> None:
    """Count one inbound event (the labelled child is cached: this is the hot path)."""
    key = (channel, outcome)
    child = _inbound_children.get(key)
    if child is None:
        child = _inbound_children[key] = INBOUND.labels(channel, outcome)
    child.inc()


def step_time(channel: str, seconds: float) -> None:
    """Record how long one event took."""
    child = _step_children.get(channel)
    if child is None:
        child = _step_children[channel] = STEP_SECONDS.labels(channel)
    child.observe(seconds)


def database_error(exc: BaseException) -> None:
    """Count a database error by its kind (the exception's class name)."""
    original = getattr(exc, "orig", None) or exc
    DB_ERRORS.labels(type(original).__name__).inc()
