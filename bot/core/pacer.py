"""Start times for the outbox sender's calls (see bot/core/outbox_sender.py's "Pacing")."""

from __future__ import annotations

import asyncio
from collections import deque


class Pacer:
    """Start times for calls: a grid of ``1/rate`` and at most ``rate`` per window.

    ``wait()`` hands out a slot; the caller then does its work (marking the row) and
    calls ``done()`` right before its call. The window is kept over the slots handed
    out and over the actual starts (later than their slots when that work took long),
    so the call itself never waits after the row was marked: a crash there would
    leave a row marked but not sent.
    """

    def __init__(self, rate: float, guard: float) -> None:
        self.interval = 1.0 / rate
        self.window = 1.0 + guard
        self.burst = max(1, int(rate))
        self._next = 0.0  # the next free grid slot (loop time)
        self._slots: deque[float] = deque(maxlen=self.burst)  # slots handed out
        self._starts: deque[float] = deque(maxlen=self.burst)  # actual call starts
        self._pending = 0  # slots handed out whose call has not started yet

    async def wait(self) -> None:
        """Return at this caller's slot (callers are served in the order they came)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        slot = max(now, self._next)
        if len(self._slots) == self.burst:
            slot = max(slot, self._slots[0] + self.window)
        # Pending calls may start at any time, so at most burst - pending - 1 of the
        # calls that did start may fall within the window ending at this slot.
        started = self.burst - self._pending
        if 0 < started <= len(self._starts):
            slot = max(slot, self._starts[-started] + self.window)
        # Reserve before sleeping, so concurrent callers get the following slots.
        self._next = slot + self.interval
        self._slots.append(slot)
        self._pending += 1
        if slot > now:
            await asyncio.sleep(slot - now)

    def done(self, *, calling: bool) -> None:
        """The caller is about to make its call (``calling``), or gave its slot up."""
        self._pending -= 1
        if calling:
            self._starts.append(asyncio.get_running_loop().time())
