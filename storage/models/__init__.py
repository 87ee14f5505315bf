"""The tables.

Conventions: integer primary keys; every time is timezone-aware UTC (``UTCDateTime``);
calendar periods are plain dates in the display zone; status columns are short strings
checked by the code that writes them. No ORM relationships: queries say what they join,
which keeps async code free of lazy loads.

One module per group of tables; every table is importable from here, and importing this
package registers all of them on ``metadata`` (Alembic and the tests rely on it).
"""

from storage.models.base import metadata
from storage.models.inperson import (
    KioskDevice,
    ResponseOrigin,
)
from storage.models.organisation import (
    Dossier,
    Procedure,
    ProcedureField,
    Unit,
)
from storage.models.people import (
    AuditLog,
    Conversation,
    Credential,
    InboundEvent,
    Outbox,
    OutboxTally,
    Person,
    PersonChannel,
)
from storage.models.reminders import (
    Assignment,
    Deadline,
    DeadlineOccurrence,
    DeadlineTarget,
    HolidayOverride,
    Reminder,
)
from storage.models.rollups import (
    Alert,
    RollupAnswer,
    RollupAnswerMonth,
    RollupChannel,
    RollupChannelMonth,
    RollupChannelYear,
    RollupResponse,
    RollupResponseMonth,
)
from storage.models.surveys import (
    Answer,
    Feedback,
    Questionnaire,
    Quota,
    QuotaField,
    Response,
    SurveyInvite,
)
from storage.models.zns import (
    AnswerLink,
    ZnsDay,
    ZnsPhone,
    ZnsRating,
    ZnsSuppressed,
)

__all__ = [
    "Alert",
    "Answer",
    "AnswerLink",
    "Assignment",
    "AuditLog",
    "Conversation",
    "Credential",
    "Deadline",
    "DeadlineOccurrence",
    "DeadlineTarget",
    "Dossier",
    "Feedback",
    "HolidayOverride",
    "InboundEvent",
    "KioskDevice",
    "Outbox",
    "OutboxTally",
    "Person",
    "PersonChannel",
    "Procedure",
    "ProcedureField",
    "Questionnaire",
    "Quota",
    "QuotaField",
    "Reminder",
    "Response",
    "ResponseOrigin",
    "RollupAnswer",
    "RollupAnswerMonth",
    "RollupChannel",
    "RollupChannelMonth",
    "RollupChannelYear",
    "RollupResponse",
    "RollupResponseMonth",
    "SurveyInvite",
    "Unit",
    "ZnsDay",
    "ZnsPhone",
    "ZnsRating",
    "ZnsSuppressed",
    "metadata",
]
