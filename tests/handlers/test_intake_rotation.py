"""While the secret is rotated, intake finds what was recorded under the old one: duplicates, registries."""

from __future__ import annotations

from handlers.context import Services
from models.crypto import NikVault
from tests.conftest import SECRET, Chat
from tests.handlers.test_intake import NIK, operator, submit
from tests.handlers.test_intake_registry import IN_DTSEN, seed_registries

NEW_SECRET = "new-test-secret-" + "y" * 20


def rotate_to_new_secret(services: Services) -> None:
    """What a restart with LANJUTKAN_SECRET=new and LANJUTKAN_SECRET_OLD=old gives the running engine."""
    object.__setattr__(services, "vault", NikVault(NEW_SECRET, SECRET))


async def test_a_nik_proposed_under_the_old_secret_is_still_a_duplicate(chat, services: Services):
    await submit(await operator(chat, 1001), name="Orang Pertama")  # hashed with the old secret
    rotate_to_new_secret(services)
    tigor: Chat = await operator(chat, 1002, "+6281200000102")
    await tigor.say("/daftar")
    replies = await tigor.say(NIK)
    assert "sudah diusulkan dari Tomok, Kec. Simanindo" in replies[-1].text
    assert "U-00001" in replies[-1].text


async def test_registries_imported_under_the_old_secret_still_answer(chat, services: Services):
    await seed_registries(services)  # hashed with the old secret
    rotate_to_new_secret(services)
    rina = await operator(chat, 1001)
    await rina.say("/daftar")
    read_back = (await rina.say(IN_DTSEN))[-1].text
    assert "DTKS: ditemukan, desil 3 · DTSEN: ditemukan, desil 6" in read_back
