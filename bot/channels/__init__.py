"""Channel adapters: verify and parse what comes in, render and send what goes out.

Importing any adapter imports ``bot.services`` first, which registers the effect appliers
the engine needs before an event is handled.
"""

from bot import services  # noqa: F401
