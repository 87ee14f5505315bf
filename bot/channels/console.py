"""The console channel (``sipas-bot chat``): stdin lines in, replies on stdout.

Buttons are shown numbered; a line that is just a number (or a button's label) presses
that button. The numbers run on across all the messages answering one line (a list of
feedback items, each with its button, shows 1, 2, 3), so each number on the screen is
one button; the next line's answers start again at 1, and the buttons of earlier
screens are gone (after /cancel, "rất hài lòng" is text again). Files the bot
sends (a /chart, an /export) are written into a folder (the working directory unless
``sipas-bot chat --files DIR`` names another) and their path is printed. Works with
piped input and ends cleanly at end of input.
"""

from __future__ import annotations

import asyncio
import base64
import sys
import uuid
from pathlib import Path
from typing import Any, TextIO

from bot.core import engine
from bot.core.app import App
from bot.core.outbox_sender import Limits, OutboxSender, Sent
from flows.contract import EventKind, InboundEvent
from flows.text import fold
from storage.types import utcnow

CHANNEL = "console"


class ConsoleTransport:
    """Prints messages; remembers the buttons shown since the last line typed."""

    channel = CHANNEL

    def __init__(self, out: TextIO, files: Path | None = None) -> None:
        self.out = out
        self.files = files or Path.cwd()
        self.buttons: list[dict[str, str]] = []

    def new_screen(self) -> None:
        """A line was typed: what comes next is numbered from 1 again."""
        self.buttons = []

    async def send(self, recipient: str, payload: dict[str, Any]) -> Sent:
        lines = [payload.get("text", "")]
        buttons = payload.get("buttons") or []
        if buttons:
            first = len(self.buttons) + 1
            self.buttons = [*self.buttons, *buttons]
            lines += [f"  {n}. {b['label']}" for n, b in enumerate(buttons, first)]
        if "attachment" in payload:
            lines.append(f"  📎 {self.save(payload['attachment'])}")
        self.out.write("\n".join(lines) + "\n\n")
        self.out.flush()
        return Sent()

    def save(self, attachment: dict[str, str]) -> Path:
        """Write a sent file into the folder, never over an existing one; its path."""
        name = Path(attachment.get("filename") or "file").name or "file"
        path, n = self.files / name, 1
        while path.exists():
            n += 1
            path = self.files / f"{Path(name).stem}-{n}{Path(name).suffix}"
        path.write_bytes(base64.b64decode(attachment.get("data", "")))
        return path.resolve()


def to_event(
    user_id: str, line: str, buttons: list[dict[str, str]], locale: str | None
) -> InboundEvent:
    """A typed line as an event: a button press when it names one of the last buttons."""
    text = line.strip()
    kind, payload = EventKind.TEXT, ""
    if text.isdigit() and 1 <= int(text) <= len(buttons):
        kind, payload = EventKind.BUTTON, buttons[int(text) - 1]["payload"]
    else:
        folded = fold(text)
        matches = {b["payload"] for b in buttons if fold(b["label"]) == folded}
        if len(matches) == 1:  # a label several buttons share is just text
            kind, payload = EventKind.BUTTON, matches.pop()
    return InboundEvent(
        channel=CHANNEL,
        user_id=user_id,
        event_id=uuid.uuid4().hex,
        kind=kind,
        timestamp=utcnow(),
        text="" if kind == EventKind.BUTTON else text,
        payload=payload,
        locale_hint=locale,
    )


async def chat(
    app: App,
    user_id: str,
    locale: str | None,
    inp: TextIO,
    out: TextIO,
    files: Path | None = None,
) -> None:
    """Run a conversation between ``inp``/``out`` and the bot until end of input; files
    the bot sends go into ``files`` (default: the working directory)."""
    transport = ConsoleTransport(out, files)
    sender = OutboxSender(app, transport, Limits(per_second=1000, per_chat_interval=0))
    interactive = inp.isatty()
    while True:
        if interactive:
            out.write("> ")
            out.flush()
        line = await asyncio.to_thread(inp.readline)
        if not line:
            break
        if not line.strip():
            continue
        event = to_event(user_id, line, transport.buttons, locale)
        transport.new_screen()
        await engine.handle(app, event)
        while await sender.run_once(recipient=user_id):
            pass


def run(app: App, user_id: str, locale: str | None, files: Path | None = None) -> None:
    asyncio.run(_run(app, user_id, locale, files))


async def _run(app: App, user_id: str, locale: str | None, files: Path | None) -> None:
    try:
        await chat(app, user_id, locale, sys.stdin, sys.stdout, files)
    finally:
        await app.close()
