"""Shared fixtures: databases (SQLite always, PostgreSQL when its server binaries exist), services,
a roster, and the real PTB Application wired to an offline fake Bot API."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import SQLModel
from telegram import Update
from telegram.ext import Application

import models.tables  # noqa: F401  (tables on the metadata)
from bot.channels.telegram import Lifecycle, TelegramCourier, build_application
from handlers.context import Services
from handlers.engine import Engine
from models import store
from models.crypto import NikVault
from models.db import create_engine, session_maker
from models.regions import load_kabupaten
from models.rules.status import Role, Status
from models.tables import OfficerCreate, Proposal
from scheduler.outbox import Limits, Outbox
from tests.fakebotapi import TOKEN, FakeBotApi, SentMessage
from tests.offline import OfflineRequest
from tests.pgcluster import throwaway_cluster

WIB = ZoneInfo("Asia/Jakarta")
# The tests' "now": a Tuesday morning in Samosir, so ages and coverage start are fixed.
NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=WIB)
SECRET = "test-secret-" + "x" * 20

# Synthetic roster (0812-0000-xxxx numbers are not real people's).
TOMOK = "12.17.01.2001"  # Desa Tomok, Kec. Simanindo
SIMANINDO = "12.17.01"
PANGURURAN_DESA = "12.17.08.2001"
OPERATOR_PHONE = "+6281200000101"
OPERATOR2_PHONE = "+6281200000102"  # another operator in Tomok
OPERATOR_OTHER_PHONE = "+6281200000103"  # an operator in Pangururan
CAMAT_PHONE = "+6281200000201"
DINAS_PHONE = "+6281200000301"

ROSTER = [
    OfficerCreate(name="Rina Sitohang", role=Role.OPERATOR, region_code=TOMOK, phone=OPERATOR_PHONE),
    OfficerCreate(name="Tigor Manik", role=Role.OPERATOR, region_code=TOMOK, phone=OPERATOR2_PHONE),
    OfficerCreate(
        name="Lamria Sinaga", role=Role.OPERATOR, region_code=PANGURURAN_DESA, phone=OPERATOR_OTHER_PHONE
    ),
    OfficerCreate(name="Jonson Simbolon", role=Role.CAMAT, region_code=SIMANINDO, phone=CAMAT_PHONE),
    OfficerCreate(name="Maria Naibaho", role=Role.DINAS, region_code="12.17", phone=DINAS_PHONE),
]


# Kabupaten Samosir's published 2026 figures, as `lanjutkan program set` would store them.
SAMOSIR_2026: dict[str, Any] = {
    "budget": 395_904_000, "new_quota": 320, "jkk_per_month": 10_000, "jkm_per_month": 6_800,
    "coverage_start": dt.date(2026, 1, 1),
}  # fmt: skip


def synthetic_nik(
    *,
    district: str = "121701",
    day: int = 15,
    month: int = 8,
    year: int = 1990,
    female: bool = False,
    serial: int = 1,
) -> str:
    """A structurally valid NIK made up by the test (never a real person's)."""
    return f"{district}{day + (40 if female else 0):02d}{month:02d}{year % 100:02d}{serial:04d}"


# ------------------------------------------------------------------------------------------- PostgreSQL


@dataclass
class PgCluster:
    url: str  # postgresql+asyncpg://.../postgres
    admin_dsn: str


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster | None]:
    """A throwaway PostgreSQL cluster on loopback, or None when the server binaries are not installed."""
    if os.environ.get("LANJUTKAN_TEST_DATABASE_URL"):
        url = os.environ["LANJUTKAN_TEST_DATABASE_URL"]
        yield PgCluster(url=url, admin_dsn=url.replace("+asyncpg", ""))
        return
    with throwaway_cluster() as url:
        yield None if url is None else PgCluster(url=url, admin_dsn=url.replace("+asyncpg", ""))


async def _create_pg_database(cluster: PgCluster) -> str:
    import asyncpg

    name = f"t_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(cluster.admin_dsn)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return cluster.url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database with the current schema: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    else:
        cluster = request.getfixturevalue("pg_cluster")
        if cluster is None:
            pytest.skip(
                "no PostgreSQL server to start: install its binaries (apt-get install postgresql); "
                "as root, a 'postgres' user is needed too"
            )
        url = await _create_pg_database(cluster)
    await create_schema(url)
    return url


async def create_schema(url: str) -> None:
    """The current tables on an empty database (the migrations are tested against this separately)."""
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all)
    await engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


# ------------------------------------------------------------------------------------------ services


def make_services(url: str, *, now: dt.datetime = NOW) -> Services:
    return Services(
        sessions=session_maker(create_engine(url)),
        vault=NikVault(SECRET),
        kabupaten=load_kabupaten("12.17"),
        timezone=WIB,
        admin_contact="admin Diskopnaker Kabupaten Samosir",
        clock=lambda: now,
    )


async def seed_roster(services: Services, roster: list[OfficerCreate] = ROSTER) -> None:
    async with services.sessions() as session:
        for officer in roster:
            await store.upsert_officer(session, data=officer)
        await session.commit()


@pytest.fixture
async def services(database_url: str) -> AsyncIterator[Services]:
    """Services on a fresh database (SQLite and PostgreSQL) with the synthetic roster."""
    built = make_services(database_url)
    await seed_roster(built)
    yield built
    await built.close()


# ---------------------------------------------------------------------------------- the PTB application


async def replies_recorded(app: Application) -> None:  # type: ignore[type-arg]
    """Wait until the replies the application sent are recorded as sent (written in the background, with
    the next turn or after a short quiet), so a test reads the database as it settles."""
    lifecycle = getattr(app.post_init, "__self__", None)
    if isinstance(lifecycle, Lifecycle):
        await lifecycle.direct.receipts.drain()


@dataclass
class Chat:
    """Drives the real PTB Application as one Telegram user would, through ``process_update``."""

    app: Application  # type: ignore[type-arg]
    api: FakeBotApi
    user_id: int
    seen: int = field(default=0)
    typed: list[int] = field(default_factory=list)  # the ids of the messages this user typed, in order

    async def _run(self, update: dict[str, Any]) -> list[SentMessage]:
        await self.app.process_update(Update.de_json(update, self.app.bot))
        await replies_recorded(self.app)
        new = self.api.messages_to(self.user_id)[self.seen :]
        self.seen += len(new)
        return new

    async def say(self, text: str) -> list[SentMessage]:
        """Send a text; return the messages the bot sent back."""
        update = self.api.text_update(self.user_id, text)
        self.typed.append(update["message"]["message_id"])
        return await self._run(update)

    async def share_contact(self, phone: str, contact_user_id: int | None = None) -> list[SentMessage]:
        return await self._run(self.api.contact_update(self.user_id, phone, contact_user_id))

    async def sticker(self) -> list[SentMessage]:
        return await self._run(self.api.sticker_update(self.user_id))

    async def press(self, label_part: str, message: SentMessage | None = None) -> list[SentMessage]:
        """Press the button whose label contains ``label_part`` on the last message with buttons."""
        message = message or self.last_with_buttons()
        return await self._run(
            self.api.press_update(self.user_id, message, message.button(label_part)["callback_data"])
        )

    async def press_data(self, data: str, message: SentMessage | None = None) -> list[SentMessage]:
        """Press a button with arbitrary (possibly forged) callback data."""
        message = message or self.api.messages_to(self.user_id)[-1]
        return await self._run(self.api.press_update(self.user_id, message, data))

    def last_with_buttons(self) -> SentMessage:
        for message in reversed(self.api.messages_to(self.user_id)):
            if message.buttons:
                return message
        raise AssertionError("the bot has shown this user no buttons")

    async def onboard(self, phone: str) -> list[SentMessage]:
        await self.say("/start")
        return await self.share_contact(phone)


@pytest.fixture
def fake_api() -> FakeBotApi:
    return FakeBotApi()


@pytest.fixture
async def app(services: Services, fake_api: FakeBotApi) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """The production Telegram application over the offline fake Bot API."""
    application = build_application(
        Engine(services), token=TOKEN, base_url="http://offline/bot", request=OfflineRequest(fake_api),
        get_updates_request=OfflineRequest(fake_api),
    )  # fmt: skip
    await application.initialize()
    yield application
    await application.shutdown()


@pytest.fixture
def chat(app: Application, fake_api: FakeBotApi) -> Any:  # type: ignore[type-arg]
    """A factory of simulated Telegram users: ``chat(1001)``."""
    return lambda user_id: Chat(app, fake_api, user_id)


# ---------------------------------------------------------------------------------------------- outbox

FAST = Limits(per_second=10_000, chat_interval=0.0, backoff_first=0.01, idle_poll=0.05, lease_ttl=5.0)


@pytest.fixture
def outbox(services: Services, app: Application) -> Outbox:  # type: ignore[type-arg]
    """The outbox worker sending through the offline application's bot; ``await outbox.deliver_pending()``."""
    return Outbox(services, "telegram", TelegramCourier(app.bot), limits=FAST)


def sent_proposal(
    services: Services, *, officer_id: int, nik: str, desa: str = TOMOK, **fields: Any
) -> Proposal:
    """A proposal of a synthetic worker as intake leaves it once sent (a 1990 man, petani), NIK encrypted
    and hashed with the services' vault; ``fields`` override (status, name, decided_at, ...)."""
    values: dict[str, Any] = {
        "officer_id": officer_id,
        "desa_code": desa,
        "kecamatan_code": desa[:8],
        "status": Status.MENUNGGU_CAMAT,
        "name": "BUDI SANTOSO",
        "birth_date": dt.date(1990, 8, 15),
        "gender": "L",
        "category": "petani",
        "address": "Dusun I",
        "nik_encrypted": services.vault.encrypt(nik),
        "nik_hash": services.vault.hash(nik),
        "submitted_at": NOW,
    }
    return Proposal(**(values | fields))


# -------------------------------------------------------------------------------------------- WhatsApp


@pytest.fixture
async def whatsapp(services: Services) -> AsyncIterator[Any]:
    """The real WhatsApp channel in process, over the fake Cloud API: a ``tests.whatsapp_driver.
    WhatsAppDriver`` (webhooks posted through the ASGI transport, each answered before ``post`` returns)."""
    from tests.whatsapp_driver import whatsapp_driver

    async for driver in whatsapp_driver(services):
        yield driver
