"""Throttles: token buckets per web-chat session, per chat and per client address.

A bucket holds up to ``burst`` tokens and refills at ``rate`` per second; each request
takes one, and a request finding the bucket empty is refused (politely, by the caller).
The limits are generous for people: a counter tablet serving one citizen after another
in one session, or an office whose citizens all share one NAT address, stays far below
them; a script posting thousands a minute does not.

Buckets live in this process's memory (a second worker has its own), at most
``MAX_KEYS`` per throttle: the least recently used are forgotten first, which at worst
gives a forgotten key a full bucket again.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core.settings import Settings

MAX_KEYS = 50_000


class Bucket:
    """Token buckets sharing one rate and burst, keyed by anything hashable."""

    def __init__(
        self, per_minute: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._keys: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    def allow(self, key: Hashable) -> bool:
        """Take a token for ``key``; False when it has none left."""
        now = self.clock()
        tokens, last = self._keys.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._keys[key] = (tokens, now)
        if len(self._keys) > MAX_KEYS:
            self._keys.popitem(last=False)
        return allowed

    def retry_after(self, key: Hashable) -> int:
        """Whole seconds until ``key`` has a token again (at least 1)."""
        tokens, _ = self._keys.get(key, (self.burst, 0.0))
        return max(1, int((1.0 - tokens) / self.rate + 0.999))


class Throttles:
    """The throttles of one process, sized by the settings."""

    def __init__(self, settings: Settings) -> None:
        s = settings
        self.web_session = Bucket(s.web_posts_per_minute, s.web_posts_per_minute)
        self.web_address = Bucket(
            s.web_posts_per_minute_per_address, s.web_posts_per_minute_per_address
        )
        # Codes: a burst of a third of the hour's allowance, then the steady rate.
        self.code_chat = Bucket(s.code_tries_per_hour / 60, max(3, s.code_tries_per_hour // 3))
        self.code_address = Bucket(
            s.code_tries_per_hour_per_address / 60, max(3, s.code_tries_per_hour_per_address // 3)
        )
