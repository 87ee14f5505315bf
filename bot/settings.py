"""Settings from environment variables (prefix ``SIPAS_``), optionally from ``.env``.

Every variable is listed in README.md. Secrets are ``SecretStr`` so they never show up
in logs or reprs.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flows.i18n import LOCALES
from scheduler.calendar import OfficeHours


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

    telegram_token: SecretStr | None = None
    telegram_api_base: str = "https://api.telegram.org"
    telegram_webhook_secret: SecretStr | None = None
    telegram_bot_username: str | None = None

    zalo_app_id: str | None = None
    zalo_app_secret: SecretStr | None = None
    zalo_oa_secret: SecretStr | None = None
    zalo_access_token: SecretStr | None = None
    zalo_refresh_token: SecretStr | None = None
    zalo_api_base: str = "https://openapi.zalo.me"
    zalo_oauth_base: str = "https://oauth.zaloapp.com"

    api_keys: str = ""  # comma-separated
    invite_ttl_days: int = Field(default=30, ge=1)

    # Reminders: staff are messaged only within office hours on working days.
    office_hours: str = "07:30-17:00"
    reminder_tick_seconds: float = Field(default=15, gt=0)

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("default_locale")
    @classmethod
    def _valid_locale(cls, value: str) -> str:
        if value not in LOCALES:
            raise ValueError(f"must be one of {', '.join(LOCALES)}")
        return value

    @field_validator("office_hours")
    @classmethod
    def _valid_hours(cls, value: str) -> str:
        OfficeHours.parse(value)  # ValueError names the problem
        return value

    @property
    def hours(self) -> OfficeHours:
        return OfficeHours.parse(self.office_hours)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def api_key_list(self) -> list[str]:
        return [k.strip() for k in self.api_keys.split(",") if k.strip()]
