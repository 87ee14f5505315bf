"""A flow's neutral reply as an outbox payload (channel renderers turn it into API calls)."""

from __future__ import annotations

import base64
from typing import Any

from flows.contract import Button, Reply


def reply_payload(reply: Reply) -> dict[str, Any]:
    """A neutral reply as stored in the outbox (renderers turn it into API calls)."""
    payload: dict[str, Any] = {"text": reply.text}
    if reply.buttons:
        payload["buttons"] = [_button(b) for b in reply.buttons]
    for name in ("ack", "typed_hint"):
        if getattr(reply, name):
            payload[name] = getattr(reply, name)
    if reply.progress is not None:
        payload["progress"] = list(reply.progress)
    if reply.attachment is not None:
        payload["attachment"] = {
            "filename": reply.attachment.filename,
            "mime": reply.attachment.mime,
            "data": base64.b64encode(reply.attachment.data).decode(),
        }
    return payload


def _button(button: Button) -> dict[str, str]:
    out = {"label": button.label, "payload": button.payload}
    if button.word:
        out["word"] = button.word
    return out
