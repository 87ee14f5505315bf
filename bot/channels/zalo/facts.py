"""What we believe about Zalo's OA API, in one place.

Zalo's documentation is thin and partly contradictory (see the shared reference
``zalo-oa.md``). Everything below marked ``verify`` comes from public integrations
rather than from a statement we could check; when Zalo proves one wrong, the
correction is a change here, and the tests that pin the known variants say which.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass

# --- endpoints (relative to SIPAS_ZALO_API_BASE / SIPAS_ZALO_OAUTH_BASE) ---------------

TOKEN_PATH = "/v4/oa/access_token"  # OAuth: refresh and first pair, form-encoded
PERMISSION_PATH = "/v4/oa/permission"  # OAuth: where an OA admin approves the app
MESSAGE_CS_PATH = "/v3.0/oa/message/cs"  # customer-service messages (replies)
UPLOAD_IMAGE_PATH = "/v2.0/oa/upload/image"  # verify; answers data.attachment_id
UPLOAD_FILE_PATH = "/v2.0/oa/upload/file"  # verify; answers data.token
UPLOAD_FIELD = "file"  # verify: the multipart field of both uploads
PROFILE_PATH = "/v3.0/oa/user/detail"  # verify


def profile_query(user_id: str) -> dict[str, str]:
    """The query of a profile request (verify: ``?data={"user_id": "…"}``)."""
    return {"data": json.dumps({"user_id": user_id})}


# --- limits ------------------------------------------------------------------------

MAX_BUTTONS = 5  # verify: integrations cap a message at about five buttons
MAX_BUTTON_TITLE = 100  # verify: characters
MAX_BUTTON_PAYLOAD = 1000  # verify: characters of an oa.query.* payload
MAX_TEXT = 2000  # verify: characters of a message's text
SEND_PER_SECOND = 10.0  # verify: integrations cite ~20 requests/s for sending; stay below
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif"})  # sent as images

# --- buttons -----------------------------------------------------------------------

# A press of an "oa.query.hide" button comes back as a user_send_text event whose text
# is the payload, not shown in the chat; "oa.query.show" would show it.
BUTTON_TYPE = "oa.query.hide"
# verify: some integrations also put "template_type": "button" in the payload; the
# reference's form (question in message.text, buttons in the payload) needs none.
BUTTON_TEMPLATE_TYPE: str | None = None


def button_message(text: str, buttons: list[dict]) -> dict:
    """The ``message`` object of a text with buttons."""
    payload: dict = {"buttons": buttons}
    if BUTTON_TEMPLATE_TYPE:
        payload["template_type"] = BUTTON_TEMPLATE_TYPE
    return {"text": text, "attachment": {"type": "template", "payload": payload}}


def image_message(attachment_id: str, text: str | None = None) -> dict:
    """The ``message`` object of an uploaded image (verify: media template)."""
    element = {"media_type": "image", "attachment_id": attachment_id}
    message: dict = {
        "attachment": {
            "type": "template",
            "payload": {"template_type": "media", "elements": [element]},
        }
    }
    if text:
        message["text"] = text
    return message


def file_message(token: str) -> dict:
    """The ``message`` object of an uploaded file (verify)."""
    return {"attachment": {"type": "file", "payload": {"token": token}}}


# --- webhook signature -------------------------------------------------------------

SIGNATURE_HEADER = "X-ZEvent-Signature"
# The body names the app an event is for (the signature covers it); events of another
# app, and events whose millisecond ``timestamp`` is far from our clock (a replay of an
# old signed body), are refused. verify: how long Zalo keeps redelivering an event it
# got no 200 for (retries seen in the wild come within minutes; the window is a setting,
# SIPAS_ZALO_EVENT_WINDOW_MINUTES, a day by default).
APP_ID_FIELD = "app_id"
TIMESTAMP_FIELD = "timestamp"
SIGNATURE_PREFIXES = ("mac=",)  # some deliveries prefix the hex digest with "mac="


def signature(app_id: str, raw_body: bytes, timestamp: str, oa_secret: str) -> str:
    """Hex SHA-256 of ``app_id + raw_body + timestamp + OA secret``, as Zalo signs events."""
    digest = hashlib.sha256()
    digest.update(app_id.encode())
    digest.update(raw_body)
    digest.update(timestamp.encode())
    digest.update(oa_secret.encode())
    return digest.hexdigest()


# --- events ------------------------------------------------------------------------

TEXT_EVENTS = frozenset({"user_send_text"})
FOLLOW_EVENTS = frozenset({"follow"})
UNFOLLOW_EVENTS = frozenset({"unfollow"})
# What a citizen can send that we cannot read: answered with a polite hint.
UNSUPPORTED_EVENTS = frozenset(
    {
        "user_send_image",
        "user_send_sticker",
        "user_send_file",
        "user_send_gif",
        "user_send_audio",
        "user_send_video",
        "user_send_location",
        "user_send_link",
        "user_send_business_card",
    }
)
# Everything else (oa_send_* echoes of our own sends, user_received_message,
# user_seen_message, group chats, unknown names) is acknowledged and ignored.

# --- error codes -------------------------------------------------------------------


class ErrorKind(enum.Enum):
    TOKEN = "token"  # access token invalid or expired: refresh once, retry once
    WINDOW = "window"  # the user is outside the messaging window: dead letter, mark
    UNREACHABLE = "unreachable"  # unfollowed, blocked, banned: dead letter, mark
    RATE = "rate"  # too many calls: retry after a pause
    QUOTA = "quota"  # the OA's or the user's message quota is spent: retry much later
    SETUP = "setup"  # the OA or app lacks a feature or permission: dead letter
    REJECTED = "rejected"  # the request itself is wrong: dead letter
    TRANSIENT = "transient"  # try again with backoff


@dataclass(frozen=True)
class ErrorInfo:
    kind: ErrorKind
    meaning: str


# verify: collected from public integrations; Zalo's own wording varies. An unknown
# code is treated as transient, and the outbox gives up after its attempt limit.
ERRORS: dict[int, ErrorInfo] = {
    -216: ErrorInfo(ErrorKind.TOKEN, "access token is invalid"),
    -124: ErrorInfo(ErrorKind.TOKEN, "access token is invalid (ZNS)"),  # verify: ZNS's code
    -220: ErrorInfo(ErrorKind.TOKEN, "access token has expired or was removed"),
    -230: ErrorInfo(ErrorKind.WINDOW, "user has not interacted with the OA in the last 7 days"),
    -232: ErrorInfo(ErrorKind.WINDOW, "user has no recent interaction with the OA"),
    -213: ErrorInfo(ErrorKind.UNREACHABLE, "user has not followed the OA or unfollowed it"),
    -217: ErrorInfo(ErrorKind.UNREACHABLE, "user has blocked the OA"),
    -227: ErrorInfo(ErrorKind.UNREACHABLE, "user account is banned or long inactive"),
    -244: ErrorInfo(ErrorKind.UNREACHABLE, "user has refused this kind of message from the OA"),
    -32: ErrorInfo(ErrorKind.RATE, "the app reached its API call limit"),
    -211: ErrorInfo(ErrorKind.QUOTA, "the OA is out of message quota"),
    -218: ErrorInfo(ErrorKind.QUOTA, "the user's receiving quota is reached"),
    -224: ErrorInfo(ErrorKind.SETUP, "the OA's tier package lacks this feature"),
    -204: ErrorInfo(ErrorKind.SETUP, "the OA is disabled"),
    -205: ErrorInfo(ErrorKind.SETUP, "the OA does not exist"),
    -209: ErrorInfo(ErrorKind.SETUP, "this API is not available to the app"),
    -212: ErrorInfo(ErrorKind.SETUP, "the app has not registered this API"),
    -219: ErrorInfo(ErrorKind.SETUP, "the app is removed or disabled"),
    -221: ErrorInfo(ErrorKind.SETUP, "the OA must be verified for this feature"),
    -223: ErrorInfo(ErrorKind.SETUP, "the OA has not granted this permission to the app"),
    -235: ErrorInfo(ErrorKind.SETUP, "this API does not support this kind of OA"),
    -201: ErrorInfo(ErrorKind.REJECTED, "a parameter is invalid"),
    -210: ErrorInfo(ErrorKind.REJECTED, "a parameter exceeds its limit"),
    -233: ErrorInfo(ErrorKind.REJECTED, "this message type is not supported"),
    -200: ErrorInfo(ErrorKind.TRANSIENT, "sending failed"),
}


def classify(code: int | None, http_status: int) -> ErrorKind:
    """What kind of failure an answer is (HTTP status and Zalo's ``error`` code)."""
    if http_status == 401:
        return ErrorKind.TOKEN
    if http_status == 429:
        return ErrorKind.RATE
    if code is not None and code in ERRORS:
        return ERRORS[code].kind
    if http_status >= 500 or http_status in (408, 425):
        return ErrorKind.TRANSIENT
    if 400 <= http_status < 500:
        return ErrorKind.REJECTED
    return ErrorKind.TRANSIENT


# --- ZNS (Zalo Notification Service): templates by phone number ----------------------
#
# No primary Zalo page on ZNS could be read offline: every line of this section comes
# from integrators' documentation and client code (verify). Where sources disagree on a
# name, every known variant is accepted; the tests pin each variant.

ZNS_SEND_PATH = "/message/template"  # POST, JSON, header access_token (the OA's pair)
ZNS_TEMPLATE_INFO_PATH = "/template/info"  # GET ?template_id=
ZNS_RATING_PATH = "/rating/get"  # GET ?template_id&from_time&to_time&offset&limit (epoch ms)
ZNS_QUOTA_PATH = "/message/quota"  # GET: the OA's daily quota and what is left of it
ZNS_DEVELOPMENT_MODE = {"mode": "development"}  # test sends to the OA admins' own numbers
ZNS_TRACKING_MAX = 48  # characters of our tracking_id
ZNS_RATING_PAGE = 100  # verify: the largest ``limit`` the rating list takes
ZNS_SEND_PER_SECOND = 5.0  # verify: no published figure; stay well below the OA's rate
ZNS_DATE_FORMAT = "%d/%m/%Y"  # verify: how a DATE parameter is written
# Template states (verify): only an approved ("ENABLE") template can be sent.
ZNS_TEMPLATE_APPROVED = frozenset({"ENABLE", "ENABLED", "APPROVED", "ACTIVE"})

# verify: the rating event's name differs between sources; delivery receipts are
# information only (never a reason to resend).
ZNS_RATING_EVENTS = frozenset(
    {"user_feedback", "user_submit_feedback", "user_rating", "zns_user_feedback"}
)
ZNS_DELIVERY_EVENTS = frozenset({"user_received_message", "zns_user_received_message"})

# verify: field names of a rating, in the webhook event and in the rating list. The
# first name present wins; the event may carry them at the top level or in "message".
ZNS_RATING_FIELDS: dict[str, tuple[str, ...]] = {
    "msg_id": ("msg_id", "msgId", "message_id", "messageId"),
    "tracking_id": ("tracking_id", "trackingId"),
    "stars": ("rate", "rating", "star", "stars"),
    "reasons": ("feedbacks", "feedback", "reasons"),
    "note": ("note", "comment"),
    "submitted": ("submit_time", "submitDate", "submit_date", "submitTime", "timestamp"),
}
# verify: the template info's parameter list and its fields.
ZNS_PARAM_LISTS = ("listParams", "params", "list_params")
ZNS_PARAM_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "required": ("require", "required"),
    "max_length": ("maxLength", "max_length"),
    "min_length": ("minLength", "min_length"),
    "type": ("type",),
}
ZNS_QUOTA_FIELDS: dict[str, tuple[str, ...]] = {
    "daily": ("dailyQuota", "daily_quota"),
    "remaining": ("remainingQuota", "remaining_quota"),
}


def first_of(data: dict, names: tuple[str, ...]):
    """The value of the first of ``names`` present in ``data`` (None when none is)."""
    for name in names:
        if name in data and data[name] is not None:
            return data[name]
    return None


class ZnsKind(enum.Enum):
    RETRY = "retry"  # transient: try again with backoff
    TOKEN = "token"  # access token: refreshed once by the client, then retried later
    DEAD = "dead"  # this message can never be sent: dead letter, phone erased
    QUOTA = "quota"  # the OA's ZNS quota for today is spent: waits for tomorrow
    TEMPLATE = "template"  # the template is not (or no longer) approved: waits
    NO_ZALO = "no_zalo"  # the number has no Zalo account or takes no ZNS: suppressed


# verify: codes collected from integrators' tables; wording varies. Unknown codes are
# retried (the outbox gives up after its attempt limit), unless their message names
# one of the kinds below (``_ZNS_WORDS``).
ZNS_ERRORS: dict[int, tuple[ZnsKind, str]] = {
    -100: (ZnsKind.RETRY, "unknown error"),
    -108: (ZnsKind.DEAD, "phone number is invalid"),
    -109: (ZnsKind.TEMPLATE, "template id is invalid"),
    -110: (ZnsKind.NO_ZALO, "the recipient's Zalo version cannot show ZNS"),
    -111: (ZnsKind.DEAD, "template data is empty"),
    -112: (ZnsKind.DEAD, "template data is invalid"),
    -114: (ZnsKind.NO_ZALO, "the user is inactive or does not take ZNS"),
    -115: (ZnsKind.QUOTA, "the ZNS account has not enough balance"),
    -117: (ZnsKind.TEMPLATE, "the OA or app may not send ZNS"),
    -118: (ZnsKind.NO_ZALO, "no Zalo account for this phone number, or it is disabled"),
    -119: (ZnsKind.NO_ZALO, "this account cannot receive ZNS"),
    -124: (ZnsKind.TOKEN, "access token is invalid"),
    -131: (ZnsKind.TEMPLATE, "template is not approved"),
    -133: (ZnsKind.RETRY, "this template may not be sent at night (22:00-06:00)"),
    -139: (ZnsKind.NO_ZALO, "the user refused this kind of ZNS"),
    -141: (ZnsKind.NO_ZALO, "the user refused ZNS from this OA"),
    -144: (ZnsKind.QUOTA, "the OA reached its daily ZNS quota"),
    -146: (ZnsKind.TEMPLATE, "the template was disabled for low quality"),
    -147: (ZnsKind.QUOTA, "the template reached its daily quota"),
}
_ZNS_WORDS = (
    ("quota", ZnsKind.QUOTA),
    ("not approved", ZnsKind.TEMPLATE),
    ("not using zalo", ZnsKind.NO_ZALO),
)


def classify_zns(code: int | None, http_status: int, message: str = "") -> ZnsKind:
    """What kind of failure a ZNS answer is."""
    if http_status == 401 or (code is not None and code in (-216, -220, -124)):
        return ZnsKind.TOKEN
    if code is not None and code in ZNS_ERRORS:
        return ZNS_ERRORS[code][0]
    lowered = message.lower()
    for word, kind in _ZNS_WORDS:
        if word in lowered:
            return kind
    if code is not None and code in ERRORS:
        oa = ERRORS[code].kind
        if oa in (ErrorKind.SETUP, ErrorKind.REJECTED):
            return ZnsKind.DEAD
    if 400 <= http_status < 500 and http_status not in (408, 425, 429):
        return ZnsKind.DEAD
    return ZnsKind.RETRY
