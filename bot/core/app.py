"""The application object: settings, database, keys and clock, built once per process."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import event
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.keys import Keyring, load_or_create_secret
from bot.core.settings import Settings
from bot.core.throttle import Throttles
from flows import questionnaire as qn
from storage import questionnaires
from storage.db import Database
from storage.types import utcnow


def _count_database_error(exc: BaseException) -> None:
    # The metrics (prometheus_client, ~70 ms to import) are loaded on the first error,
    # not by every command that builds an App; ``serve`` loads them anyway.
    from bot.core import metrics

    metrics.database_error(exc)


class App:
    """What every part of the running bot shares."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        db: Database | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.db = db or Database(self.settings.database_url)
        if _count_database_error not in self.db.error_listeners:
            self.db.error_listeners.append(_count_database_error)
        # This process, as the owner of the outbox rows it claims (storage/instances.py).
        self.instance_id = secrets.token_hex(8)
        self.throttles = Throttles(self.settings)
        secret = self.settings.secret_key.get_secret_value() if self.settings.secret_key else None
        self.keys = Keyring(load_or_create_secret(secret, self.settings.data_dir))
        self.clock = clock
        self._questionnaire_ids: dict[tuple[str, int], int] = {}

    @property
    def tz(self):
        return self.settings.tz

    def now(self) -> datetime:
        return self.clock()

    async def questionnaire_id(self, session: AsyncSession, code: str, version: int) -> int:
        """The database id of a questionnaire version (stored on first use, then cached).

        Cached only once ``session`` commits: until then the row may be invisible to
        other transactions (PostgreSQL) or be rolled back, and an id handed out early
        broke the foreign key of concurrent first responses.
        """
        key = (code, version)
        cached = self._questionnaire_ids.get(key)
        if cached is not None:
            return cached
        q = qn.get(code)
        if q.version != version:
            raise LookupError(f"questionnaire {code} v{version} is not loaded (have v{q.version})")
        qid = await questionnaires.ensure(
            session, q.code, q.version, q.title.vi, q.model_dump(mode="json")
        )

        def remember(_session) -> None:
            self._questionnaire_ids[key] = qid

        event.listen(session.sync_session, "after_commit", remember, once=True)
        return qid

    async def close(self) -> None:
        await self.db.dispose()
