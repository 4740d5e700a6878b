"""/readyz, /metrics and JSON log lines, through the real FastAPI application (httpx's ASGI transport) and
the in-process WhatsApp channel (``tests.whatsapp_driver``)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from bot.cli import setup_logging
from bot.health import ChannelHealth, Health
from bot.logs import update_context
from bot.metrics import Metrics
from bot.server import Observability, build_server
from handlers.context import Services
from handlers.engine import Engine
from handlers.messages import Inbound
from models import store
from models.db import create_engine, session_maker
from models.migrate import upgrade
from models.tables import Delivery, OutboundMessage
from scheduler.outbox import RetryLater, Undeliverable
from tests.conftest import OPERATOR_PHONE, make_services, synthetic_nik
from tests.fakewhatsapp import APP_SECRET, TOKEN, VERIFY_TOKEN

OLDER_REVISION = "3f6c2a1d7e58"  # the outbox's replies: one migration behind the channel-neutral inbox


async def get(app: FastAPI, path: str, *, client: str = "127.0.0.1", **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(client, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://lanjutkan") as http:
        return await http.get(path, headers=headers)


async def migrated(tmp_path: Path, revision: str = "head") -> Services:
    """Services on a SQLite file brought to ``revision`` by alembic, as `lanjutkan db upgrade` does."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"
    await asyncio.to_thread(upgrade, url, revision)
    return make_services(url)


# ------------------------------------------------------------------------------------------- /readyz


async def test_readyz_is_200_at_the_current_schema_with_idle_channels(tmp_path):
    services = await migrated(tmp_path)
    idle = ChannelHealth("whatsapp", webhook=True)  # no call made yet: an idle bot is ready
    try:
        response = await get(build_server(services, health=Health([idle])), "/readyz")
    finally:
        await services.close()

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["database"] == {"ok": True}
    assert body["schema"] == {"ok": True, "current": True}
    assert body["channels"]["whatsapp"]["ok"] is True
    assert body["channels"]["whatsapp"]["last_webhook"] is None


async def test_readyz_is_503_when_the_database_does_not_answer(services, tmp_path):
    gone = create_engine(f"postgresql+asyncpg://nobody:wrong@127.0.0.1:9/{tmp_path.name}")
    broken = dataclasses.replace(services, sessions=session_maker(gone))
    try:
        response = await get(build_server(broken), "/readyz")
    finally:
        await gone.dispose()

    assert response.status_code == 503
    assert response.json()["database"] == {"ok": False}
    assert "wrong" not in response.text  # no connection details in the answer


async def test_readyz_is_503_while_the_schema_is_behind(tmp_path):
    services = await migrated(tmp_path, OLDER_REVISION)
    try:
        response = await get(build_server(services), "/readyz")
    finally:
        await services.close()

    assert response.status_code == 503
    body = response.json()
    assert body["database"] == {"ok": True}
    assert body["schema"] == {"ok": False, "current": False}


async def test_readyz_is_503_once_a_channels_calls_fail_past_the_threshold(tmp_path):
    now = [1000.0]
    channel = ChannelHealth("telegram", clock=lambda: now[0])
    services = await migrated(tmp_path)
    app = build_server(services, health=Health([channel], stale_after=300))
    try:
        channel.api_ok()
        now[0] += 100
        channel.api_failed()  # failing for a while only: still ready
        assert (await get(app, "/readyz")).status_code == 200
        now[0] += 250  # 350 s since the last call that worked, failures since
        response = await get(app, "/readyz")
        assert response.status_code == 503
        assert response.json()["channels"]["telegram"]["ok"] is False
        channel.api_ok()  # one success is enough
        assert (await get(app, "/readyz")).status_code == 200
    finally:
        await services.close()


async def test_a_channels_marks_follow_the_couriers_sorted_errors():
    channel = ChannelHealth("whatsapp")
    for refusal in (Undeliverable("not_on_whatsapp"), RetryLater("130429", flood=True)):
        with pytest.raises(type(refusal)):
            async with channel.watch():
                raise refusal
        assert channel.last_failed is None  # the API answered
    with pytest.raises(RetryLater):
        async with channel.watch():
            raise RetryLater("network")
    assert channel.last_failed is not None


# ------------------------------------------------------------------------------------------ /metrics


@pytest.fixture
def metrics(services: Services) -> Iterator[Metrics]:
    """This test's registry, attached to the services as the runtime attaches its own."""
    registry = Metrics(services, ["whatsapp"])
    services.events.attach(registry)
    yield registry
    services.events.attach(None)


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus's text format (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        metric, _, rest = key.partition("{")
        if metric == name and ",".join(sorted(rest.rstrip("}").split(","))) == wanted:
            return float(value)
    return 0.0


async def test_metrics_count_the_updates_the_sends_and_the_handling_time(services, metrics, whatsapp):
    rina = whatsapp.person(OPERATOR_PHONE)
    await rina.onboard()
    await rina.say("/bantuan")
    duplicate = whatsapp.fake.text_update(rina.wa_id, "Halo")
    await whatsapp.deliver(duplicate)
    await whatsapp.deliver(duplicate)  # Meta delivers again: recorded once, not handled twice

    response = await get(build_server(services, metrics=metrics), "/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert sample(text, "lanjutkan_updates_total", channel="whatsapp", outcome="answered") == 3
    assert sample(text, "lanjutkan_updates_total", channel="whatsapp", outcome="failed") == 0
    assert sample(text, "lanjutkan_update_seconds_count", channel="whatsapp") == 3
    assert sample(text, "lanjutkan_sends_total", channel="whatsapp", result="ok") >= 3
    assert sample(text, "lanjutkan_outbox_queue", channel="whatsapp") == 0
    assert "lanjutkan_outbox_oldest_seconds" in text
    assert "lanjutkan_database_errors_total" in text or "lanjutkan_database_errors" in text


async def test_metrics_count_an_update_claimed_before_as_a_duplicate(services, metrics):
    engine = Engine(services)
    async with services.sessions() as session:  # in the inbox, as the channel records it on arrival
        await store.record_inbound(
            session, channel="whatsapp", updates=[("u-1", "{}", "ID.1"), ("u-2", "{}", "ID.1")]
        )
        await session.commit()
    hello = Inbound.from_text(channel="whatsapp", user_id="1", chat_id="1", text="Halo", update_id="u-1")
    await engine.answer(hello)
    await engine.answer(hello)
    await engine.mark_handled("whatsapp", "u-2")

    text = (await get(build_server(services, metrics=metrics), "/metrics")).text
    assert sample(text, "lanjutkan_updates_total", channel="whatsapp", outcome="answered") == 1
    assert sample(text, "lanjutkan_updates_total", channel="whatsapp", outcome="duplicate") == 1
    assert sample(text, "lanjutkan_updates_total", channel="whatsapp", outcome="ignored") == 1


async def test_metrics_sort_sends_into_ok_retried_rate_limited_and_failed(services, metrics):
    for failure in (None, RetryLater("network"), RetryLater("429"), RetryLater("131056"), Undeliverable("x")):
        services.events.sent("telegram", failure)

    text = (await get(build_server(services, metrics=metrics), "/metrics")).text
    counts = {r: sample(text, "lanjutkan_sends_total", channel="telegram", result=r) for r in
              ("ok", "retried", "rate_limited", "failed")}  # fmt: skip
    assert counts == {"ok": 1, "retried": 1, "rate_limited": 2, "failed": 1}


async def test_the_outbox_gauges_count_what_is_not_sent_and_the_oldest_age(services, metrics):
    now = dt.datetime.now(dt.UTC)
    async with services.sessions() as session:
        for age, status in ((600, Delivery.PENDING), (60, Delivery.WAITING), (900, Delivery.SENT)):
            created = now - dt.timedelta(seconds=age)
            session.add(
                OutboundMessage(channel="whatsapp", chat_id="1", text="x", status=status, created_at=created)
            )
        await session.commit()

    text = (await get(build_server(services, metrics=metrics), "/metrics")).text
    assert sample(text, "lanjutkan_outbox_queue", channel="whatsapp") == 2
    assert 600 <= sample(text, "lanjutkan_outbox_oldest_seconds", channel="whatsapp") < 700


async def test_metrics_refuse_other_clients_and_proxied_requests(services, metrics):
    app = build_server(services, metrics=metrics)

    assert (await get(app, "/metrics", client="203.0.113.7")).status_code == 403
    assert (await get(app, "/metrics", **{"X-Forwarded-For": "203.0.113.7"})).status_code == 403
    assert (await get(app, "/metrics", client="::1")).status_code == 200

    allowing = build_server(
        services, metrics=metrics, observability=Observability(metrics_allow=("10.0.0.0/8",))
    )
    assert (await get(allowing, "/metrics", client="10.1.2.3")).status_code == 200
    assert (await get(allowing, "/metrics", client="127.0.0.1")).status_code == 403


async def test_metrics_switched_off_are_not_served(services, metrics):
    app = build_server(services, metrics=metrics, observability=Observability(metrics=False))

    assert (await get(app, "/metrics")).status_code == 404


# ------------------------------------------------------------------------------------------ JSON logs


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The process's logging as ``lanjutkan run`` sets it with LANJUTKAN_LOG_FORMAT=json, into a buffer."""
    stream = io.StringIO()
    setup_logging("INFO", stream, json_lines=True)
    yield stream
    logging.basicConfig(force=True, handlers=[logging.NullHandler()])
    logging.getLogger().setLevel(logging.WARNING)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_lines_carry_time_level_logger_and_the_update(json_logs):
    log = logging.getLogger("lanjutkan.test")
    log.info("outside an update")
    with update_context("telegram", "4711"):
        log.warning("inside %s", "an update")

    first, second = lines(json_logs)
    assert set(first) == {"time", "level", "logger", "message"}
    assert str(first["time"]).endswith("+00:00")
    assert second | {"time": None} == {
        "time": None,
        "level": "WARNING",
        "logger": "lanjutkan.test",
        "message": "inside an update",
        "channel": "telegram",
        "update_id": "4711",
    }


async def test_json_lines_of_a_failing_update_name_it_and_never_a_nik_or_a_token(
    services, metrics, whatsapp, json_logs, monkeypatch
):
    nik = synthetic_nik(serial=42)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"failed on {nik} with {TOKEN}")  # a careless message: never logged

    rina = whatsapp.person(OPERATOR_PHONE)
    await rina.onboard()
    monkeypatch.setattr(Engine, "_attempt", broken)
    await rina.say(nik)
    logging.getLogger("lanjutkan.test").error("a careless line quoting %s", nik)  # the filter masks it

    text = json_logs.getvalue()
    failed = [line for line in lines(json_logs) if "failed" in str(line["message"])]
    assert failed
    assert failed[0]["channel"] == "whatsapp"
    assert str(failed[0]["update_id"]).startswith("wamid.")
    for secret in (nik, TOKEN, APP_SECRET, VERIFY_TOKEN):
        assert secret not in text
    metrics_text = (await get(build_server(services, metrics=metrics), "/metrics")).text
    assert sample(metrics_text, "lanjutkan_updates_total", channel="whatsapp", outcome="failed") == 1


# ------------------------------------------------------------------------------------------- settings


def test_the_settings_of_readiness_metrics_and_logs(monkeypatch, tmp_path):
    from pydantic import ValidationError

    from bot.settings import Settings

    monkeypatch.chdir(tmp_path)  # no .env of the machine
    for name in ("LANJUTKAN_LOG_FORMAT", "LANJUTKAN_METRICS", "LANJUTKAN_METRICS_ALLOW"):
        monkeypatch.delenv(name, raising=False)
    defaults = Settings()
    assert defaults.log_format == "text"
    assert defaults.observability() == Observability(metrics=True, metrics_allow=("127.0.0.1", "::1"))

    monkeypatch.setenv("LANJUTKAN_LOG_FORMAT", "JSON")
    monkeypatch.setenv("LANJUTKAN_METRICS", "false")
    monkeypatch.setenv("LANJUTKAN_METRICS_ALLOW", "10.0.0.0/8, 192.168.1.5")
    monkeypatch.setenv("LANJUTKAN_READY_FAILING_AFTER", "60")
    settings = Settings()
    assert settings.log_format == "json"
    assert settings.observability() == Observability(
        metrics=False, metrics_allow=("10.0.0.0/8", "192.168.1.5"), stale_after=60
    )

    monkeypatch.setenv("LANJUTKAN_METRICS_ALLOW", "everyone")
    with pytest.raises(ValidationError, match="not an IP address or network"):
        Settings()


def test_the_outboxs_outcomes_as_send_results():
    from bot.metrics import send_result
    from scheduler.outbox import _failure

    assert send_result(_failure("sent", "wamid.1")) == "ok"
    assert send_result(_failure("template", None)) == "ok"
    assert send_result(_failure("retry", RetryLater("130429"))) == "rate_limited"
    assert send_result(_failure("retry", RetryLater("timeout"))) == "retried"
    assert send_result(_failure("failed", RetryLater("timeout"))) == "failed"  # its last attempt
    assert send_result(_failure("unreachable", "not_on_whatsapp")) == "failed"
