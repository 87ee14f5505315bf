"""Zalo's token pair, kept in the ``credential`` table and refreshed exactly once.

A refresh token works once. So a refresh happens only while holding the credential
row (``storage.credentials.lock``: ``FOR UPDATE`` on PostgreSQL, the single writer on
SQLite): take the lock, re-read, and if someone else (another task, another process)
already replaced the token we found wanting, use theirs; otherwise refresh and store
the new pair in the same transaction, before anyone uses it. Within a process an
asyncio lock keeps tasks from queueing on the database for the same refresh.

Tokens are stored encrypted with the deployment's secret key. The pair from the
environment (``SIPAS_ZALO_ACCESS_TOKEN``/``SIPAS_ZALO_REFRESH_TOKEN``) seeds the row;
the row remembers a fingerprint of that seed, so an operator who puts a *new* pair in
the environment (after re-approving the app) is obeyed on the next start, while the
old, long-spent environment pair never overrides a refreshed one.

The OAuth call is made while the row is held: on SQLite that pauses other writers of
this process for the length of one OAuth request, once a day.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from bot.channels.zalo.client import TokenGrant, ZaloAuthError, ZaloError, ZaloOAuth
from bot.core.app import App
from storage import credentials

log = logging.getLogger(__name__)

CREDENTIAL = "zalo"
REFRESH_MARGIN = timedelta(hours=1)  # refresh this long before the access token expires
# A pair from the environment comes without its expiry: it is taken to live as long as
# Zalo's access tokens do from the moment it was stored (a token that dies sooner is
# refused on use and refreshed then). Refreshing it at once would spend the single-use
# refresh token for nothing.
ASSUMED_LIFETIME = timedelta(hours=25)
KEEPER_INTERVAL = 300.0  # seconds between the keeper's checks


class ZaloNotConnected(ZaloAuthError):
    """No token at all: neither stored nor in the environment."""

    def __init__(self) -> None:
        super().__init__(
            None,
            "no Zalo token: set SIPAS_ZALO_ACCESS_TOKEN and SIPAS_ZALO_REFRESH_TOKEN, "
            "or run 'sipas-bot zalo connect'",
        )


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_at: datetime | None  # None: not known (a pair given in the environment)
    stored_at: datetime | None = None  # when a pair of unknown expiry was stored

    def deadline(self) -> datetime | None:
        """The known expiry, else the assumed one of a pair of unknown age."""
        if self.expires_at is not None:
            return self.expires_at
        return self.stored_at + ASSUMED_LIFETIME if self.stored_at is not None else None

    def expiring(self, now: datetime, margin: timedelta = REFRESH_MARGIN) -> bool:
        deadline = self.deadline()
        return deadline is not None and deadline - now <= margin


def fingerprint(access_token: str | None, refresh_token: str | None) -> str | None:
    """A short, one-way mark of a token pair (to notice a changed environment pair)."""
    if not access_token and not refresh_token:
        return None
    raw = f"{access_token or ''}\n{refresh_token or ''}".encode()
    return hashlib.sha256(raw).hexdigest()[:16]


class ZaloTokens:
    """The token source of ``ZaloOAClient``, backed by the database."""

    def __init__(self, app: App, oauth: ZaloOAuth) -> None:
        self.app = app
        self.oauth = oauth
        self._pair: TokenPair | None = None
        self._lock = asyncio.Lock()
        s = app.settings
        self._env_access = s.zalo_access_token.get_secret_value() if s.zalo_access_token else ""
        self._env_refresh = s.zalo_refresh_token.get_secret_value() if s.zalo_refresh_token else ""
        self._seed = fingerprint(self._env_access, self._env_refresh)

    # --- the TokenSource protocol ----------------------------------------------------

    async def access_token(self) -> str:
        """The current access token, refreshed first when it is about to expire.

        If that early refresh fails, the token is used for as long as it is still valid.
        """
        pair = self._pair or await self._load()
        now = self.app.now()
        if pair.expiring(now):
            try:
                pair = await self._refresh(pair.access_token)
            except (ZaloError, httpx.HTTPError) as exc:
                deadline = pair.deadline()
                if deadline is None or deadline <= now:
                    raise
                log.warning(
                    "early refresh of the Zalo token failed (%s); using it until expiry", exc
                )
        return pair.access_token

    async def refresh(self, stale: str) -> str:
        """A working access token after ``stale`` was rejected."""
        return (await self._refresh(stale)).access_token

    # --- keeping the chain alive -------------------------------------------------------

    async def keep_fresh(self, stop: asyncio.Event, interval: float = KEEPER_INTERVAL) -> None:
        """Refresh ahead of expiry even when nothing is sent (a refresh token unused for
        about three months dies)."""
        while not stop.is_set():
            try:
                await self.refresh_if_due()
            except ZaloNotConnected:
                log.warning("Zalo is not connected yet: run 'sipas-bot zalo connect'")
            except ZaloError as exc:
                log.error("refreshing the Zalo token failed: %s", exc)
            except Exception:  # the keeper must outlive a bad hour at Zalo
                log.exception("refreshing the Zalo token failed; will try again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def refresh_if_due(self) -> bool:
        """One check of the keeper: refresh when the access token is near its (known or
        assumed) expiry, and only then; whether it refreshed."""
        pair = self._pair or await self._load()
        if not pair.expiring(self.app.now()):
            return False
        await self._refresh(pair.access_token)
        return True

    async def store_grant(self, grant: TokenGrant) -> TokenPair:
        """Store a pair obtained outside a refresh (the first pair from an admin's approval)."""
        async with self._lock, self.app.db.write() as session:
            now = self.app.now()
            await credentials.lock(session, CREDENTIAL, now)
            pair = self._pair_of(grant, now)
            await credentials.put(session, CREDENTIAL, self._encode(pair, now), now)
        self._pair = pair
        return pair

    async def stored(self) -> TokenPair | None:
        """The stored pair, if there is one (for ``sipas-bot zalo status``)."""
        async with self.app.db.read() as session:
            return self._decode(await credentials.get(session, CREDENTIAL))

    # --- inside ------------------------------------------------------------------------

    async def _load(self) -> TokenPair:
        async with self.app.db.read() as session:
            data = await credentials.get(session, CREDENTIAL)
        pair = self._decode(data)
        if pair is None or (self._seed and (data or {}).get("seed") != self._seed):
            pair = await self._seed_from_environment()
        self._pair = pair
        return pair

    async def _seed_from_environment(self) -> TokenPair:
        async with self._lock, self.app.db.write() as session:
            now = self.app.now()
            data = await credentials.lock(session, CREDENTIAL, now)
            pair = self._decode(data)
            if self._seed and data.get("seed") != self._seed:
                pair = TokenPair(self._env_access, self._env_refresh, None, now)
                await credentials.put(session, CREDENTIAL, self._encode(pair, now), now)
                log.info("Zalo tokens taken from the environment")
        if pair is None:
            raise ZaloNotConnected()
        return pair

    async def _refresh(self, stale: str) -> TokenPair:
        async with self._lock:
            if self._pair is not None and self._pair.access_token != stale:
                return self._pair  # another task of this process refreshed meanwhile
            async with self.app.db.write() as session:
                now = self.app.now()
                pair = self._decode(await credentials.lock(session, CREDENTIAL, now))
                if pair is None:
                    raise ZaloNotConnected()
                if pair.access_token == stale:
                    grant = await self.oauth.refresh(pair.refresh_token)
                    pair = self._pair_of(grant, now)
                    await credentials.put(session, CREDENTIAL, self._encode(pair, now), now)
                    log.info("Zalo access token refreshed (valid until %s)", pair.expires_at)
                # else: another process refreshed; its pair is the one to use
            self._pair = pair
            return pair

    def _pair_of(self, grant: TokenGrant, now: datetime) -> TokenPair:
        expires = now + timedelta(seconds=grant.expires_in) if grant.expires_in else None
        return TokenPair(grant.access_token, grant.refresh_token, expires, None if expires else now)

    def _encode(self, pair: TokenPair, now: datetime) -> dict[str, Any]:
        keys = self.app.keys
        return {
            "access_token": keys.encrypt(pair.access_token),
            "refresh_token": keys.encrypt(pair.refresh_token) if pair.refresh_token else None,
            "expires_at": pair.expires_at.isoformat() if pair.expires_at else None,
            "seed": self._seed,
            "stored_at": now.isoformat(),
        }

    def _decode(self, data: dict[str, Any] | None) -> TokenPair | None:
        if not data or not data.get("access_token"):
            return None
        keys = self.app.keys
        access = keys.decrypt(data["access_token"])
        refresh = keys.decrypt(data["refresh_token"]) if data.get("refresh_token") else ""
        if access is None or refresh is None:
            log.warning("stored Zalo tokens cannot be decrypted (was the secret key changed?)")
            return None
        expires = data.get("expires_at")
        if expires:
            return TokenPair(access, refresh, datetime.fromisoformat(expires))
        stored = data.get("stored_at")
        return TokenPair(access, refresh, None, datetime.fromisoformat(stored) if stored else None)
