"""`lanjutkan secret rotate`: interrupted and resumed, every value under the new secret, lookups meanwhile."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlmodel import select

from handlers.context import Services
from models import store
from models.crypto import NikVault
from models.rotation import RotationError, rotate_secret
from models.rules.status import Status
from models.tables import (
    ActiveParticipant,
    InboundUpdate,
    Officer,
    OutboundMessage,
    Proposal,
    RegistryBatch,
    SecretRotation,
    VerificationItem,
    VerificationRound,
)
from tests.conftest import SECRET, SIMANINDO, TOMOK, synthetic_nik

NEW_SECRET = "new-test-secret-" + "y" * 20
NIKS = [synthetic_nik(serial=100 + i) for i in range(7)]
PARTICIPANT_NIKS = [synthetic_nik(serial=200 + i) for i in range(3)]
REGISTRY_NIK = synthetic_nik(serial=300)


async def seed(services: Services, old: NikVault) -> None:
    """Rows of every kind under the old secret: proposals (one returned), participants, inbox, outbox."""
    async with services.sessions() as session:
        officer_id = (await session.exec(select(Officer.id))).first()
        assert officer_id is not None
        for i, nik in enumerate(NIKS):
            session.add(
                Proposal(
                    desa_code=TOMOK,
                    kecamatan_code=SIMANINDO,
                    officer_id=officer_id,
                    status=Status.DIKEMBALIKAN if i == 0 else Status.MENUNGGU_CAMAT,
                    nik_encrypted=old.encrypt(nik),
                    nik_hash=old.hash(nik),
                    returned_values={"nik": old.hash(nik), "name": "X"} if i == 0 else None,
                )
            )
        for nik in PARTICIPANT_NIKS:
            session.add(
                ActiveParticipant(
                    nik_hash=old.hash(nik), nik_encrypted=old.encrypt(nik), name="Peserta",
                    desa_code=TOMOK, category="petani", coverage_start=dt.date(2026, 1, 1),
                )
            )  # fmt: skip
        for i in range(5):
            payload = old.encrypt(json.dumps({"text": NIKS[i % len(NIKS)]}))
            session.add(InboundUpdate(channel="telegram", update_id=str(i), payload=payload))
        session.add(
            OutboundMessage(channel="telegram", chat_id="1", text="", reply=True, payload=old.encrypt("[]"))
        )
        session.add(OutboundMessage(channel="telegram", chat_id="1", text="sent"))  # no payload: untouched
        verification = VerificationRound(year=2027, due=dt.date(2027, 1, 31))
        session.add(verification)
        await session.flush()
        assert verification.id is not None
        session.add(
            VerificationItem(
                round_id=verification.id, nik_hash=old.hash(PARTICIPANT_NIKS[0]),
                nik_encrypted=old.encrypt(PARTICIPANT_NIKS[0]), name="Peserta", desa_code=TOMOK,
                kecamatan_code=SIMANINDO, category="petani", coverage_start=dt.date(2026, 1, 1),
            )
        )  # fmt: skip
        batch = await store.start_registry_batch(
            session, source="dtsen", file_name="dtsen.csv"
        )  # legacy: no key
        rows = [{"batch_id": batch, "source": "dtsen", "nik_hash": old.hash(REGISTRY_NIK), "name": "Budi",
                 "desil": 3, "desa_code": None}]  # fmt: skip
        await store.add_registry_rows(session, rows=rows)
        await store.activate_registry_batch(session, source="dtsen", batch_id=batch, rows=1)
        await session.commit()


async def lookups_find_everything(services: Services, vault: NikVault) -> None:
    """What intake asks, with the NIK's hashes: every proposal, participant and registry row is found."""
    async with services.sessions() as session:
        for nik in NIKS:
            assert await store.live_proposal_with_nik(session, nik_hash=vault.hashes(nik)) is not None
        for nik in PARTICIPANT_NIKS:
            assert await store.is_active_participant(session, nik_hash=vault.hashes(nik))
        assert await store.registry_matches(session, nik_hash=vault.hashes(REGISTRY_NIK))
        assert await store.imported_registries(session, key_ids=vault.key_ids) == ("dtsen",)


async def test_rotation_interrupted_then_resumed_leaves_everything_under_the_new_secret(services: Services):
    old = NikVault(SECRET)
    await seed(services, old)
    rotating = NikVault(NEW_SECRET, SECRET)

    first = await rotate_secret(services.sessions, rotating, batch=3, stop_after=2)
    assert not first.finished
    assert first.changed == {"proposal": 6}  # two batches of three proposals
    async with services.sessions() as session:
        [state] = (await session.exec(select(SecretRotation))).all()
        assert state.name == "proposal"
        assert state.finished_at is None
        assert state.last_id == 6
    # Half rotated: proposals under either hash are found, so a duplicate is still a duplicate.
    await lookups_find_everything(services, rotating)
    async with services.sessions() as session:
        hashes = set((await session.exec(select(Proposal.nik_hash))).all())
    assert rotating.hash(NIKS[0]) in hashes
    assert old.hash(NIKS[-1]) in hashes

    second = await rotate_secret(services.sessions, rotating, batch=3)
    assert second.finished
    assert second.changed == {
        "proposal": 1, "activeparticipant": 3, "inboundupdate": 5, "outboundmessage": 1,
        "proposal_kpj": 0, "activeparticipant_kpj": 0, "verificationitem": 1,
    }  # fmt: skip
    async with services.sessions() as session:
        [item] = (await session.exec(select(VerificationItem))).all()
    fresh = NikVault(NEW_SECRET)  # the old secret dropped: the snapshot's NIK still reads, its hash is new
    assert fresh.decrypt(item.nik_encrypted) == PARTICIPANT_NIKS[0]
    assert item.nik_hash == fresh.hash(PARTICIPANT_NIKS[0])
    # The registry cannot be re-keyed (no NIKs stored): reported, its batch marked with the old key.
    assert [(r.source, r.rows) for r in second.stale_registries] == [("dtsen", 1)]

    new = NikVault(NEW_SECRET)  # the new secret alone, as after LANJUTKAN_SECRET_OLD is removed
    async with services.sessions() as session:
        proposals = (await session.exec(select(Proposal).order_by(Proposal.id))).all()
        assert [new.decrypt(p.nik_encrypted or "") for p in proposals] == NIKS
        assert [p.nik_hash for p in proposals] == [new.hash(n) for n in NIKS]
        assert len({p.nik_hash for p in proposals}) == len(NIKS)
        assert proposals[0].returned_values == {"nik": new.hash(NIKS[0]), "name": "X"}
        participants = (await session.exec(select(ActiveParticipant).order_by(ActiveParticipant.id))).all()
        assert [new.decrypt(p.nik_encrypted) for p in participants] == PARTICIPANT_NIKS
        assert [p.nik_hash for p in participants] == [new.hash(n) for n in PARTICIPANT_NIKS]
        for update in (await session.exec(select(InboundUpdate))).all():
            assert json.loads(new.decrypt(update.payload))["text"] in NIKS
        payloads = [m.payload for m in (await session.exec(select(OutboundMessage))).all()]
        assert [new.decrypt(p) for p in payloads if p] == ["[]"]
        [registry] = (await session.exec(select(RegistryBatch))).all()
        assert registry.hash_key == old.key_id
        for nik in NIKS:
            assert await store.live_proposal_with_nik(session, nik_hash=new.hashes(nik)) is not None
        # Under the new secret alone the stale registry is not offered as imported (its "not found"
        # would be false), until it is imported again.
        assert await store.imported_registries(session, key_ids=new.key_ids) == ()

    again = await rotate_secret(services.sessions, rotating, batch=3)  # finished: nothing to do
    assert again.finished
    assert sum(again.changed.values()) == 0


async def test_a_second_rotation_starts_over_and_an_idempotent_row_is_left_alone(services: Services):
    old = NikVault(SECRET)
    await seed(services, old)
    await rotate_secret(services.sessions, NikVault(NEW_SECRET, SECRET), batch=4)
    third = "third-test-secret-" + "z" * 20
    report = await rotate_secret(services.sessions, NikVault(third, NEW_SECRET), batch=4)
    assert report.finished
    assert report.changed["proposal"] == len(NIKS)
    final = NikVault(third)
    async with services.sessions() as session:
        proposals = (await session.exec(select(Proposal).order_by(Proposal.id))).all()
        assert [final.decrypt(p.nik_encrypted or "") for p in proposals] == NIKS


async def test_rows_written_by_the_bot_during_the_rotation_are_already_new_and_kept(services: Services):
    old = NikVault(SECRET)
    await seed(services, old)
    rotating = NikVault(NEW_SECRET, SECRET)
    await rotate_secret(services.sessions, rotating, batch=2, stop_after=1)
    other = synthetic_nik(serial=400)
    async with services.sessions() as session:  # the bot, with both secrets, changes a NIK not yet rotated
        last = (await session.exec(select(Proposal).order_by(Proposal.id.desc()))).first()  # type: ignore[union-attr]
        assert last is not None
        last.nik_encrypted, last.nik_hash = rotating.encrypt(other), rotating.hash(other)
        session.add(last)
        await session.commit()
    report = await rotate_secret(services.sessions, rotating, batch=2)
    assert report.changed["proposal"] == len(NIKS) - 2 - 1
    async with services.sessions() as session:
        last = (await session.exec(select(Proposal).order_by(Proposal.id.desc()))).first()  # type: ignore[union-attr]
        assert last is not None
        assert NikVault(NEW_SECRET).decrypt(last.nik_encrypted or "") == other


async def test_a_value_under_neither_secret_stops_the_rotation_with_one_line(services: Services):
    stranger = NikVault("someone-elses-secret-" + "q" * 10)
    await seed(services, stranger)
    with pytest.raises(RotationError, match=r"^proposal 1: cannot be decrypted with either secret$"):
        await rotate_secret(services.sessions, NikVault(NEW_SECRET, SECRET))


def test_the_vault_reads_both_secrets_writes_and_hashes_with_the_new():
    old, rotating, new = NikVault(SECRET), NikVault(NEW_SECRET, SECRET), NikVault(NEW_SECRET)
    nik = NIKS[0]
    assert rotating.decrypt(old.encrypt(nik)) == nik
    assert new.decrypt(rotating.encrypt(nik)) == nik
    assert rotating.hashes(nik) == [new.hash(nik), old.hash(nik)]
    assert new.hashes(nik) == [new.hash(nik)]
    assert rotating.rotating
    assert not new.rotating
    assert not rotating.is_current(old.encrypt(nik))
    assert rotating.is_current(new.encrypt(nik))
    with pytest.raises(ValueError, match="old secret is the new"):
        NikVault(SECRET, SECRET)
    with pytest.raises(ValueError, match="cannot be decrypted"):
        new.decrypt(old.encrypt(nik))


async def test_one_nik_live_twice_under_the_two_secrets_stops_with_one_line_and_keeps_the_data(
    services: Services,
):
    """Only a process without LANJUTKAN_SECRET_OLD could have let it in; the unique key refuses it."""
    old, rotating = NikVault(SECRET), NikVault(NEW_SECRET, SECRET)
    await seed(services, old)
    async with services.sessions() as session:
        officer_id = (await session.exec(select(Officer.id))).first()
        assert officer_id is not None
        session.add(
            Proposal(
                desa_code=TOMOK, kecamatan_code=SIMANINDO, officer_id=officer_id,
                status=Status.MENUNGGU_DINAS, nik_encrypted=rotating.encrypt(NIKS[1]),
                nik_hash=rotating.hash(NIKS[1]),
            )
        )  # fmt: skip
        await session.commit()
    with pytest.raises(RotationError, match=r"^proposal: two rows carry the same NIK"):
        await rotate_secret(services.sessions, rotating, batch=100)
    async with services.sessions() as session:
        hashes = (await session.exec(select(Proposal.nik_hash).order_by(Proposal.id))).all()
    assert hashes[: len(NIKS)] == [old.hash(n) for n in NIKS]  # the failed batch wrote nothing


async def test_rotation_beside_a_writing_bot_loses_nothing(services: Services, database_url: str):
    """The rotation on its own connection (another process) while the bot, with both secrets, writes."""
    import asyncio

    from models.db import create_engine, is_busy, session_maker

    old, rotating = NikVault(SECRET), NikVault(NEW_SECRET, SECRET)
    await seed(services, old)
    added: list[str] = []
    stop = asyncio.Event()

    async def bot() -> None:
        serial = 500
        async with services.sessions() as session:
            officer_id = (await session.exec(select(Officer.id))).first()
        while not stop.is_set():
            nik = synthetic_nik(serial=serial)
            try:
                async with services.sessions() as session:
                    session.add(
                        Proposal(
                            desa_code=TOMOK, kecamatan_code=SIMANINDO, officer_id=officer_id or 0,
                            status=Status.MENUNGGU_CAMAT, nik_encrypted=rotating.encrypt(nik),
                            nik_hash=rotating.hash(nik),
                        )
                    )  # fmt: skip
                    await session.commit()
            except Exception as error:  # SQLite's other writer: the bot's engine retries the turn
                if not is_busy(error):
                    raise
            else:
                added.append(nik)
                serial += 1
            await asyncio.sleep(0.002)

    writer = asyncio.create_task(bot())
    engine = create_engine(database_url)
    try:
        report = await rotate_secret(session_maker(engine), rotating, batch=2)
    finally:
        stop.set()
        await writer
        await engine.dispose()
    assert report.finished
    assert added
    new = NikVault(NEW_SECRET)
    async with services.sessions() as session:
        proposals = (await session.exec(select(Proposal).order_by(Proposal.id))).all()
    assert [new.decrypt(p.nik_encrypted or "") for p in proposals] == NIKS + added
    assert [p.nik_hash for p in proposals] == [new.hash(n) for n in NIKS + added]
