"""A flow's neutral reply as an outbox payload (channel renderers turn it into API calls)."""

from __future__ import annotations

import base64
from typing import Any

from flows.contract import Reply


def reply_payload(reply: Reply) -> dict[str, Any]:
    """A neutral reply as stored in the outbox (renderers turn it into API calls)."""
    payload: dict[str, Any] = {"text": reply.text}
    if reply.buttons:
        payload["buttons"] = [{"label": b.label, "payload": b.payload} for b in reply.buttons]
    if reply.attachment is not None:
        payload["attachment"] = {
            "filename": reply.attachment.filename,
            "mime": reply.attachment.mime,
            "data": base64.b64encode(reply.attachment.data).decode(),
        }
    return payload
