"""What the bot does beyond one message: intake, invites, notifications, reminders,
follow-up, imports, demo data.

Importing this package registers the effect appliers that belong to services with the
core (``bot.core.effects``) and the report attachments with the context, so the core
never imports upward. Every entry point imports it before handling an event.
"""

from bot.render import attachments  # noqa: F401  (registers the chart and workbook makers)
from bot.services import admin_effects, assisted, reminders, survey_effects  # noqa: F401
