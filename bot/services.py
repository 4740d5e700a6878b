"""Build the engine's services from the settings: the one place `bot` wires `handlers` to `models`."""

from __future__ import annotations

import datetime as dt

from bot.settings import Settings
from handlers.context import Services
from models.crypto import NikVault
from models.db import create_engine, session_maker
from models.regions import load_kabupaten
from models.rules.candidate import AgeLimits


class ConfigError(Exception):
    """A setting is missing or wrong; the message is one line for the person starting the bot."""


def build_services(settings: Settings, *, secret: str | None = None) -> Services:
    """Services for the configured kabupaten and database; raises :class:`ConfigError` with one line."""
    raw_secret = secret or (settings.secret.get_secret_value() if settings.secret else "")
    if not raw_secret:
        raise ConfigError(
            "LANJUTKAN_SECRET is not set: it encrypts and hashes NIKs. "
            'Generate one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )
    try:
        vault = NikVault(raw_secret)
    except ValueError as exc:
        raise ConfigError(f"LANJUTKAN_SECRET is too weak: {exc}") from None
    if settings.secret_old is not None:
        old_secret = settings.secret_old.get_secret_value()
        if old_secret == raw_secret:
            raise ConfigError("LANJUTKAN_SECRET_OLD is LANJUTKAN_SECRET: set it to the previous secret")
        try:
            vault = NikVault(raw_secret, old_secret)
        except ValueError as exc:
            raise ConfigError(f"LANJUTKAN_SECRET_OLD is too weak: {exc}") from None
    try:
        kabupaten = load_kabupaten(settings.kabupaten)
    except ValueError:
        raise ConfigError(
            f"LANJUTKAN_KABUPATEN={settings.kabupaten} is not a kabupaten/kota code (e.g. 12.17)"
        ) from None
    if settings.age_min > settings.age_max:
        raise ConfigError("LANJUTKAN_AGE_MIN is above LANJUTKAN_AGE_MAX")
    engine = create_engine(settings.database_url)
    return Services(
        sessions=session_maker(engine),
        vault=vault,
        kabupaten=kabupaten,
        timezone=settings.zone,
        ages=AgeLimits(minimum=settings.age_min, maximum=settings.age_max),
        coverage_start=settings.coverage_start,
        admin_contact=settings.admin_contact,
        new_participant_quota=settings.new_participant_quota,
        registry_lookups_per_day=settings.registry_lookups_per_day,
        name_checks_per_day=settings.name_checks_per_day,
        unbound_reply_interval=dt.timedelta(seconds=settings.unbound_reply_interval),
    )
