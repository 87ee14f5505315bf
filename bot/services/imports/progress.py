"""Progress of an import: a bar on a terminal, plain lines otherwise.

``Progress`` is what the import framework reports to: ``start(phase, total)``, then
``advance(n)``, then ``finish()``, once per phase (checking, loading). ``progress_for``
picks a rich progress bar (rows, rows/s, time left) when the stream is a terminal, and
a line every few seconds when it is not (a log, a pipe, cron). ``Silent`` says nothing.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Protocol

from flows.i18n import Translator

PLAIN_EVERY = 2.0  # seconds between two plain lines


class Progress(Protocol):
    """Where an import reports how far it is."""

    def start(self, phase: str, total: int) -> None:
        """A phase begins; ``total`` rows are expected (an estimate may be off)."""

    def advance(self, rows: int) -> None:
        """``rows`` more rows are done."""

    def finish(self) -> None:
        """The phase is over."""


class Silent:
    """Reports nothing (tests, library callers)."""

    def start(self, phase: str, total: int) -> None:
        """Nothing."""

    def advance(self, rows: int) -> None:
        """Nothing."""

    def finish(self) -> None:
        """Nothing."""


class Plain:
    """A line now and then: ``Loading: 20.000/100.000 rows, 12.345 rows/s, about 6 s left``."""

    def __init__(self, t: Translator, stream: IO[str]) -> None:
        self.t, self.stream = t, stream
        self.phase, self.total, self.done, self.began, self.last = "", 0, 0, 0.0, 0.0

    def start(self, phase: str, total: int) -> None:
        """Remember the phase; nothing is printed yet."""
        self.phase, self.total, self.done = phase, total, 0
        self.began = self.last = time.monotonic()

    def advance(self, rows: int) -> None:
        """Count; print a line when the last one is a few seconds old."""
        self.done += rows
        now = time.monotonic()
        if now - self.last >= PLAIN_EVERY:
            self.last = now
            self._line(now)

    def finish(self) -> None:
        """The phase's last line."""
        self._line(time.monotonic(), final=True)

    def _line(self, now: float, *, final: bool = False) -> None:
        _, n = self.t.gettext, self.t.number
        elapsed = max(now - self.began, 1e-6)
        rate = self.done / elapsed
        total = max(self.total, self.done)
        text = _("{phase}: {done}/{total} rows, {rate} rows/s").format(
            phase=self.phase, done=n(self.done), total=n(total), rate=n(round(rate))
        )
        if final:
            text += ", " + _("{seconds} s").format(seconds=n(elapsed, 1))
        elif rate > 0 and total > self.done:
            text += ", " + _("about {seconds} s left").format(
                seconds=n(round((total - self.done) / rate))
            )
        print(text, file=self.stream, flush=True)


class Bar:
    """A rich progress bar on a terminal."""

    def __init__(self, t: Translator, stream: IO[str]) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        unit = t.gettext("rows/s")

        class Rate(ProgressColumn):
            def render(self, task) -> Text:
                speed = task.finished_speed or task.speed
                return Text(f"{t.number(round(speed or 0))} {unit}")

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            Rate(),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=False,
        )
        self._task = None

    def start(self, phase: str, total: int) -> None:
        """A new bar."""
        if self._task is None:
            self._progress.start()
        self._task = self._progress.add_task(phase, total=total or None)

    def advance(self, rows: int) -> None:
        """Move the bar."""
        self._progress.advance(self._task, rows)

    def finish(self) -> None:
        """Fill the bar (the total was an estimate) and stop it."""
        task = self._progress.tasks[-1]
        self._progress.update(self._task, total=task.completed)
        self._progress.stop()  # leaves the finished bar on the screen
        self._progress.remove_task(self._task)  # and out of the next phase's display
        self._task = None


def progress_for(t: Translator, stream: IO[str] | None = None) -> Progress:
    """A bar when ``stream`` (standard error by default) is a terminal, else plain lines."""
    stream = stream or sys.stderr
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return Bar(t, stream)
    return Plain(t, stream)
