"""The year's figures (`lanjutkan program set`) govern the intake: ages and the desil limit."""

from __future__ import annotations

from handlers.context import Services
from models import store
from tests.conftest import OPERATOR_PHONE, synthetic_nik


async def set_figures(services: Services, **figures: int) -> None:
    async with services.sessions() as session:
        await store.set_program(session, year=2026, default_quota=320, figures=figures)
        await session.commit()


async def test_the_years_age_limits_apply_at_intake(chat, services: Services):
    """Ages 15-30 for the year: a worker born in 1990 (36 on the coverage start) is refused, saying so."""
    await set_figures(services, age_min=15, age_max=30)
    rina = chat(1001)
    await rina.onboard(OPERATOR_PHONE)
    await rina.say("/daftar")
    refused = await rina.say(synthetic_nik())
    assert "program hanya untuk umur 15–30 tahun" in refused[0].text
    younger = await rina.say(synthetic_nik(year=2000, serial=2))
    assert "terbaca" in younger[-1].text


async def test_without_the_years_ages_the_settings_apply(chat, services: Services):
    """A year with no age limits set keeps the configured 15-65."""
    await set_figures(services, budget=1_000_000)
    rina = chat(1001)
    await rina.onboard(OPERATOR_PHONE)
    await rina.say("/daftar")
    assert "terbaca" in (await rina.say(synthetic_nik()))[-1].text
