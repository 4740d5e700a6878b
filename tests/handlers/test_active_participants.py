"""An active participant (imported with `lanjutkan participants import`) cannot be proposed again."""

from __future__ import annotations

from models.imports import import_participants
from tests.conftest import synthetic_nik
from tests.handlers.test_intake import operator, proposals

ACTIVE = synthetic_nik(serial=7)
NEW = synthetic_nik(serial=8)


async def test_an_active_participants_nik_is_blocked_at_the_nik_step(chat, services, tmp_path):
    path = tmp_path / "peserta.csv"
    path.write_text(f"nik,nama,desa,kategori,mulai\n{ACTIVE},Peserta Lama,12.17.01.2001,petani,01-01-2025\n")
    report = await import_participants(services.sessions, services.vault, services.kabupaten, path)
    assert report.imported == 1
    rina = await operator(chat)
    await rina.say("/daftar")

    replies = await rina.say(ACTIVE)

    message = replies[-1].text
    assert "NIK ini sudah menjadi peserta aktif program" in message
    assert "Ketik NIK lain" in message
    assert "terbaca" not in message
    [draft] = await proposals(services)
    assert draft.nik_hash is None  # the blocked NIK was not kept

    read_back = await rina.say(NEW)
    assert f"NIK {NEW} terbaca" in read_back[-1].text
