"""`lanjutkan whatsapp templates [--create]` as the operator runs it (a subprocess), against the fake Cloud
API on loopback for --create."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.channels.whatsapp.templates import all_templates, creation_payload, template_for
from tests.e2e.test_run import base_env, cli
from tests.fakewhatsapp import FakeWhatsApp


def env_without_whatsapp() -> dict[str, str]:
    return {k: v for k, v in base_env().items() if not k.startswith("WHATSAPP_")}


@pytest.fixture
async def fake() -> AsyncIterator[FakeWhatsApp]:
    async with FakeWhatsApp() as server:
        yield server


async def test_templates_prints_every_template(tmp_path: Path) -> None:
    result = await cli("whatsapp", "templates", env=env_without_whatsapp(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for template in all_templates():
        assert f"{template.name} (id, UTILITY)" in result.stdout
        assert template.body in result.stdout
    assert result.stdout.count("button: Buka") == len(all_templates())
    assert template_for("card").body in result.stdout


async def test_create_submits_each_template_then_finds_them_there(fake: FakeWhatsApp, tmp_path: Path) -> None:
    env = env_without_whatsapp() | {
        "WHATSAPP_TOKEN": fake.token,
        "WHATSAPP_WABA_ID": fake.waba_id,
        "WHATSAPP_API_URL": fake.base_url,
    }
    first = await cli("whatsapp", "templates", "--create", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.count(": created (id ") == len(all_templates())
    for template in all_templates():
        stored = dict(fake.templates[(template.name, "id")])
        del stored["id"]
        assert stored == creation_payload(template)
    assert [a.method for a in fake.arrivals] == ["message_templates"] * len(all_templates())
    assert fake.token not in first.stdout + first.stderr

    again = await cli("whatsapp", "templates", "--create", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count(": already exists") == len(all_templates())


async def test_create_reports_refusals_and_exits_1(fake: FakeWhatsApp, tmp_path: Path) -> None:
    env = env_without_whatsapp() | {
        "WHATSAPP_TOKEN": "EAAwrong",
        "WHATSAPP_WABA_ID": fake.waba_id,
        "WHATSAPP_API_URL": fake.base_url,
    }
    result = await cli("whatsapp", "templates", "--create", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.count(": error 190") == len(all_templates())
    assert "Traceback" not in result.stdout + result.stderr
    assert fake.templates == {}


async def test_create_without_waba_id_is_one_line(fake: FakeWhatsApp, tmp_path: Path) -> None:
    env = env_without_whatsapp() | {"WHATSAPP_TOKEN": fake.token, "WHATSAPP_API_URL": fake.base_url}
    result = await cli("whatsapp", "templates", "--create", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: --create needs WHATSAPP_WABA_ID (not set)"]
    assert fake.arrivals == []
