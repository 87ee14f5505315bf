"""Small pieces every flow uses: translators, yes/no, replies that re-ask."""

from __future__ import annotations

from flows.contract import Button, Context, InboundEvent, State
from flows.i18n import Translator, translator
from flows.text import fold

YES = "y"
NO = "n"
# "1" and "2" too: the Yes button always comes first, and channels number buttons.
_YES_WORDS = {"co", "yes", "y", "ok", "dong y", "vang", "uh", "u", "co a", "vang a", "1"}
_NO_WORDS = {"khong", "no", "n", "k", "ko", "khong a", "thoi", "2"}

# The longest free text we keep (comments, feedback): enough for a paragraph, short
# enough for a phone screen and a Telegram message.
FREE_TEXT_LIMIT = 1000


def tr(state: State, ctx: Context) -> Translator:
    """The translator for this user's language and the deployment's time zone."""
    return translator(state.locale, ctx.timezone)


def yes_no(event: InboundEvent, prefix: str) -> str | None:
    """``YES``/``NO`` from a ``prefix:y``/``prefix:n`` button or a typed word; else None."""
    if event.payload.startswith(prefix + ":"):
        answer = event.payload[len(prefix) + 1 :]
        return answer if answer in (YES, NO) else None
    word = fold(event.text).rstrip(".!")
    if word in _YES_WORDS:
        return YES
    if word in _NO_WORDS:
        return NO
    return None


def yes_no_buttons(t: Translator, prefix: str, yes: str, no: str) -> tuple[Button, ...]:
    """A Yes and a No button sending ``prefix:y`` / ``prefix:n``."""
    return (Button(yes, f"{prefix}:{YES}"), Button(no, f"{prefix}:{NO}"))


def is_command(event: InboundEvent, *names: str) -> bool:
    """Whether the event is one of the slash commands ``names`` (arguments allowed)."""
    word = event.text.strip().split(maxsplit=1)[0].lower() if event.text.strip() else ""
    word = word.split("@", 1)[0]  # Telegram groups send /help@botname
    return word in names


def command_args(event: InboundEvent) -> str:
    """The text after a slash command."""
    parts = event.text.strip().split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""
