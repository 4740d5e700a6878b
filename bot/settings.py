"""All configuration, from the environment and `.env` (documented in `.env.example`)."""

from __future__ import annotations

import datetime as dt
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from scheduler.outbox import Limits

DEFAULT_API_URL = "https://api.telegram.org/bot"


class Settings(BaseSettings):
    """One place for every setting; names match the environment variables."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr | None = Field(default=None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_api_url: str = Field(default=DEFAULT_API_URL, validation_alias="TELEGRAM_API_URL")
    database_url: str = Field(
        default="sqlite+aiosqlite:///data/lanjutkan.db", validation_alias="DATABASE_URL"
    )
    kabupaten: str = Field(default="12.17", validation_alias="LANJUTKAN_KABUPATEN")
    # Not the host's TZ: it is often POSIX (":/etc/localtime", "UTC0") or UTC in containers, while the
    # kabupaten's dates must stay in its own zone.
    timezone: str = Field(default="Asia/Jakarta", validation_alias="LANJUTKAN_TIMEZONE")
    secret: SecretStr | None = Field(default=None, validation_alias="LANJUTKAN_SECRET")
    admin_contact: str = Field(
        default="admin Diskopnaker Kabupaten Samosir", validation_alias="LANJUTKAN_ADMIN_CONTACT"
    )
    age_min: int = Field(default=15, ge=0, le=120, validation_alias="LANJUTKAN_AGE_MIN")
    age_max: int = Field(default=65, ge=0, le=120, validation_alias="LANJUTKAN_AGE_MAX")
    coverage_start: dt.date | None = Field(default=None, validation_alias="LANJUTKAN_COVERAGE_START")
    max_concurrent_updates: int = Field(
        default=256, ge=1, validation_alias="LANJUTKAN_MAX_CONCURRENT_UPDATES"
    )
    new_participant_quota: int = Field(default=320, ge=0, validation_alias="LANJUTKAN_NEW_PARTICIPANT_QUOTA")
    outbox_per_second: float = Field(
        default=29.0, gt=0, le=30, validation_alias="LANJUTKAN_OUTBOX_PER_SECOND"
    )
    outbox_chat_interval: float = Field(default=1.1, ge=0, validation_alias="LANJUTKAN_OUTBOX_CHAT_INTERVAL")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias="LANJUTKAN_LOG_LEVEL"
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError("not a database URL (e.g. sqlite+aiosqlite:///data/lanjutkan.db)") from None
        if backend not in {"sqlite", "postgresql"}:
            raise ValueError("use SQLite or PostgreSQL")
        return value

    @field_validator("coverage_start", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    def outbox_limits(self) -> Limits:
        return Limits(per_second=self.outbox_per_second, chat_interval=self.outbox_chat_interval)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
