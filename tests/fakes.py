"""An in-memory world for flow tests: invites, people, and a chat driver.

The driver runs ``flows.router.step`` exactly as the engine does (state in, state,
replies and effects out) and applies the few effects the world needs to stay consistent
(codes bound and used, counter-code days), so flows are tested with plain calls.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from flows import contract as fx
from flows import router
from flows.contract import (
    ChannelChoice,
    DeadlineOverview,
    EventKind,
    InboundEvent,
    InviteInfo,
    PersonInfo,
    Reply,
    State,
    TaskInfo,
)


@dataclass
class World:
    invites: dict[str, InviteInfo] = field(default_factory=dict)
    registrations: dict[str, PersonInfo] = field(default_factory=dict)
    linked: dict[str, PersonInfo] = field(default_factory=dict)  # user hash → person
    claimed: dict[int, str] = field(default_factory=dict)  # invite id → respondent
    used: set[int] = field(default_factory=set)
    counter_days: set[tuple[str, int, date]] = field(default_factory=set)
    effects: list = field(default_factory=list)
    tasks: dict[int, tuple[int, TaskInfo]] = field(default_factory=dict)  # id → (person, task)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def add_invite(
        self,
        code: str,
        *,
        kind: str = "dossier",
        unit: str = "Phường Hải Châu",
        procedure: str | None = "Đăng ký khai sinh",
        questionnaire: str = "quick",
        expired: bool = False,
        unit_id: int = 1,
    ) -> InviteInfo:
        invite = InviteInfo(
            invite_id=next(self._ids),
            kind=kind,
            unit_id=unit_id,
            unit_name=unit,
            procedure_id=7 if procedure else None,
            procedure_name=procedure,
            dossier_id=None,
            questionnaire_code=questionnaire,
            status="expired" if expired else "ok",
        )
        self.invites[code] = invite
        return invite


class FakeContext:
    def __init__(self, world: World, channel: str, user_id: str, now: datetime) -> None:
        self.world = world
        self.now = now
        self.timezone = "Asia/Ho_Chi_Minh"
        self.channel = channel
        self.user_id = user_id
        self.user_hash = f"hash-{channel}-{user_id}"
        self.person = world.linked.get(self.user_hash)

    def new_key(self) -> str:
        return f"key{next(self.world._ids):029d}"

    async def find_invite(self, code: str) -> InviteInfo | None:
        invite = self.world.invites.get(code)
        if invite is None or invite.status != "ok":
            return invite
        taken = self.world.claimed.get(invite.invite_id, self.user_hash) != self.user_hash
        if invite.kind == "dossier" and invite.invite_id in self.world.used and not taken:
            return replace(invite, status="completed")
        if invite.kind == "dossier" and (invite.invite_id in self.world.used or taken):
            return replace(invite, status="used")
        return invite

    async def responded_today(self, unit_id: int, day: date) -> bool:
        return (self.user_hash, unit_id, day) in self.world.counter_days

    async def find_registration(self, code: str) -> PersonInfo | None:
        return self.world.registrations.get(code)

    def _mine(self) -> list[TaskInfo]:
        me = self.person.person_id if self.person else None
        return [task for owner, task in self.world.tasks.values() if owner == me]

    async def open_tasks(self) -> list[TaskInfo]:
        pending = [task for task in self._mine() if task.status == "pending"]
        return sorted(pending, key=lambda task: (task.due_on, task.assignment_id))

    async def find_task(self, assignment_id: int) -> TaskInfo | None:
        return next((t for t in self._mine() if t.assignment_id == assignment_id), None)

    async def snooze_time(self) -> datetime:
        return self.now + timedelta(hours=2)

    async def deadline_overview(self) -> list[DeadlineOverview]:
        return []

    async def reminder_channels(self) -> ChannelChoice:
        return ChannelChoice(None, self.channel, (self.channel,))


class Chat:
    """One user talking to the bot."""

    def __init__(
        self,
        world: World,
        user: str = "u1",
        channel: str = "test",
        now: datetime | None = None,
        locale: str = "vi",
    ) -> None:
        self.world = world
        self.user = user
        self.channel = channel
        self.now = now or datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
        self.state = State(locale=locale)
        self.replies: list[Reply] = []
        self.effects: list = []
        self._events = itertools.count(1)
        self.ctx: FakeContext | None = None
        self._response_keys: dict[str, tuple] = {}

    async def _run(self, event: InboundEvent) -> list[Reply]:
        ctx = FakeContext(self.world, self.channel, self.user, self.now)
        self.ctx = ctx
        result = await router.step(self.state, event, ctx)
        self.state = replace(result.state, updated_at=self.now)
        self.replies = list(result.replies)
        self.effects = list(result.effects)
        self.world.effects.extend(result.effects)
        for effect in result.effects:
            self._apply(effect, ctx)
        return self.replies

    def _apply(self, effect, ctx: FakeContext) -> None:
        if isinstance(effect, fx.StartResponse):
            self._response_keys[effect.response_key] = (
                effect.invite_id,
                effect.unit_id,
                effect.counter_day,
            )
            if effect.invite_kind == "dossier":
                self.world.claimed.setdefault(effect.invite_id, ctx.user_hash)
            if effect.counter_day:
                self.world.counter_days.add((ctx.user_hash, effect.unit_id, effect.counter_day))
        elif isinstance(effect, fx.CompleteResponse):
            invite_id, _unit, _day = self._response_keys[effect.response_key]
            if any(
                i.invite_id == invite_id and i.kind == "dossier"
                for i in self.world.invites.values()
            ):
                self.world.used.add(invite_id)
        elif isinstance(effect, fx.AbandonResponse):
            _invite, unit_id, day = self._response_keys.get(effect.response_key, (None, None, None))
            if day:
                self.world.counter_days.discard((ctx.user_hash, unit_id, day))
        elif isinstance(effect, (fx.MarkTaskDone, fx.DisownTask)):
            owner, task = self.world.tasks[effect.assignment_id]
            status = "done" if isinstance(effect, fx.MarkTaskDone) else "not_mine"
            self.world.tasks[effect.assignment_id] = (owner, replace(task, status=status))
        elif isinstance(effect, fx.LinkPerson):
            person = next(
                p for p in self.world.registrations.values() if p.person_id == effect.person_id
            )
            self.world.linked[ctx.user_hash] = person

    def _event(self, kind: EventKind, text: str = "", payload: str = "") -> InboundEvent:
        return InboundEvent(
            self.channel,
            self.user,
            f"e{next(self._events)}",
            kind,
            self.now,
            text=text,
            payload=payload,
        )

    async def send(self, text: str) -> list[Reply]:
        return await self._run(self._event(EventKind.TEXT, text=text))

    async def press(self, payload: str) -> list[Reply]:
        return await self._run(self._event(EventKind.BUTTON, payload=payload))

    async def start(self, payload: str = "") -> list[Reply]:
        return await self._run(self._event(EventKind.START, payload=payload))

    async def other(self, kind: EventKind) -> list[Reply]:
        return await self._run(self._event(kind))

    async def press_label(self, label: str) -> list[Reply]:
        """Press the button of the last reply that says ``label``."""
        for reply in reversed(self.replies):
            for button in reply.buttons:
                if button.label == label:
                    return await self.press(button.payload)
        raise AssertionError(
            f"no button {label!r} in {[b.label for r in self.replies for b in r.buttons]}"
        )

    def wait(self, **kw) -> None:
        self.now += timedelta(**kw)

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.replies)

    @property
    def buttons(self) -> list[str]:
        return [b.label for r in self.replies for b in r.buttons]

    def of(self, kind: type) -> list:
        return [e for e in self.effects if isinstance(e, kind)]

    def all_of(self, kind: type) -> list:
        return [e for e in self.world.effects if isinstance(e, kind)]
