"""/rekap through the real application: counts, quota and budget checked against hand-computed figures."""

from __future__ import annotations

import datetime as dt

from handlers.context import Services
from models import store
from models.rules.status import Status
from models.tables import ActiveParticipant
from tests.conftest import (
    CAMAT_PHONE,
    DINAS_PHONE,
    OPERATOR_PHONE,
    PANGURURAN_DESA,
    SAMOSIR_2026,
    TOMOK,
    sent_proposal,
    synthetic_nik,
)

# Seeded: Tomok (Simanindo) 3 waiting for the camat, 1 for the dinas, 2 established, 1 rejected;
# a Pangururan desa 1 waiting for the camat and 1 returned.
SEED = [
    (TOMOK, Status.MENUNGGU_CAMAT, 3),
    (TOMOK, Status.MENUNGGU_DINAS, 1),
    (TOMOK, Status.DITETAPKAN, 2),
    (TOMOK, Status.DITOLAK, 1),
    (PANGURURAN_DESA, Status.MENUNGGU_CAMAT, 1),
    (PANGURURAN_DESA, Status.DIKEMBALIKAN, 1),
]
ESTABLISHED_ON = dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.UTC)  # 10:00 WIB: covered from 1 December


async def seed(services: Services) -> None:
    async with services.sessions() as session:
        rina = await store.officer_by_phone(session, phone=OPERATOR_PHONE)
        assert rina is not None
        assert rina.id is not None
        serial = 1
        for desa, status, count in SEED:
            for _ in range(count):
                nik = synthetic_nik(serial=serial)
                serial += 1
                session.add(
                    sent_proposal(
                        services,
                        officer_id=rina.id,
                        nik=nik,
                        desa=desa,
                        status=status,
                        name=f"PEKERJA {serial}",
                        submitted_at=ESTABLISHED_ON,
                        decided_at=ESTABLISHED_ON if status is Status.DITETAPKAN else None,
                    )
                )
        for serial, start in ((901, dt.date(2024, 1, 1)), (902, dt.date(2026, 7, 1))):  # 12 + 6 months
            nik = synthetic_nik(serial=serial)
            session.add(
                ActiveParticipant(
                    nik_hash=services.vault.hash(nik), nik_encrypted=services.vault.encrypt(nik),
                    name=f"AKTIF {serial}", desa_code=TOMOK, category="petani", coverage_start=start,
                )
            )  # fmt: skip
        figures = SAMOSIR_2026 | {"new_established": 2}
        await store.set_program(session, year=2026, default_quota=320, figures=figures)
        await session.commit()


async def test_dinas_rekap_counts_by_status_and_kecamatan_with_quota_and_budget(chat, services: Services):
    """The kabupaten's figures: 9 sent, per kecamatan, 2 of 320 places used, 2 active and 2 new paid."""
    await seed(services)
    maria = chat(3001)
    await maria.onboard(DINAS_PHONE)
    text = (await maria.say("/rekap"))[-1].text
    assert "📊 Rekap LANJUTKAN 2026 — Kabupaten Samosir (per 24 November 2026)" in text
    assert "Usulan terkirim: 9" in text
    assert "• menunggu persetujuan camat: 4" in text
    assert "• menunggu verifikasi Diskopnaker: 1" in text
    assert "• ditetapkan ✅: 2" in text
    assert "• ditolak: 1" in text
    assert "• dikembalikan untuk diperbaiki: 1" in text
    assert "• Pangururan: 1 / 0 / 0 / 0 / 1" in text
    assert "• Simanindo: 3 / 1 / 2 / 1 / 0" in text
    assert "Kuota peserta baru 2026: 2 dari 320 terpakai, sisa 318." in text
    assert "Anggaran 2026: Rp395.904.000" in text
    # (2 active: 12 + 6 months; 2 new: 1 month each, December) × (Rp10.000 + Rp6.800) = 20 × Rp16.800
    assert "Proyeksi biaya: Rp336.000 — 2 peserta aktif + 2 peserta baru" in text
    assert "Sisa: Rp395.568.000" in text


async def test_camat_rekap_covers_their_kecamatan_by_desa(chat, services: Services):
    """The camat sees Simanindo only, per desa."""
    await seed(services)
    jonson = chat(2001)
    await jonson.onboard(CAMAT_PHONE)
    text = (await jonson.say("/rekap"))[-1].text
    assert "Rekap LANJUTKAN 2026 — Kec. Simanindo" in text
    assert "Usulan terkirim: 7" in text
    assert "• Tomok: 3 / 1 / 2 / 1 / 0" in text
    assert "Pangururan" not in text


async def test_rekap_is_for_approvers_and_says_when_the_budget_is_unset(chat, services: Services):
    """Operators are refused; a year without figures says how to set them."""
    rina = chat(1001)
    await rina.onboard(OPERATOR_PHONE)
    assert "Rekap hanya untuk camat dan Diskopnaker" in (await rina.say("/rekap"))[-1].text
    maria = chat(3001)
    await maria.onboard(DINAS_PHONE)
    text = (await maria.say("/rekap"))[-1].text
    assert "Usulan terkirim: 0" in text
    assert "Anggaran 2026 belum diisi (lanjutkan program set)." in text


async def test_rekap_says_when_the_projected_cost_exceeds_the_budget(chat, services: Services):
    """A budget below the projection is said plainly, not as a negative remainder."""
    await seed(services)
    async with services.sessions() as session:
        await store.set_program(session, year=2026, default_quota=320, figures={"budget": 300_000})
        await session.commit()
    maria = chat(3001)
    await maria.onboard(DINAS_PHONE)
    text = (await maria.say("/rekap"))[-1].text
    # The projection is Rp336.000 (see above): Rp36.000 over an allocation of Rp300.000.
    assert "• ⚠️ Proyeksi melebihi anggaran sebesar Rp36.000" in text
    assert "Sisa" not in text
