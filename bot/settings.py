"""All configuration, from the environment and `.env` (documented in `.env.example`)."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from scheduler.jobs import Timetable
from scheduler.outbox import Limits

if TYPE_CHECKING:
    from bot.server import Observability

DEFAULT_API_URL = "https://api.telegram.org/bot"
DEFAULT_GRAPH_URL = "https://graph.facebook.com/v23.0"  # Meta's Graph API, with its version
# What the WhatsApp channel needs, all or nothing (WHATSAPP_TOKEN switches it on)
WHATSAPP_REQUIRED = ("WHATSAPP_PHONE_ID", "WHATSAPP_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN")
INDONESIAN_DAYS = {
    "senin": "mon", "selasa": "tue", "rabu": "wed", "kamis": "thu",
    "jumat": "fri", "sabtu": "sat", "minggu": "sun",
}  # fmt: skip


class Settings(BaseSettings):
    """One place for every setting; names match the environment variables."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr | None = Field(default=None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_api_url: str = Field(default=DEFAULT_API_URL, validation_alias="TELEGRAM_API_URL")
    # Webhook mode (production): Telegram posts updates to this public HTTPS URL (ending in /telegram),
    # each with TELEGRAM_WEBHOOK_SECRET in a header. Without the URL: long polling.
    telegram_webhook_url: str | None = Field(default=None, validation_alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias="TELEGRAM_WEBHOOK_SECRET"
    )
    telegram_webhook_max_connections: int = Field(
        default=40, ge=1, le=100, validation_alias="TELEGRAM_WEBHOOK_MAX_CONNECTIONS"
    )
    whatsapp_phone_id: str | None = Field(default=None, validation_alias="WHATSAPP_PHONE_ID")
    whatsapp_token: SecretStr | None = Field(default=None, validation_alias="WHATSAPP_TOKEN")
    whatsapp_app_secret: SecretStr | None = Field(default=None, validation_alias="WHATSAPP_APP_SECRET")
    whatsapp_verify_token: SecretStr | None = Field(default=None, validation_alias="WHATSAPP_VERIFY_TOKEN")
    whatsapp_api_url: str = Field(default=DEFAULT_GRAPH_URL, validation_alias="WHATSAPP_API_URL")
    whatsapp_waba_id: str | None = Field(default=None, validation_alias="WHATSAPP_WABA_ID")
    # The HTTP server (webhooks, health): behind a reverse proxy with HTTPS in production
    host: str = Field(default="127.0.0.1", validation_alias="LANJUTKAN_HOST")
    port: int = Field(default=8080, ge=0, le=65_535, validation_alias="LANJUTKAN_PORT")  # 0: any free port
    database_url: str = Field(
        default="sqlite+aiosqlite:///data/lanjutkan.db", validation_alias="DATABASE_URL"
    )
    kabupaten: str = Field(default="12.17", validation_alias="LANJUTKAN_KABUPATEN")
    # Not the host's TZ: it is often POSIX (":/etc/localtime", "UTC0") or UTC in containers, while the
    # kabupaten's dates must stay in its own zone.
    timezone: str = Field(default="Asia/Jakarta", validation_alias="LANJUTKAN_TIMEZONE")
    secret: SecretStr | None = Field(default=None, validation_alias="LANJUTKAN_SECRET")
    # The previous secret while `lanjutkan secret rotate` moves the data to LANJUTKAN_SECRET; then removed.
    secret_old: SecretStr | None = Field(default=None, validation_alias="LANJUTKAN_SECRET_OLD")
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
    # Registry results (found, desil; does the name match) shown to one operator a day at intake
    registry_lookups_per_day: int = Field(
        default=50, ge=0, validation_alias="LANJUTKAN_REGISTRY_LOOKUPS_PER_DAY"
    )
    name_checks_per_day: int = Field(default=50, ge=0, validation_alias="LANJUTKAN_NAME_CHECKS_PER_DAY")
    outbox_per_second: float = Field(
        default=30.0, gt=0, le=30, validation_alias="LANJUTKAN_OUTBOX_PER_SECOND"
    )
    outbox_chat_interval: float = Field(default=1.1, ge=0, validation_alias="LANJUTKAN_OUTBOX_CHAT_INTERVAL")
    # WhatsApp's limits are the business number's: 80 messages a second (130429), about one message per 6 s
    # to one person with short bursts (131056); a direct answer to someone who just wrote is not held to it.
    whatsapp_per_second: float = Field(default=80.0, gt=0, le=1000, validation_alias="WHATSAPP_PER_SECOND")
    whatsapp_pair_interval: float = Field(default=6.0, ge=0, validation_alias="WHATSAPP_PAIR_INTERVAL")
    # Seconds between two answers of one kind to an account no officer is bound to (0: answer everything).
    unbound_reply_interval: float = Field(
        default=300, ge=0, le=86_400, validation_alias="LANJUTKAN_UNBOUND_REPLY_INTERVAL"
    )
    # The weekly summary and the daily reminders (scheduler/jobs.py), in LANJUTKAN_TIMEZONE.
    scheduled_messages: bool = Field(default=True, validation_alias="LANJUTKAN_SCHEDULED_MESSAGES")
    summary_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = Field(
        default="mon", validation_alias="LANJUTKAN_SUMMARY_DAY"
    )
    summary_time: dt.time = Field(default=dt.time(8, 0), validation_alias="LANJUTKAN_SUMMARY_TIME")
    reminder_time: dt.time = Field(default=dt.time(9, 0), validation_alias="LANJUTKAN_REMINDER_TIME")
    remind_after_days: int = Field(default=3, ge=1, le=60, validation_alias="LANJUTKAN_REMIND_AFTER_DAYS")
    escalate_after_days: int = Field(default=7, ge=1, le=90, validation_alias="LANJUTKAN_ESCALATE_AFTER_DAYS")
    fix_remind_after_days: int = Field(
        default=7, ge=1, le=90, validation_alias="LANJUTKAN_FIX_REMIND_AFTER_DAYS"
    )
    # Under a week: a catch-up a week late would send last week's summary an hour before this week's.
    catch_up_days: float = Field(default=3, ge=0, lt=7, validation_alias="LANJUTKAN_CATCH_UP_DAYS")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias="LANJUTKAN_LOG_LEVEL"
    )
    # json: one JSON object per line (time, level, logger, message, channel, update_id) for a log shipper
    log_format: Literal["text", "json"] = Field(default="text", validation_alias="LANJUTKAN_LOG_FORMAT")
    # GET /metrics (Prometheus), to these client addresses or networks only: the proxy must not forward it
    metrics: bool = Field(default=True, validation_alias="LANJUTKAN_METRICS")
    metrics_allow: str = Field(default="127.0.0.1,::1", validation_alias="LANJUTKAN_METRICS_ALLOW")
    # GET /readyz: seconds a chat app's calls may fail, with no success in between, before it is not ready
    ready_failing_after: float = Field(default=300, gt=0, validation_alias="LANJUTKAN_READY_FAILING_AFTER")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @field_validator("summary_day", mode="before")
    @classmethod
    def _short_day(cls, value: object) -> object:
        """Monday, senin, MON: the first three letters of the English name, as cron writes them."""
        if isinstance(value, str):
            day = value.strip().lower()
            return INDONESIAN_DAYS.get(day, day[:3])
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_format(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("metrics_allow")
    @classmethod
    def _addresses(cls, value: str) -> str:
        import ipaddress

        for entry in value.split(","):
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or network: {entry.strip()!r}") from None
        return value

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

    @field_validator(
        "coverage_start",
        "secret_old",
        "telegram_bot_token",
        "whatsapp_phone_id",
        "whatsapp_token",
        "whatsapp_app_secret",
        "whatsapp_verify_token",
        "whatsapp_waba_id",
        "telegram_webhook_url",
        "telegram_webhook_secret",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        """An empty line in `.env` (``WHATSAPP_TOKEN=``) is a setting left out."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("whatsapp_api_url")
    @classmethod
    def _graph_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("not a URL (e.g. https://graph.facebook.com/v23.0)")
        return value.rstrip("/")

    def channels(self) -> list[str]:
        """The chat apps this deployment runs: Telegram with a bot token, WhatsApp with a Cloud API token."""
        return [
            name
            for name, on in (("telegram", self.telegram_bot_token), ("whatsapp", self.whatsapp_token))
            if on is not None
        ]

    def telegram_webhook_problem(self) -> str | None:
        """Why the Telegram webhook settings cannot work, in one line; None when they can (or are unset)."""
        if self.telegram_webhook_url is None:
            return None
        if not self.telegram_webhook_url.startswith("https://"):
            return "TELEGRAM_WEBHOOK_URL must be a public https:// URL (Telegram posts only to HTTPS)"
        secret = self.telegram_webhook_secret.get_secret_value() if self.telegram_webhook_secret else ""
        if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", secret):
            return (
                "TELEGRAM_WEBHOOK_SECRET must be set with TELEGRAM_WEBHOOK_URL: 16 to 256 characters of "
                "A-Z, a-z, 0-9, _ and -"
            )
        return None

    def whatsapp_missing(self) -> list[str]:
        """The WhatsApp settings still missing once any of them is set (none set: WhatsApp is off)."""
        values = {
            "WHATSAPP_PHONE_ID": self.whatsapp_phone_id,
            "WHATSAPP_TOKEN": self.whatsapp_token,
            "WHATSAPP_APP_SECRET": self.whatsapp_app_secret,
            "WHATSAPP_VERIFY_TOKEN": self.whatsapp_verify_token,
        }
        if all(value is None for value in values.values()):
            return []
        return [name for name in WHATSAPP_REQUIRED if values[name] is None]

    def timetable(self) -> Timetable:
        return Timetable(
            summary_day=self.summary_day,
            summary_at=self.summary_time,
            reminder_at=self.reminder_time,
            remind_after_days=self.remind_after_days,
            escalate_after_days=self.escalate_after_days,
            fix_after_days=self.fix_remind_after_days,
            catch_up=dt.timedelta(days=self.catch_up_days),
        )

    def outbox_limits(self) -> Limits:
        """Telegram's: the bot token's."""
        return Limits(per_second=self.outbox_per_second, chat_interval=self.outbox_chat_interval)

    def whatsapp_limits(self) -> Limits:
        """WhatsApp's: the business number's."""
        return Limits(per_second=self.whatsapp_per_second, chat_interval=self.whatsapp_pair_interval)

    def observability(self) -> Observability:
        """/readyz and /metrics as configured."""
        from bot.server import Observability

        return Observability(
            metrics=self.metrics,
            metrics_allow=tuple(e.strip() for e in self.metrics_allow.split(",") if e.strip()),
            stale_after=self.ready_failing_after,
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
