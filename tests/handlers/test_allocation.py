"""The quota shared among kecamatan at Tetapkan: counted against the kecamatan and the kabupaten, a full
kecamatan refused with its figures, the dinas's override with a typed reason, the race for the last place,
and what the camat and the dinas see on cards and /rekap."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import select

from bot.channels.telegram import build_application
from handlers import chart, texts
from handlers.context import Services
from handlers.engine import Engine
from models import program_year
from models.db import is_sqlite
from models.rules.status import Status
from models.tables import AuditEvent, KecamatanAllocation, ProgramYear
from tests.conftest import SIMANINDO
from tests.fakebotapi import TOKEN, FakeBotApi
from tests.handlers.test_authorization import (
    BOTH_CHANNELS,
    ESTER,
    JONSON,
    MARIA,
    Driver,
    WhatsAppDriver,
    bind_everyone,
    bot,
    both_at_once,
    make_proposal,
    status_of,
    whatsapp_fakes,
)
from tests.offline import OfflineRequest

__all__ = ["bot", "whatsapp_fakes"]  # fixtures, imported for pytest

PANGURURAN = "12.17.08"


async def allocate(services: Services, quotas: dict[str, tuple[int, int]], *, year_quota: int = 10) -> None:
    """The year's figures and its allocation: kecamatan -> (quota, established)."""
    async with services.sessions() as session:
        session.add(ProgramYear(year=2026, new_quota=year_quota))
        await session.flush()
        for code, (quota, established) in quotas.items():
            session.add(
                KecamatanAllocation(year=2026, kecamatan_code=code, quota=quota, established=established)
            )
        await session.commit()


async def figures(services: Services) -> tuple[int, dict[str, tuple[int, int]]]:
    """(the kabupaten's established count, kecamatan -> (quota, established))."""
    async with services.sessions() as session:
        program = await session.get(ProgramYear, 2026, populate_existing=True)
        rows = await program_year.allocations(session, year=2026)
    assert program is not None
    return program.new_established, {code: (r.quota, r.established) for code, r in rows.items()}


async def audit_actions(services: Services, proposal_id: int) -> list[tuple[str, str | None]]:
    async with services.sessions() as session:
        rows = await session.exec(
            select(AuditEvent.action, AuditEvent.reason)
            .where(AuditEvent.proposal_id == proposal_id)
            .order_by(AuditEvent.id)  # type: ignore[arg-type]
        )
        return list(rows)


async def test_tetapkan_counts_against_the_kecamatan_and_the_kabupaten(services: Services, bot: Driver):
    officers = await bind_everyone(services)
    await allocate(services, {SIMANINDO: (2, 0), PANGURURAN: (3, 0)})
    proposal = await make_proposal(services, officers, Status.MENUNGGU_DINAS)
    assert proposal.id is not None
    await bot.card(MARIA, proposal.number)

    said = await bot.press(MARIA, f"d:{proposal.id}:est")

    assert "🏁 Ditetapkan oleh Diskopnaker Maria Naibaho" in said[0]
    assert "Kuota Kec. Simanindo 2026: 1 dari 2 ditetapkan, sisa 1" in said[0]  # the card shows it
    assert await figures(services) == (1, {SIMANINDO: (2, 1), PANGURURAN: (3, 0)})


@BOTH_CHANNELS
async def test_a_full_kecamatan_is_refused_with_figures_and_the_override_asks_a_reason(
    services: Services, bot: Driver | WhatsAppDriver
):
    officers = await bind_everyone(services, bot)
    await allocate(services, {SIMANINDO: (1, 1)})
    proposal = await make_proposal(services, officers, Status.MENUNGGU_DINAS)
    assert proposal.id is not None
    await bot.card(MARIA, proposal.number)

    refused = await bot.press(MARIA, f"d:{proposal.id}:est")

    assert refused[-1].startswith("Kuota Kec. Simanindo 2026 penuh: 1 dari 1 sudah ditetapkan.")
    assert await status_of(services, proposal.id) is Status.MENUNGGU_DINAS
    assert await figures(services) == (0, {SIMANINDO: (1, 1)})  # nothing counted, not even the kabupaten

    asked = await bot.press_label(MARIA, "Melebihi kuota")
    assert asked[-1] == texts.ask_override_reason(proposal.number, "Simanindo")
    too_short = await bot.say(MARIA, "ok")
    assert too_short == [texts.REASON_TOO_SHORT]
    done = await bot.say(MARIA, "Korban banjir bandang, disetujui Kepala Dinas")

    assert any("🏁 Ditetapkan oleh Diskopnaker Maria Naibaho" in text for text in done)
    assert any("⚠️ Melebihi kuota Kec. Simanindo 2026: 2 dari 1" in text for text in done)
    assert await status_of(services, proposal.id) is Status.DITETAPKAN
    assert await figures(services) == (1, {SIMANINDO: (1, 2)})
    assert (await audit_actions(services, proposal.id))[-2:] == [
        ("establish", None),
        ("override", "Korban banjir bandang, disetujui Kepala Dinas"),
    ]
    history = await bot.say(MARIA, f"/riwayat {proposal.number}")
    assert any(
        "menetapkan melebihi kuota kecamatan (alasan/catatan: Korban banjir bandang, disetujui Kepala Dinas)"
        in text
        for text in history
    )


async def test_the_override_is_the_dinas_only_and_a_camat_pressing_it_is_refused(
    services: Services, bot: Driver
):
    officers = await bind_everyone(services)
    await allocate(services, {SIMANINDO: (1, 1)})
    proposal = await make_proposal(services, officers, Status.MENUNGGU_DINAS)
    assert proposal.id is not None
    await bot.card(JONSON, proposal.number)

    said = await bot.press(JONSON, f"d:{proposal.id}:over")

    assert said == [texts.NOT_YOURS]
    assert await figures(services) == (0, {SIMANINDO: (1, 1)})
    assert await status_of(services, proposal.id) is Status.MENUNGGU_DINAS


async def test_a_year_without_allocations_keeps_establishing_as_before(services: Services, bot: Driver):
    officers = await bind_everyone(services)
    proposal = await make_proposal(services, officers, Status.MENUNGGU_DINAS)
    assert proposal.id is not None
    await bot.card(MARIA, proposal.number)

    said = await bot.press(MARIA, f"d:{proposal.id}:est")

    assert "🏁 Ditetapkan" in said[0]
    assert "Kuota Kec." not in said[0]
    async with services.sessions() as session:
        assert (await session.exec(select(KecamatanAllocation))).all() == []


def hold_both(monkeypatch: pytest.MonkeyPatch, services: Services) -> Callable[[], int]:
    """On PostgreSQL, the first two kecamatan takes wait for each other: both turns have read everything
    before either writes, so the guarded UPDATE (not luck) decides. SQLite runs turns one at a time."""
    calls = 0
    if is_sqlite(services.database_url):
        return lambda: calls
    original = program_year.take_kecamatan_place
    both = asyncio.Event()

    async def held(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            both.set()
        if calls <= 2:
            await asyncio.wait_for(both.wait(), 10)
        return await original(*args, **kwargs)

    monkeypatch.setattr(program_year, "take_kecamatan_place", held)
    return lambda: calls


async def test_two_dinas_press_tetapkan_for_the_kecamatans_last_place_at_once(
    services: Services, fake_api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
):
    """Simanindo has one place left: Maria and Ester establish two of its proposals together; one is
    established, the other is refused with the figures and waits."""
    application = build_application(
        Engine(dataclasses.replace(services)), token=TOKEN, base_url="http://offline/bot",
        request=OfflineRequest(fake_api), get_updates_request=OfflineRequest(fake_api),
    )  # fmt: skip
    await application.initialize()
    try:
        driver = Driver(application, fake_api)
        officers = await bind_everyone(services)
        await allocate(services, {SIMANINDO: (3, 2)}, year_quota=10)
        first = await make_proposal(services, officers, Status.MENUNGGU_DINAS, serial=1)
        second = await make_proposal(services, officers, Status.MENUNGGU_DINAS, serial=2, name="SITI AMINAH")
        assert first.id is not None
        assert second.id is not None
        await driver.card(MARIA, first.number)
        await driver.card(ESTER, second.number)
        held = hold_both(monkeypatch, services)

        maria, ester = await both_at_once(
            driver.press(MARIA, f"d:{first.id}:est"), driver.press(ESTER, f"d:{second.id}:est")
        )
    finally:
        await application.shutdown()

    statuses = {
        first.id: await status_of(services, first.id),
        second.id: await status_of(services, second.id),
    }
    assert sorted(statuses.values()) == sorted([Status.DITETAPKAN, Status.MENUNGGU_DINAS])
    winner, loser = (maria, ester) if statuses[first.id] is Status.DITETAPKAN else (ester, maria)
    assert "🏁 Ditetapkan oleh Diskopnaker" in winner[0]
    assert loser[-1].startswith("Kuota Kec. Simanindo 2026 penuh: 3 dari 3 sudah ditetapkan.")
    assert await figures(services) == (1, {SIMANINDO: (3, 3)})  # the loser took no kabupaten place either
    if not is_sqlite(services.database_url):
        assert held() == 2


async def test_rekap_shows_the_camat_their_allocation_and_the_dinas_every_kecamatan(
    services: Services, bot: Driver
):
    await bind_everyone(services)
    await allocate(services, {SIMANINDO: (25, 25), PANGURURAN: (40, 12)})

    camat = await bot.say(JONSON, "/rekap")
    dinas = await bot.say(MARIA, "/rekap")

    assert "Kuota Kec. Simanindo 2026: 25 dari 25 ditetapkan, penuh" in camat[0]
    assert "Pangururan" not in camat[0]
    assert "Kuota per kecamatan 2026 (ditetapkan / kuota):" in dinas[0]
    assert "• Pangururan: 12 / 40" in dinas[0]
    assert "• Simanindo: 25 / 25 (penuh)" in dinas[0]


async def test_the_summaries_show_the_allocations_and_the_chart_marks_them(
    services: Services, bot: Driver, fake_api: FakeBotApi
):
    await bind_everyone(services)
    await allocate(services, {SIMANINDO: (25, 20), PANGURURAN: (40, 41)})

    camat = "\n".join(await bot.say(JONSON, "/ringkasan"))
    dinas = "\n".join(await bot.say(MARIA, "/ringkasan"))

    assert "Kuota Kec. Simanindo 2026: 20 dari 25 ditetapkan, sisa 5" in camat
    assert "• Pangururan: 41 / 40 ⚠️" in dinas  # over its allocation (an override)
    assert "• Simanindo: 20 / 25" in dinas
    assert fake_api.photos  # the chart went out
    svg = chart.proposals_by_kecamatan(
        [("Simanindo", {}), ("Pangururan", {})], title="t", image_format="svg", quotas=[25, None]
    ).decode()
    assert texts.CHART_QUOTA in svg
    without = chart.proposals_by_kecamatan([("Simanindo", {})], title="t", image_format="svg").decode()
    assert texts.CHART_QUOTA not in without
