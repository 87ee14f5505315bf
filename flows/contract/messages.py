"""What a flow receives (an inbound event, its state) and returns (replies, a new state,
effects)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from flows.contract.effects import Effect


class EventKind(enum.StrEnum):
    TEXT = "text"  # typed text (commands included)
    BUTTON = "button"  # a button press carrying its payload
    START = "start"  # /start, with the deep-link payload in ``payload`` if any
    FOLLOW = "follow"  # the user followed the account (Zalo)
    UNFOLLOW = "unfollow"
    UNSUPPORTED = "unsupported"  # photo, sticker, voice…: answered with a polite hint


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """One thing a user did, normalised from any channel."""

    channel: str
    user_id: str
    event_id: str
    kind: EventKind
    timestamp: datetime
    text: str = ""
    payload: str = ""
    locale_hint: str | None = None  # the client's language, used for a new user only


@dataclass(frozen=True, slots=True)
class Button:
    """A button: what it says and the short payload a press sends back (≤ 64 bytes)."""

    label: str
    payload: str
    # A word that does the same when typed ("bỏ qua"): a channel short of buttons may
    # leave this button out and name the word instead (``Reply.typed_hint``).
    word: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a reply (a chart, a workbook)."""

    filename: str
    mime: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Reply:
    """A channel-neutral message: text plus optional buttons, one button per row.

    ``ack`` is the answer just recorded ("Hài lòng"), for channels that do not show what
    was pressed; ``progress`` is (question number, questions) while a survey asks;
    ``typed_hint`` names the words of the buttons that have one, for channels that leave
    those buttons out.
    """

    text: str
    buttons: tuple[Button, ...] = ()
    attachment: Attachment | None = None
    ack: str | None = None
    progress: tuple[int, int] | None = None
    typed_hint: str | None = None


@dataclass(frozen=True, slots=True)
class State:
    """A chat user's conversation: the flow they are in, its step and data, their locale.

    Stored as JSON in ``conversation.data``; ``updated_at`` is the last activity.
    """

    locale: str
    flow: str | None = None
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The state as stored in ``conversation.data``."""
        return {"locale": self.locale, "flow": self.flow, "step": self.step, "data": self.data}

    @classmethod
    def from_json(cls, raw: dict[str, Any], default_locale: str, updated_at: datetime | None):
        """A stored state; ``default_locale`` for a user who never chose one."""
        return cls(
            locale=raw.get("locale") or default_locale,
            flow=raw.get("flow"),
            step=raw.get("step"),
            data=dict(raw.get("data") or {}),
            updated_at=updated_at,
        )

    def idle(self) -> State:
        """The same user, in no flow."""
        return replace(self, flow=None, step=None, data={})

    def at(self, step: str, **data: Any) -> State:
        """The same flow at ``step`` with ``data`` merged in."""
        return replace(self, step=step, data={**self.data, **data})


@dataclass(frozen=True, slots=True)
class StepResult:
    state: State
    replies: tuple[Reply, ...] = ()
    effects: tuple[Effect, ...] = ()
