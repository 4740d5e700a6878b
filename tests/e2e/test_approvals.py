"""End to end over loopback HTTP: officer submits → camat approves → dinas establishes → officer told.

The real `lanjutkan run` as a subprocess with its outbox worker, a fake Bot API that edits the stored
messages as Telegram does, so the cards' outcomes are visible as a person would see them.
"""

from __future__ import annotations

import signal

import pytest

from tests.conftest import synthetic_nik
from tests.e2e.test_run import ADDRESS, JONSON, MARIA, RINA, ROSTER_CSV, deployment, masked, until
from tests.fakebotapi import SentMessage

pytestmark = pytest.mark.e2e

ROSTER = ROSTER_CSV + "Maria Naibaho,dinas,12.17,081200000301\n"


async def test_submit_approve_establish_over_loopback_with_the_cards_edited(tmp_path):
    """Every decision goes back to the officer; every card shows its outcome without buttons."""
    nik = synthetic_nik(serial=11)
    async with deployment(tmp_path) as d:
        await d.import_roster(ROSTER)
        bot = await d.start()
        await d.onboard(RINA, "Rina Sitohang")
        await d.onboard(JONSON, "Jonson Simbolon")
        await d.onboard(MARIA, "Maria Naibaho")

        await d.say(RINA, "/daftar")
        await d.say(RINA, nik)
        birth = await d.say(RINA, "Maruli Sitanggang")
        category = await d.tap(RINA, birth, "Benar")
        await d.tap(RINA, category, "Petani")
        phone = await d.say(RINA, ADDRESS)
        summary = await d.tap(RINA, phone, "Lewati")
        sent = await d.tap(RINA, summary, "Kirim")
        assert "Usulan U-00001 terkirim" in sent.text

        def card_of(user: int) -> SentMessage | None:
            cards = [m for m in d.api.messages_to(user) if m.text.startswith("📋 Usulan U-00001")]
            return cards[-1] if cards else None

        await until(lambda: card_of(JONSON) is not None, "the camat's card")
        card = card_of(JONSON)
        assert card is not None
        assert masked(nik) in card.text
        assert nik not in card.text
        assert "MARULI SITANGGANG" in card.text
        d.press(JONSON, card, "Setujui")
        await until(
            lambda: "Disetujui oleh Camat Jonson Simbolon" in (card_of(JONSON) or card).text, "card edit"
        )
        assert not card_of(JONSON).buttons  # type: ignore[union-attr]

        await until(lambda: card_of(MARIA) is not None, "the dinas card")
        dinas_card = card_of(MARIA)
        assert dinas_card is not None
        assert "Disetujui oleh Camat Jonson Simbolon" in dinas_card.text
        d.press(MARIA, dinas_card, "Tetapkan")
        await until(
            lambda: "Ditetapkan oleh Diskopnaker Maria Naibaho" in (card_of(MARIA) or dinas_card).text, "edit"
        )
        assert not card_of(MARIA).buttons  # type: ignore[union-attr]

        def told() -> list[str]:
            return [m.text for m in d.api.messages_to(RINA) if "U-00001 (MARULI SITANGGANG)" in m.text]

        await until(lambda: len(told()) == 2, "both decisions told to the officer")
        assert "disetujui Camat Jonson Simbolon" in told()[0]
        assert "ditetapkan oleh Diskopnaker Maria Naibaho" in told()[1]

        assert d.query("SELECT status FROM proposal") == [("ditetapkan",)]
        assert d.query("SELECT action FROM auditevent ORDER BY id") == [
            ("submit",),
            ("approve",),
            ("establish",),
        ]
        await until(
            lambda: (
                d.query("SELECT count(*) FROM outboundmessage WHERE status NOT IN ('sent', 'superseded')")
                == [(0,)]
            ),
            "outbox",
        )
        for message in d.api.sent:
            for button in message.buttons:
                assert nik not in button["callback_data"]
                assert len(button["callback_data"].encode()) <= 64
        bot.send_signal(signal.SIGTERM)
        assert await bot.wait() == 0
        log = d.log_text()
        assert nik not in log
        assert "Traceback" not in log
