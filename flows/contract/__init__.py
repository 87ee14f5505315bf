"""The engine contract: what flows receive, what they return.

A flow step is ``await step(state, event, ctx) -> StepResult``. It performs no I/O of
its own: everything it needs to know about the world comes through ``ctx`` (a
``Context``, implemented over the database by the application and by plain objects in
tests), and everything it wants done comes back as replies and effects, which the
engine applies in one transaction together with the new state.

The contract is one namespace in three parts: ``messages`` (events, replies, state),
``effects`` and ``world`` (the ``Context`` protocol).
"""

from flows.contract.effects import (
    AbandonResponse,
    Audit,
    CompleteResponse,
    DisownTask,
    Effect,
    LinkPerson,
    MarkTaskDone,
    MarkUnreachable,
    OpenFeedback,
    RecordAnswer,
    SetReminderChannel,
    SnoozeTask,
    StartResponse,
)
from flows.contract.messages import (
    Attachment,
    Button,
    EventKind,
    InboundEvent,
    Reply,
    State,
    StepResult,
)
from flows.contract.world import (
    ChannelChoice,
    Context,
    DeadlineOverview,
    InviteInfo,
    PersonInfo,
    ReportSettings,
    TaskInfo,
    UnitInfo,
)

__all__ = [
    "AbandonResponse",
    "Attachment",
    "Audit",
    "Button",
    "ChannelChoice",
    "CompleteResponse",
    "Context",
    "DeadlineOverview",
    "DisownTask",
    "Effect",
    "EventKind",
    "InboundEvent",
    "InviteInfo",
    "LinkPerson",
    "MarkTaskDone",
    "MarkUnreachable",
    "OpenFeedback",
    "PersonInfo",
    "RecordAnswer",
    "Reply",
    "ReportSettings",
    "SetReminderChannel",
    "SnoozeTask",
    "StartResponse",
    "State",
    "StepResult",
    "TaskInfo",
    "UnitInfo",
]
