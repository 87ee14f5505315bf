"""Settings from environment variables (prefix ``SIPAS_``), optionally from ``.env``.

Every variable is listed in README.md. Secrets are ``SecretStr`` so they never show up
in logs or reprs.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flows.i18n import LOCALES, N_, Problem
from scheduler.office_hours import OfficeHours

_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")  # Telegram's rule for secret_token


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SIPAS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///./data/sipas.db"
    data_dir: Path = Path("./data")
    secret_key: SecretStr | None = None
    timezone: str = "Asia/Ho_Chi_Minh"
    default_locale: str = "vi"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)
    public_url: str | None = None
    # A citizen's press mid-survey without the conversation's lock (storage/step_direct.py);
    # False runs every step under the lock (the reference path, for comparison).
    direct_steps: bool = True

    telegram_token: SecretStr | None = None
    # The Bot API library: python-telegram-bot (default) or aiogram; the other is never imported.
    telegram_library: Literal["ptb", "aiogram"] = "ptb"
    telegram_api_base: str = "https://api.telegram.org"
    telegram_webhook_secret: SecretStr | None = None
    telegram_bot_username: str | None = None
    telegram_rate: float = Field(default=30.0, gt=0)  # messages per second, overall
    telegram_chat_interval: float = Field(default=1.0, ge=0)  # seconds between two to one chat

    zalo_app_id: str | None = None
    zalo_app_secret: SecretStr | None = None
    zalo_oa_secret: SecretStr | None = None
    zalo_access_token: SecretStr | None = None
    zalo_refresh_token: SecretStr | None = None
    zalo_api_base: str = "https://openapi.zalo.me"
    zalo_oauth_base: str = "https://oauth.zaloapp.com"

    # ZNS (Zalo Notification Service): templates by phone number, paid per message.
    zns_enabled: bool = False
    zns_api_base: str = "https://business.openapi.zalo.me"
    zns_invite_template_id: str | None = None
    # template parameter = our field, comma-separated (fields: INVITE_FIELDS)
    zns_invite_params: str = (
        "ma_ho_so=receipt_code,don_vi=unit_name,thu_tuc=procedure_name,"
        "ngay_tra=completed_date,ma_khao_sat=code"
    )
    zns_rating_template_id: str | None = None  # default: the invitation template
    zns_reminder_template_id: str | None = None
    zns_reminder_params: str = "can_bo=name,cong_viec=title,han=due_date,ma=answer_token"
    zns_daily_cap: int = Field(default=500, ge=0)  # messages per local day; 0 sends none
    zns_rate: float = Field(default=5.0, gt=0)  # messages per second
    zns_poll_minutes: int = Field(default=5, ge=1)  # rating list polled this often
    zns_price_vnd: int = Field(default=300, ge=0)  # per message, for spend estimates
    zns_development: bool = False  # send in Zalo's development mode (OA admins only)

    api_keys: str = ""  # comma-separated
    invite_ttl_days: int = Field(default=30, ge=1)
    # Intake: invitations pushed to a citizen's chat (integration API, CSV import).
    invite_cooldown_days: int = Field(default=7, ge=0)  # at most one per citizen per N days
    invite_hours: str = "07:30-21:00"  # local hours in which invitations may go out

    # Admins and leaders (issue 6): privacy, follow-up target, live alerts.
    privacy_min_responses: int = Field(default=5, ge=0)
    feedback_target_hours: int = Field(default=48, ge=1)
    satisfaction_target: float = Field(default=0.9, ge=0, le=1)
    alert_min_ratings: int = Field(default=4, ge=1)
    alert_negative_share: float = Field(default=0.5, gt=0, le=1)
    alert_window_minutes: int = Field(default=15, ge=1)
    stuffing_counter_ratings: int = Field(default=5, ge=2)
    stuffing_respondent_ratings: int = Field(default=3, ge=2)
    stuffing_window_minutes: int = Field(default=5, ge=1)

    # In-person phiếu (issue 13): counter tablets, surveyors, paper ballots.
    kiosk_pairing_hours: int = Field(default=24, ge=1)  # a pairing link works this long
    kiosk_thanks_seconds: int = Field(default=5, ge=1, le=60)  # "Cảm ơn", then the start
    kiosk_idle_seconds: int = Field(default=90, ge=10)  # an unfinished page goes back
    stuffing_device_ratings: int = Field(default=5, ge=2)  # this many from one tablet…
    stuffing_device_seconds: int = Field(default=60, ge=5)  # …within this many seconds
    stuffing_surveyor_per_hour: int = Field(default=20, ge=2)
    stuffing_surveyor_identical: int = Field(default=8, ge=2)  # phiếu in a row alike
    assisted_questionnaire: str = "sipas-2023"

    # Reminders: staff are messaged only within office hours on working days.
    office_hours: str = "07:30-17:00"
    reminder_tick_seconds: float = Field(default=15, gt=0)

    # Operations (issue 18): metrics, retention, throttles.
    metrics_token: SecretStr | None = None  # unset: /metrics answers loopback clients only
    metrics_enabled: bool = True
    retention_inbound_days: int = Field(default=14, ge=2)  # dedupe keys of inbound events
    retention_sent_days: int = Field(default=90, ge=1)  # sent outbox rows
    retention_web_days: int = Field(default=30, ge=1, le=30)  # undelivered web-chat replies
    prune_interval_minutes: float = Field(default=60, gt=0)
    prune_batch: int = Field(default=500, ge=1, le=10_000)
    web_posts_per_minute: int = Field(default=30, ge=1)  # per web-chat session
    web_posts_per_minute_per_address: int = Field(default=600, ge=1)
    code_tries_per_hour: int = Field(default=60, ge=1)  # survey codes entered, per chat
    code_tries_per_hour_per_address: int = Field(default=600, ge=1)  # web chat
    zalo_event_window_minutes: int = Field(default=1440, ge=1)  # signed events further: refused

    @model_validator(mode="after")
    def _keys_outlast_the_zalo_window(self) -> Settings:
        # A replayed Zalo event inside the window must still meet its dedupe key.
        if self.retention_inbound_days * 1440 <= self.zalo_event_window_minutes:
            raise Problem(
                N_("{days} must be longer than {window}"),
                days="SIPAS_RETENTION_INBOUND_DAYS",
                window="SIPAS_ZALO_EVENT_WINDOW_MINUTES",
            )
        return self

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise Problem(N_("unknown time zone '{zone}'"), zone=value) from None
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _valid_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Checked here so that a bad one stops the start with the variable named.
        if value is not None and not _SECRET_TOKEN.fullmatch(value.get_secret_value()):
            raise Problem(N_("must be 1-256 characters of A-Z, a-z, 0-9, _ and -"))
        return value

    @field_validator("default_locale")
    @classmethod
    def _valid_locale(cls, value: str) -> str:
        if value not in LOCALES:
            raise Problem(N_("must be one of: {expected}"), expected=", ".join(LOCALES))
        return value

    @field_validator("assisted_questionnaire")
    @classmethod
    def _known_questionnaire(cls, value: str) -> str:
        from flows import questionnaire

        if value not in questionnaire.codes():
            raise Problem(N_("no questionnaire '{code}' in flows/questionnaires/"), code=value)
        return value

    @field_validator("invite_hours")
    @classmethod
    def _valid_hours(cls, value: str) -> str:
        _parse_hours(value)
        return value

    @property
    def invite_window(self) -> tuple[time, time]:
        """The local hours (from, until) in which invitations may be sent."""
        return _parse_hours(self.invite_hours)

    @field_validator("office_hours")
    @classmethod
    def _valid_office_hours(cls, value: str) -> str:
        OfficeHours.parse(value)  # ValueError names the problem
        return value

    @property
    def hours(self) -> OfficeHours:
        return OfficeHours.parse(self.office_hours)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def telegram_webhook_url(self) -> str | None:
        """Where Telegram delivers updates when a webhook is configured; None: long polling."""
        if self.telegram_token and self.public_url and self.telegram_webhook_secret:
            return self.public_url.rstrip("/") + "/webhooks/telegram"
        return None

    @property
    def zalo_receives(self) -> bool:
        """Whether Zalo webhooks can be verified (app id and OA secret are set)."""
        return bool(self.zalo_app_id and self.zalo_oa_secret)

    @property
    def zalo_sends(self) -> bool:
        """Whether Zalo messages can be sent (app id and secret are needed to refresh tokens)."""
        return bool(self.zalo_app_id and self.zalo_app_secret)

    @field_validator("zns_invite_params")
    @classmethod
    def _valid_invite_params(cls, value: str) -> str:
        _parse_params(value, INVITE_FIELDS)
        return value

    @field_validator("zns_reminder_params")
    @classmethod
    def _valid_reminder_params(cls, value: str) -> str:
        _parse_params(value, REMINDER_FIELDS)
        return value

    @property
    def zns_invite_mapping(self) -> dict[str, str]:
        """Template parameter → our field, for the invitation template."""
        return _parse_params(self.zns_invite_params, INVITE_FIELDS)

    @property
    def zns_reminder_mapping(self) -> dict[str, str]:
        """Template parameter → our field, for the officials' reminder template."""
        return _parse_params(self.zns_reminder_params, REMINDER_FIELDS)

    @property
    def zns_sends(self) -> bool:
        """Whether ZNS messages can go out (switched on, Zalo tokens refreshable)."""
        return bool(self.zns_enabled and self.zalo_sends)

    @property
    def zns_invites(self) -> bool:
        """Whether citizens with a phone number are invited by ZNS."""
        return bool(self.zns_sends and self.zns_invite_template_id)

    @property
    def zns_reminders(self) -> bool:
        """Whether reminders Zalo refuses (messaging window) go by ZNS instead."""
        return bool(self.zns_sends and self.zns_reminder_template_id)

    @property
    def zns_rating_template(self) -> str | None:
        """The template whose ratings are read back."""
        return self.zns_rating_template_id or self.zns_invite_template_id

    @property
    def api_key_list(self) -> list[str]:
        return [k.strip() for k in self.api_keys.split(",") if k.strip()]


INVITE_FIELDS = frozenset(
    {"receipt_code", "unit_name", "procedure_name", "completed_date", "code", "survey_url"}
)
REMINDER_FIELDS = frozenset({"name", "title", "due_date", "answer_token", "answer_url"})


def _parse_params(value: str, fields: frozenset[str]) -> dict[str, str]:
    """``"a=receipt_code,b=code"`` → {"a": "receipt_code", "b": "code"}."""
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        name, sep, field = (x.strip() for x in part.partition("="))
        if not sep or not name or field not in fields:
            raise Problem(
                N_("expected parameter=field pairs with fields among {fields}; got '{part}'"),
                fields=", ".join(sorted(fields)),
                part=part,
            )
        mapping[name] = field
    if not mapping:
        raise Problem(N_("at least one parameter=field pair is needed"))
    return mapping


def _parse_hours(value: str) -> tuple[time, time]:
    """``"07:30-21:00"`` → (07:30, 21:00); the window may not wrap past midnight."""
    try:
        start, end = (time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError:
        raise Problem(N_("expected HH:MM-HH:MM, not '{text}'"), text=value) from None
    if start >= end:
        raise Problem(N_("the window must start before it ends: '{text}'"), text=value)
    return start, end
