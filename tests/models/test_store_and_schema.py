"""The database on SQLite and PostgreSQL: roster upserts, the live-NIK unique index, and migrations."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, func, select

from models import store
from models.db import create_engine, session_maker
from models.migrate import alembic_config, upgrade
from models.rules.status import LIVE_STATUSES, Role, Status
from models.tables import Officer, OfficerCreate, Proposal
from tests.conftest import PgCluster, _create_pg_database

TOMOK = "12.17.01.2001"
NIK_HASH = "a" * 64  # stands for vault.hash(nik); these tests never need a NIK


@pytest.fixture
async def sessions(database_url: str):  # type: ignore[no-untyped-def]
    engine = create_engine(database_url)
    yield session_maker(engine)
    await engine.dispose()


async def count(sessions, model) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


# ---------------------------------------------------------------------------------------------- officers


async def test_upsert_officer_inserts_then_updates_by_phone(sessions):
    first = OfficerCreate(name="Rina Sitohang", role=Role.OPERATOR, region_code=TOMOK, phone="+6281200000101")
    async with sessions() as session:
        officer, created = await store.upsert_officer(session, data=first)
        await session.commit()
        officer_id, created_at = officer.id, officer.created_at
    assert created is True
    assert officer_id is not None

    moved = OfficerCreate(
        name="Rina Sitohang-Manik", role=Role.CAMAT, region_code="12.17.02", phone="+6281200000101"
    )
    async with sessions() as session:
        officer, created = await store.upsert_officer(session, data=moved)
        await session.commit()
    assert created is False
    assert officer.id == officer_id

    assert await count(sessions, Officer) == 1
    async with sessions() as session:
        stored = (await session.exec(select(Officer))).one()
    assert (stored.id, stored.name, stored.role, stored.region_code) == (
        officer_id,
        "Rina Sitohang-Manik",
        Role.CAMAT,
        "12.17.02",
    )
    assert stored.created_at == created_at
    assert stored.updated_at >= created_at


async def test_upsert_officer_keeps_other_officers_apart(sessions):
    roster = [
        OfficerCreate(name="Rina Sitohang", role=Role.OPERATOR, region_code=TOMOK, phone="+6281200000101"),
        OfficerCreate(name="Tigor Manik", role=Role.OPERATOR, region_code=TOMOK, phone="+6281200000102"),
    ]
    for _ in range(2):  # importing the same roster twice
        async with sessions() as session:
            for data in roster:
                await store.upsert_officer(session, data=data)
            await session.commit()

    async with sessions() as session:
        phones = (await session.exec(select(Officer.phone).order_by(Officer.phone))).all()
    assert phones == ["+6281200000101", "+6281200000102"]


async def test_the_database_refuses_a_second_officer_with_the_same_phone(sessions):
    async with sessions() as session:
        for name in ("Rina Sitohang", "Rina Kembar"):
            session.add(Officer(name=name, role=Role.OPERATOR, region_code=TOMOK, phone="+6281200000101"))
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_roles_are_stored_as_their_lowercase_values(sessions):
    async with sessions() as session:
        await store.upsert_officer(
            session,
            data=OfficerCreate(
                name="Jonson Simbolon", role=Role.CAMAT, region_code="12.17.01", phone="+6281200000201"
            ),
        )
        await session.commit()
        assert (await session.exec(text("SELECT role FROM officer"))).all() == [("camat",)]  # type: ignore[call-overload]


# -------------------------------------------------------------------------------------- live-NIK index


async def officer_id(sessions) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        officer, _ = await store.upsert_officer(
            session,
            data=OfficerCreate(
                name="Rina Sitohang", role=Role.OPERATOR, region_code=TOMOK, phone="+6281200000101"
            ),
        )
        await session.commit()
        assert officer.id is not None
        return officer.id


async def add_proposal(sessions, owner: int, status: Status, nik_hash: str = NIK_HASH) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        proposal = Proposal(
            officer_id=owner, desa_code=TOMOK, kecamatan_code="12.17.01", nik_hash=nik_hash, status=status
        )
        session.add(proposal)
        await session.commit()
        assert proposal.id is not None
        return proposal.id


async def test_a_second_live_proposal_of_a_nik_is_refused_unless_the_first_is_not_live(sessions):
    owner = await officer_id(sessions)
    for i, first in enumerate(Status):
        nik_hash = f"{i}" * 64  # one NIK per status of the first proposal
        await add_proposal(sessions, owner, first, nik_hash)

        if first in LIVE_STATUSES:
            with pytest.raises(IntegrityError):
                await add_proposal(sessions, owner, Status.MENUNGGU_CAMAT, nik_hash)
        else:
            await add_proposal(sessions, owner, Status.MENUNGGU_CAMAT, nik_hash)

    assert await count(sessions, Proposal) == len(Status) + 2  # draft and ditolak let a second one in


async def test_every_live_status_counts_for_the_second_proposal_too(sessions):
    owner = await officer_id(sessions)
    await add_proposal(sessions, owner, Status.DITETAPKAN)

    for second in sorted(LIVE_STATUSES):
        with pytest.raises(IntegrityError):
            await add_proposal(sessions, owner, second)
    for second in (Status.DRAFT, Status.DITOLAK):
        await add_proposal(sessions, owner, second)
    assert await count(sessions, Proposal) == 3


async def test_drafts_rejections_and_other_niks_live_side_by_side(sessions):
    owner = await officer_id(sessions)
    for status in (Status.DRAFT, Status.DRAFT, Status.DITOLAK, Status.DITOLAK, Status.MENUNGGU_DINAS):
        await add_proposal(sessions, owner, status)
    await add_proposal(sessions, owner, Status.MENUNGGU_DINAS, nik_hash="b" * 64)

    assert await count(sessions, Proposal) == 6


async def test_a_live_proposal_can_be_rejected_and_the_nik_proposed_again(sessions):
    owner = await officer_id(sessions)
    first = await add_proposal(sessions, owner, Status.MENUNGGU_CAMAT)
    async with sessions() as session:
        proposal = await session.get(Proposal, first)
        assert proposal is not None
        proposal.status = Status.DITOLAK
        session.add(proposal)
        await session.commit()

    await add_proposal(sessions, owner, Status.MENUNGGU_CAMAT)

    async with sessions() as session:
        live = await store.live_proposal_with_nik(session, nik_hash=NIK_HASH)
    assert live is not None
    assert live.id != first


async def test_statuses_are_stored_as_their_lowercase_values(sessions):
    owner = await officer_id(sessions)
    for i, status in enumerate(Status):
        await add_proposal(sessions, owner, status, nik_hash=f"{i}" * 64)

    async with sessions() as session:
        stored = (await session.exec(text("SELECT status FROM proposal ORDER BY id"))).all()  # type: ignore[call-overload]
    assert [row[0] for row in stored] == [s.value for s in Status]


async def test_live_proposal_with_nik_ignores_drafts_rejections_and_the_excluded_one(sessions):
    owner = await officer_id(sessions)
    await add_proposal(sessions, owner, Status.DRAFT)
    await add_proposal(sessions, owner, Status.DITOLAK)
    async with sessions() as session:
        assert await store.live_proposal_with_nik(session, nik_hash=NIK_HASH) is None

    live = await add_proposal(sessions, owner, Status.DIKEMBALIKAN)
    async with sessions() as session:
        found = await store.live_proposal_with_nik(session, nik_hash=NIK_HASH)
        assert found is not None
        assert found.id == live
        assert await store.live_proposal_with_nik(session, nik_hash=NIK_HASH, exclude_id=live) is None
        assert await store.live_proposal_with_nik(session, nik_hash="c" * 64) is None


# --------------------------------------------------------------------------------------------- migrations


async def migrate_and_compare(url: str) -> None:
    """Run the migrations on an empty database; the result must be exactly SQLModel.metadata."""
    await asyncio.to_thread(upgrade, url)

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata)
            )
            version = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
        assert differences == []
        assert version == ScriptDirectory.from_config(alembic_config(url)).get_current_head()

        # The partial unique index came through the migration with its WHERE clause.
        sessions = session_maker(engine)
        owner = await officer_id(sessions)
        await add_proposal(sessions, owner, Status.DRAFT)
        await add_proposal(sessions, owner, Status.MENUNGGU_CAMAT)
        with pytest.raises(IntegrityError):
            await add_proposal(sessions, owner, Status.MENUNGGU_DINAS)
    finally:
        await engine.dispose()

    await asyncio.to_thread(upgrade, url)  # upgrading an up-to-date database is a no-op


async def test_migrations_build_the_schema_of_the_models_on_sqlite(tmp_path: Path):
    await migrate_and_compare(f"sqlite:///{tmp_path / 'fresh' / 'lanjutkan.db'}")


@pytest.mark.postgres
async def test_migrations_build_the_schema_of_the_models_on_postgresql(pg_cluster: PgCluster | None):
    if pg_cluster is None:
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    url = await _create_pg_database(pg_cluster)

    await migrate_and_compare(url.replace("+asyncpg", ""))  # a plain URL, as people write DATABASE_URL
