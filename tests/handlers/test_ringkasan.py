"""Weekly summaries: contents for a seeded week checked against hand-computed figures, /ringkasan through
the real application, the chart, and long texts split cleanly."""

from __future__ import annotations

import datetime as dt
import struct

from handlers import ringkasan
from handlers.context import Services
from handlers.messages import Reply, split_text
from models import store
from models.rules.status import Role, Status
from models.tables import AuditEvent, Delivery, OfficerCreate, OutboundMessage
from tests.conftest import (
    CAMAT_PHONE,
    DINAS_PHONE,
    NOW,
    OPERATOR_OTHER_PHONE,
    OPERATOR_PHONE,
    PANGURURAN_DESA,
    SAMOSIR_2026,
    TOMOK,
    WIB,
    sent_proposal,
    synthetic_nik,
)

AMBARITA = "12.17.01.2005"  # another desa of Kec. Simanindo
CHATS = {OPERATOR_PHONE: 1001, OPERATOR_OTHER_PHONE: 1003, CAMAT_PHONE: 2001, DINAS_PHONE: 3001}


def wib(month: int, day: int, hour: int = 10, minute: int = 0, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=WIB)


# The week the Monday 23 November summary covers: Monday 16 00:00 to Monday 23 00:00 WIB. Each proposal:
# (desa, status, name, [(action, when)], fix fields). The first action is the submit.
WEEK = [
    (TOMOK, Status.MENUNGGU_CAMAT, "P1 SUBMITTED IN WEEK", [("submit", wib(11, 17))], []),
    (TOMOK, Status.MENUNGGU_CAMAT, "P2 WAITING 14 DAYS", [("submit", wib(11, 10))], []),
    (TOMOK, Status.MENUNGGU_DINAS, "P3", [("submit", wib(11, 12)), ("approve", wib(11, 18))], []),
    (
        TOMOK,
        Status.DITETAPKAN,
        "P4",
        [("submit", wib(11, 2)), ("approve", wib(11, 5)), ("establish", wib(11, 19))],
        [],
    ),
    (
        TOMOK,
        Status.DIKEMBALIKAN,
        "P5 RETURNED",
        [("submit", wib(11, 16, 8)), ("return", wib(11, 20))],
        ["name", "address"],
    ),
    # Rejected on Monday 23 at 07:00: after the week's end, so not in its figures.
    (TOMOK, Status.DITOLAK, "P6", [("submit", wib(11, 3)), ("reject", wib(11, 23, 7))], []),
    (AMBARITA, Status.MENUNGGU_CAMAT, "P7", [("submit", wib(11, 22, 23, 30))], []),
    # Proposed last year and still waiting: Lumban SS Dolok has not proposed in 2026.
    (PANGURURAN_DESA, Status.MENUNGGU_CAMAT, "P8 LAST YEAR", [("submit", wib(12, 1, year=2025))], []),
]


async def seed_week(services: Services) -> dict[str, int]:
    """The proposals above with their audit trail, bound chat accounts (Tigor never onboarded, Lamria
    blocked the bot, Rina blocked it once and came back), and the year's figures; name -> proposal id."""
    ids: dict[str, int] = {}
    async with services.sessions() as session:
        officers = {o.phone: o for role in Role for o in await store.officers_of(session, role=role)}
        rina = officers[OPERATOR_PHONE]
        camat, dinas = officers[CAMAT_PHONE], officers[DINAS_PHONE]
        assert rina.id
        assert camat.id
        assert dinas.id
        actor = {"submit": rina.id, "approve": camat.id, "return": camat.id, "reject": camat.id}
        actor["establish"] = dinas.id
        for serial, (desa, status, name, trail, fix) in enumerate(WEEK, 1):
            proposal = sent_proposal(
                services,
                officer_id=rina.id,
                nik=synthetic_nik(serial=serial),
                desa=desa,
                status=status,
                name=name,
                submitted_at=trail[0][1],
                decided_at=trail[-1][1] if len(trail) > 1 else None,
                fix_fields=fix,
            )
            session.add(proposal)
            await session.flush()
            assert proposal.id is not None
            ids[name] = proposal.id
            for action, when in trail:
                session.add(
                    AuditEvent(proposal_id=proposal.id, officer_id=actor[action], action=action, at=when)
                )
            # Revealing a NIK is in the audit trail too, but it is no decision.
            session.add(
                AuditEvent(proposal_id=proposal.id, officer_id=dinas.id, action="reveal_nik", at=wib(11, 18))
            )
        for phone, chat_id in CHATS.items():
            await store.bind_account(
                session,
                channel="telegram",
                external_id=str(chat_id),
                chat_id=str(chat_id),
                officer=officers[phone],
            )
        lamria = officers[OPERATOR_OTHER_PHONE]
        for officer, status, error in (
            (rina, Delivery.FAILED, "blocked"),
            (rina, Delivery.SENT, None),
            (lamria, Delivery.SENT, None),
            (lamria, Delivery.FAILED, "blocked"),
        ):
            session.add(
                OutboundMessage(
                    channel="telegram", chat_id=str(CHATS[officer.phone]), officer_id=officer.id, text="lama",
                    status=status, error=error, sent_at=wib(11, 1),
                )
            )  # fmt: skip
        figures = SAMOSIR_2026 | {"new_established": 1}
        await store.set_program(session, year=2026, default_quota=320, figures=figures)
        await session.commit()
    return ids


async def summaries_at(services: Services, moment: dt.datetime) -> dict[str, list[Reply]]:
    """Every officer's weekly summary for the week before ``moment``'s Monday, by phone."""
    start, end = ringkasan.week_before(services, moment)
    async with services.sessions() as session:
        snap = await ringkasan.snapshot(session, services, start=start, end=end)
        officers = [o for role in Role for o in await store.officers_of(session, role=role)]
    await ringkasan.draw_chart(snap, services)
    return {o.phone: ringkasan.summary(snap, services, o) for o in officers}


def text_of(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies if r.photo is None)


async def test_camat_summary_has_the_kecamatan_week_by_desa(services: Services):
    """Simanindo's week: 3 new (P1, P5, P7), 1 approved, 1 returned; P6, rejected on Monday, is not in it."""
    ids = await seed_week(services)
    replies = (await summaries_at(services, wib(11, 23, 8)))[CAMAT_PHONE]
    text = text_of(replies)
    assert text.startswith("📊 Ringkasan mingguan LANJUTKAN — Kec. Simanindo\n16–22 November 2026")
    assert "Dalam 7 hari itu: 3 usulan baru · 1 disetujui camat · 1 ditetapkan · 1 dikembalikan.\n" in text
    assert "ditolak" not in text.split("Sampai hari ini")[0]
    # Waiting times count to the moment of reading (NOW, Tuesday 24): P2 since 10 November.
    assert "Menunggu camat: 3 (terlama 14 hari)" in text
    assert "Menunggu Diskopnaker: 1 (terlama 6 hari)" in text
    assert (
        "Sampai hari ini: 7 usulan: 3 menunggu camat, 1 menunggu Diskopnaker, 1 ditetapkan, 1 ditolak, "
        "1 dikembalikan." in text
    )
    assert "• Tomok: 2 baru · 2 menunggu (terlama 14 hari) · 6 usulan" in text
    assert "• Ambarita: 1 baru · 1 menunggu (terlama 2 hari) · 1 usulan" in text
    assert "Belum mengusulkan pada 2026 (19 dari 21): Tuktuk Siadong, Sihusapi, Maduma," in text
    assert "Pangururan" not in text
    assert "Lumban SS Dolok" not in text
    assert "P1 SUBMITTED" not in text  # a summary counts; it names no candidate
    assert replies[-1].buttons[0][0].data == "q:new"
    assert all(r.photo is None for r in replies)
    assert ids  # seeded


async def test_dinas_summary_has_the_kabupaten_quota_budget_unreachable_and_a_chart(services: Services):
    await seed_week(services)
    replies = (await summaries_at(services, wib(11, 23, 8)))[DINAS_PHONE]
    text = text_of(replies)
    assert text.startswith("📊 Ringkasan mingguan LANJUTKAN — Kabupaten Samosir\n16–22 November 2026")
    assert "Dalam 7 hari itu: 3 usulan baru · 1 disetujui camat · 1 ditetapkan · 1 dikembalikan." in text
    # P8 waits since 1 December 2025: 31 days to 1 January, 327 more to 24 November.
    assert "Menunggu camat: 4 (terlama 358 hari)" in text
    assert "• Simanindo: 3 baru · 3 menunggu (terlama 14 hari) · 7 usulan\n" in text
    # Each kecamatan also has the week's decisions and its silent desa (as the camat's summary has them).
    decisions = "   ↳ 1 disetujui camat · 1 ditetapkan · 1 dikembalikan · 0 ditolak · 19 dari 21 desa belum"
    assert decisions in text
    assert "• Pangururan: 0 baru · 1 menunggu (terlama 358 hari) · 1 usulan" in text
    assert "   ↳ 0 disetujui camat · 0 ditetapkan · 0 dikembalikan · 0 ditolak · 28 dari 28 desa" in text
    assert "• Sitio-tio: 0 baru · 0 menunggu · 0 usulan" in text  # every kecamatan, even a silent one
    assert "132 dari 134 desa/kelurahan belum mengusulkan pada 2026." in text
    assert "Kuota peserta baru 2026: 1 dari 320 terpakai, sisa 319." in text
    # P4 established 19 November: covered from 1 December, 1 month × (Rp10.000 + Rp6.800).
    assert "Proyeksi biaya: Rp16.800 — 0 peserta aktif + 1 peserta baru" in text
    assert "Sisa: Rp395.887.200" in text
    assert "Petugas yang tidak dapat dihubungi bot (2):" in text
    assert (
        "• Tigor Manik (operator desa/kelurahan, Desa Tomok, Kec. Simanindo) — belum pernah membuka bot"
        in text
    )
    assert (
        "• Lamria Sinaga (operator desa/kelurahan, Desa Lumban SS Dolok, Kec. Pangururan) — memblokir bot"
        in text
    )
    assert "Rina" not in text  # she blocked the bot once, and a later message reached her
    photo = replies[-1]
    assert photo.photo is not None
    assert photo.photo.startswith(b"\x89PNG\r\n\x1a\n")
    assert photo.text == "Usulan per kecamatan dan status, 24 November 2026."


async def test_operator_summary_has_the_desa_and_what_to_fix(services: Services):
    ids = await seed_week(services)
    summaries = await summaries_at(services, wib(11, 23, 8))
    replies = summaries[OPERATOR_PHONE]
    text = text_of(replies)
    assert text.startswith("📊 Ringkasan mingguan LANJUTKAN — Desa Tomok\n16–22 November 2026")
    assert "Dalam 7 hari itu: 2 usulan baru · 1 disetujui camat · 1 ditetapkan · 1 dikembalikan." in text
    assert (
        "Semua usulan desa ini: 6 usulan: 2 menunggu camat, 1 menunggu Diskopnaker, 1 ditetapkan, 1 ditolak, "
        "1 dikembalikan." in text
    )
    number = f"U-{ids['P5 RETURNED']:05d}"
    assert "Perlu tindakan Anda: 1 usulan dikembalikan untuk diperbaiki." in text
    assert f"• {number} P5 RETURNED — perbaiki: Nama, Alamat (dikembalikan 4 hari lalu)" in text
    assert [b.data for row in replies[-1].buttons for b in row] == [f"p:{ids['P5 RETURNED']}"]
    # Lumban SS Dolok's operator: one proposal waiting at the camat, nothing to fix, no button.
    other = text_of(summaries[OPERATOR_OTHER_PHONE])
    assert "Semua usulan desa ini: 1 usulan: 1 menunggu camat." in other
    assert "Tidak ada usulan yang perlu Anda perbaiki." in other
    assert not summaries[OPERATOR_OTHER_PHONE][-1].buttons


async def test_operator_of_a_desa_without_proposals_is_invited_to_propose(services: Services):
    summaries = await summaries_at(services, NOW)
    text = text_of(summaries[OPERATOR_PHONE])
    assert "Desa Anda belum mengusulkan siapa pun. Ketik /daftar" in text


async def test_ringkasan_command_through_the_application(chat, services: Services, fake_api):
    """/ringkasan answers with the last seven days, today included; the dinas also gets the chart."""
    await seed_week(services)
    jonson = chat(2001)
    await jonson.onboard(CAMAT_PHONE)
    text = "\n".join(m.text for m in await jonson.say("/ringkasan"))
    assert "Ringkasan mingguan LANJUTKAN — Kec. Simanindo\n18–24 November 2026" in text
    # In these seven days (from Wednesday 18): P3 approved, P5 returned, P7 new, P6 rejected on Monday.
    week = "Dalam 7 hari itu: 1 usulan baru · 1 disetujui camat · 1 ditetapkan · 1 dikembalikan · 1 ditolak."
    assert week in text
    maria = chat(3001)
    await maria.onboard(DINAS_PHONE)
    await maria.say("/ringkasan")
    assert [p.chat_id for p in fake_api.photos] == [3001]
    assert fake_api.photos[0].content.startswith(b"\x89PNG")
    assert fake_api.photos[0].caption == "Usulan per kecamatan dan status, 24 November 2026."
    rina = chat(1001)
    await rina.onboard(OPERATOR_PHONE)
    answer = await rina.say("/ringkasan")
    assert "Desa Tomok" in answer[0].text
    assert len(fake_api.photos) == 1  # no chart for an operator


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


async def test_chart_is_a_phone_sized_png_naming_every_kecamatan(services: Services):
    from handlers import chart

    rows = [
        (k.name, {Status.MENUNGGU_CAMAT: i, Status.DITETAPKAN: 2 * i})
        for i, k in enumerate(services.kabupaten.kecamatan)
    ]
    png = chart.proposals_by_kecamatan(rows, title="Usulan per kecamatan")
    width, height = png_size(png)
    assert width == 1080  # a phone screen's width at 150 dpi
    assert 600 <= height <= 1400
    assert 10_000 < len(png) < 300_000
    svg = chart.proposals_by_kecamatan(rows, title="Usulan per kecamatan", image_format="svg").decode()
    for kecamatan in services.kabupaten.kecamatan:
        assert f">{kecamatan.name}<" in svg  # every kecamatan is labelled, the silent ones too
    assert ">menunggu Diskopnaker<" in svg  # the legend names the statuses
    # A kabupaten with many kecamatan grows taller, not cramped.
    many = [(f"Kecamatan {i}", {Status.DITOLAK: i}) for i in range(40)]
    tall_width, tall_height = png_size(chart.proposals_by_kecamatan(many, title="x"))
    assert tall_width == 1080
    assert tall_height > 2 * height


def test_long_text_is_split_at_line_breaks_under_the_limit():
    lines = [f"• Desa nomor {i}: 1 baru · 2 menunggu (terlama 3 hari) · 4 usulan" for i in range(300)]
    text = "📊 Judul\n\n" + "\n".join(lines)
    parts = split_text(text, 3500)
    assert len(parts) > 1
    assert all(len(p) <= 3500 for p in parts)
    assert "\n".join(parts).replace("\n\n", "\n") == text.replace("\n\n", "\n")  # nothing lost or cut
    assert all(p.split("\n")[-1].startswith("• Desa") for p in parts)  # each part ends on a whole line
    # A single line longer than the limit is cut at a space, still nothing lost.
    word_soup = " ".join(["kata"] * 2000)
    soup = split_text(word_soup, 3500)
    assert all(len(p) <= 3500 for p in soup)
    assert " ".join(soup) == word_soup


def test_a_long_summary_goes_out_as_several_messages_with_the_button_on_the_last():
    """Each part within Telegram's limit; the buttons only under the last."""
    replies = ringkasan._parts(
        "\n".join(f"• baris {i} " + "x" * 60 for i in range(200)), buttons=ringkasan.QUEUE_BUTTON
    )
    assert len(replies) >= 3
    assert all(len(r.text) <= ringkasan.PART_LIMIT for r in replies)
    assert [bool(r.buttons) for r in replies] == [False] * (len(replies) - 1) + [True]


async def test_unreachable_officers_are_listed_only_for_the_dinas(services: Services):
    summaries = await summaries_at(services, NOW)
    assert "tidak dapat dihubungi" not in text_of(summaries[CAMAT_PHONE])
    assert "belum pernah membuka bot" in text_of(summaries[DINAS_PHONE])
    assert isinstance(summaries[DINAS_PHONE][-1].photo, bytes)


async def test_ringkasan_for_a_region_the_kabupaten_does_not_have_says_whom_to_ask(chat, services: Services):
    async with services.sessions() as session:
        stray = OfficerCreate(
            name="Salah Kode", role=Role.OPERATOR, region_code="12.17.99.2001", phone="+6281200000999"
        )
        await store.upsert_officer(session, data=stray)
        await session.commit()
    lost = chat(1999)
    await lost.onboard("+6281200000999")
    (answer,) = await lost.say("/ringkasan")
    assert answer.text == (
        "Ringkasan belum dapat dibuat: wilayah Anda di daftar petugas tidak dikenal. "
        "Hubungi admin Diskopnaker Kabupaten Samosir."
    )
