"""The embedded demo: a seeded roster of three personas and the terminal channel."""

from __future__ import annotations

from bot.channels.terminal import CHANNEL, Persona, TerminalChannel, TerminalCourier
from handlers.context import Services
from handlers.engine import Engine
from models import store
from models.rules.status import Role
from models.tables import OfficerCreate
from scheduler.outbox import Limits, Outbox


def demo_roster(services: Services) -> list[tuple[Persona, OfficerCreate]]:
    """An operator of the kabupaten's first desa, the camat of its kecamatan, and a dinas officer."""
    kabupaten = services.kabupaten
    kecamatan = kabupaten.kecamatan[0]
    desa = next((d for d in kecamatan.desa if d.kind == "desa"), kecamatan.desa[0])
    # 0812-0000-xxxx numbers are synthetic; they are nobody's real phone on the roster.
    people = [
        ("operator", "Rina Demo", Role.OPERATOR, desa.code, "+6281200000001"),
        ("camat", "Jonson Demo", Role.CAMAT, kecamatan.code, "+6281200000002"),
        ("dinas", "Maria Demo", Role.DINAS, kabupaten.code, "+6281200000003"),
    ]
    return [
        (Persona(key, name, phone), OfficerCreate(name=name, role=role, region_code=code, phone=phone))
        for key, name, role, code, phone in people
    ]


async def seed_demo(services: Services) -> list[Persona]:
    """Put the demo personas on the roster (idempotent) and return them."""
    roster = demo_roster(services)
    async with services.sessions() as session:
        for _, officer in roster:
            await store.upsert_officer(session, data=officer)
        await session.commit()
    return [persona for persona, _ in roster]


async def run_demo(services: Services) -> None:
    personas = await seed_demo(services)
    courier = TerminalCourier()
    # The demo's outbox: cards and notices for the other personas wait in their mailboxes.
    outbox = Outbox(services, CHANNEL, courier, limits=Limits(per_second=1000, chat_interval=0.0))
    try:
        await TerminalChannel(
            Engine(services), personas, courier=courier, deliver=outbox.deliver_pending
        ).run()
    finally:
        await services.close()
