"""Settings from the environment and `.env`, and the one-line configuration errors."""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr, ValidationError

from bot.services import ConfigError, build_services
from bot.settings import DEFAULT_API_URL, Settings
from models.rules.candidate import AgeLimits

SECRET = "settings-test-secret-" + "z" * 16


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path):  # type: ignore[no-untyped-def]
    """No setting of the machine running the tests, and no `.env` but the test's own."""
    for name in list(os.environ):
        if name.startswith(("LANJUTKAN_", "TELEGRAM_", "WHATSAPP_")) or name in {"DATABASE_URL", "TZ"}:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults():
    settings = Settings()

    assert settings.telegram_bot_token is None
    assert settings.telegram_api_url == DEFAULT_API_URL == "https://api.telegram.org/bot"
    assert settings.database_url == "sqlite+aiosqlite:///data/lanjutkan.db"
    assert settings.kabupaten == "12.17"
    assert settings.zone == ZoneInfo("Asia/Jakarta")
    assert settings.secret is None
    assert (settings.age_min, settings.age_max) == (15, 65)
    assert settings.coverage_start is None
    assert settings.unbound_reply_interval == 300


def test_values_from_environment_variables(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://lanjutkan@127.0.0.1:5432/lanjutkan")
    monkeypatch.setenv("LANJUTKAN_KABUPATEN", "32.76")
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:8081/bot")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:TEST-token")
    monkeypatch.setenv("LANJUTKAN_COVERAGE_START", "2027-01-01")
    monkeypatch.setenv("LANJUTKAN_TIMEZONE", "Asia/Makassar")
    monkeypatch.setenv("LANJUTKAN_AGE_MIN", "18")

    settings = Settings()

    assert settings.database_url == "postgresql://lanjutkan@127.0.0.1:5432/lanjutkan"
    assert settings.kabupaten == "32.76"
    assert settings.telegram_api_url == "http://127.0.0.1:8081/bot"
    assert settings.telegram_bot_token is not None
    assert settings.telegram_bot_token.get_secret_value() == "123456:TEST-token"
    assert "TEST-token" not in repr(settings)
    assert settings.coverage_start == dt.date(2027, 1, 1)
    assert settings.zone == ZoneInfo("Asia/Makassar")
    assert settings.age_min == 18


def test_an_empty_coverage_start_means_none(monkeypatch):
    monkeypatch.setenv("LANJUTKAN_COVERAGE_START", "")

    assert Settings().coverage_start is None


def test_settings_come_from_dot_env_and_the_environment_wins(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text(
        "LANJUTKAN_KABUPATEN=32.76\nLANJUTKAN_SECRET=from-dot-env-0123456789\nLANJUTKAN_COVERAGE_START=\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("LANJUTKAN_KABUPATEN", "12.17")

    settings = Settings()

    assert settings.kabupaten == "12.17"
    assert settings.secret is not None
    assert settings.secret.get_secret_value() == "from-dot-env-0123456789"
    assert settings.coverage_start is None


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "WIB", "Asia/Jakarta "])
def test_an_unknown_timezone_is_refused(monkeypatch, zone):
    monkeypatch.setenv("LANJUTKAN_TIMEZONE", zone)

    with pytest.raises(ValidationError, match="unknown timezone"):
        Settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [("LANJUTKAN_COVERAGE_START", "besok"), ("LANJUTKAN_AGE_MAX", "200"), ("LANJUTKAN_AGE_MIN", "-1")],
)
def test_malformed_values_are_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError):
        Settings()


def test_a_posix_tz_of_the_host_does_not_stop_the_bot(monkeypatch):
    monkeypatch.setenv("TZ", ":/etc/localtime")

    assert Settings().zone == ZoneInfo("Asia/Jakarta")


# -------------------------------------------------------------------------------------------- services


def settings_with(tmp_path, **values: object) -> Settings:  # type: ignore[no-untyped-def]
    base = Settings().model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"})
    return base.model_copy(update=values)


def config_error(settings: Settings, **kwargs: object) -> str:
    with pytest.raises(ConfigError) as refused:
        build_services(settings, **kwargs)  # type: ignore[arg-type]
    message = str(refused.value)
    assert "\n" not in message
    assert message.strip() == message
    return message


def test_a_missing_secret_is_a_one_line_error_saying_how_to_make_one(tmp_path):
    message = config_error(settings_with(tmp_path))

    assert message.startswith("LANJUTKAN_SECRET is not set")
    assert "secrets.token_urlsafe" in message


def test_a_short_secret_is_refused_without_echoing_it(tmp_path):
    message = config_error(settings_with(tmp_path, secret=SecretStr("pendek-sekali")))

    assert message.startswith("LANJUTKAN_SECRET is too weak")
    assert "16" in message
    assert "pendek-sekali" not in message


def test_a_short_secret_passed_directly_is_refused_too(tmp_path):
    assert "too weak" in config_error(settings_with(tmp_path), secret="short")


@pytest.mark.parametrize("code", ["99.99", "12.17.01", "samosir"])
def test_an_unknown_kabupaten_is_a_one_line_error(tmp_path, code):
    message = config_error(settings_with(tmp_path, kabupaten=code), secret=SECRET)

    assert message.startswith(f"LANJUTKAN_KABUPATEN={code} is not a kabupaten/kota code")


def test_age_limits_the_wrong_way_round_are_refused(tmp_path):
    message = config_error(settings_with(tmp_path, age_min=60, age_max=18), secret=SECRET)

    assert "LANJUTKAN_AGE_MIN" in message


async def test_good_settings_build_the_services(tmp_path):
    settings = settings_with(
        tmp_path,
        kabupaten="1217",
        coverage_start=dt.date(2027, 1, 1),
        age_min=18,
        age_max=60,
        timezone="Asia/Jakarta",
    )

    services = build_services(settings, secret=SECRET)
    try:
        assert services.kabupaten.name == "Kabupaten Samosir"
        assert services.ages == AgeLimits(minimum=18, maximum=60)
        assert services.effective_coverage_start() == dt.date(2027, 1, 1)
        assert services.timezone == ZoneInfo("Asia/Jakarta")
        assert services.unbound_reply_interval == dt.timedelta(minutes=5)
        token = services.vault.encrypt("1217011508900001")
        assert services.vault.decrypt(token) == "1217011508900001"
    finally:
        await services.close()


def test_the_schedule_settings_make_the_timetable(monkeypatch):
    """Defaults: Monday 08:00 and 09:00 daily, 3/7/7 days, 3 days of catch-up; a day in Indonesian works."""
    defaults = Settings().timetable()
    assert (defaults.summary_day, defaults.summary_at) == ("mon", dt.time(8))
    assert defaults.reminder_at == dt.time(9)
    assert (defaults.remind_after_days, defaults.escalate_after_days, defaults.fix_after_days) == (3, 7, 7)
    assert defaults.catch_up == dt.timedelta(days=3)
    assert Settings().scheduled_messages is True
    monkeypatch.setenv("LANJUTKAN_SUMMARY_DAY", "Jumat")
    monkeypatch.setenv("LANJUTKAN_SUMMARY_TIME", "15:30")
    monkeypatch.setenv("LANJUTKAN_CATCH_UP_DAYS", "0.5")
    monkeypatch.setenv("LANJUTKAN_SCHEDULED_MESSAGES", "false")
    settings = Settings()
    timetable = settings.timetable()
    assert (timetable.summary_day, timetable.summary_at) == ("fri", dt.time(15, 30))
    assert timetable.catch_up == dt.timedelta(hours=12)
    assert settings.scheduled_messages is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LANJUTKAN_SUMMARY_DAY", "someday"),
        ("LANJUTKAN_SUMMARY_TIME", "25:00"),
        ("LANJUTKAN_REMIND_AFTER_DAYS", "0"),
        ("LANJUTKAN_CATCH_UP_DAYS", "-1"),
        ("LANJUTKAN_CATCH_UP_DAYS", "7"),  # a week late would send two weeks' summaries an hour apart
    ],
)
def test_a_wrong_schedule_setting_is_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


async def test_the_daily_registry_limits_reach_the_services(monkeypatch, tmp_path):
    """Defaults leave room for 30 proposals a day with retypes; the environment changes them."""
    assert (Settings().registry_lookups_per_day, Settings().name_checks_per_day) == (50, 50)
    monkeypatch.setenv("LANJUTKAN_REGISTRY_LOOKUPS_PER_DAY", "20")
    monkeypatch.setenv("LANJUTKAN_NAME_CHECKS_PER_DAY", "0")
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")

    services = build_services(Settings(), secret=SECRET)
    try:
        assert (services.registry_lookups_per_day, services.name_checks_per_day) == (20, 0)
    finally:
        await services.close()


def test_whatsapp_is_off_until_configured_and_all_or_nothing(monkeypatch):
    settings = Settings()
    assert settings.channels() == []
    assert settings.whatsapp_missing() == []
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.whatsapp_api_url == "https://graph.facebook.com/v23.0"

    monkeypatch.setenv("WHATSAPP_TOKEN", "EAAG-synthetic")
    monkeypatch.setenv("WHATSAPP_PHONE_ID", "")  # an empty line of .env: left out
    half = Settings()
    assert half.channels() == ["whatsapp"]
    assert half.whatsapp_missing() == ["WHATSAPP_PHONE_ID", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN"]

    monkeypatch.setenv("WHATSAPP_PHONE_ID", "1234567890")
    monkeypatch.setenv("WHATSAPP_APP_SECRET", "synthetic-app-secret")
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", "synthetic-verify")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:synthetic")
    monkeypatch.setenv("WHATSAPP_API_URL", "http://127.0.0.1:9/v23.0/")
    both = Settings()
    assert both.channels() == ["telegram", "whatsapp"]
    assert both.whatsapp_missing() == []
    assert both.whatsapp_api_url == "http://127.0.0.1:9/v23.0"
    assert "synthetic" not in repr(both)  # secrets stay out of reprs and logs


def test_a_wrong_whatsapp_url_or_port_is_refused(monkeypatch):
    monkeypatch.setenv("WHATSAPP_API_URL", "graph.facebook.com")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.delenv("WHATSAPP_API_URL")
    monkeypatch.setenv("LANJUTKAN_PORT", "70000")
    with pytest.raises(ValidationError):
        Settings()
