"""Who may press what: every press re-checked against the acting officer, their region and the proposal's
current status, through the real PTB Application (issue 4).

Proposals are put into each status by writing rows straight into the database (with a plausible audit
trail), officers are bound by writing their chat accounts, and the buttons are pressed with the data the
bot puts on them (or forged data). The expected outcomes are written out by hand below, not derived from
``models.rules.status.TRANSITIONS``: the point is to check that table and the handlers around it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from sqlmodel import col, func, select
from telegram import Update
from telegram.ext import Application

from bot.channels.telegram import build_application
from handlers import texts
from handlers.cards import snapshot
from handlers.context import Services
from handlers.engine import Engine
from models import store
from models.db import is_sqlite
from models.rules.status import Role, Status
from models.tables import (
    AuditEvent,
    ChatAccount,
    Conversation,
    Officer,
    OfficerCreate,
    OutboundMessage,
    ProgramYear,
    Proposal,
    utcnow,
)
from tests.conftest import (
    NOW,
    OPERATOR_OTHER_PHONE,
    OPERATOR_PHONE,
    SIMANINDO,
    TOMOK,
    synthetic_nik,
)
from tests.fakebotapi import TOKEN, FakeBotApi, SentMessage
from tests.fakewhatsapp import FakeWhatsApp, Webhook
from tests.fakewhatsapp import SentMessage as WhatsAppMessage
from tests.offline import OfflineRequest
from tests.whatsapp_driver import WhatsAppDriver as WhatsAppChannelDriver
from tests.whatsapp_driver import wa_id_of

# ------------------------------------------------------------------------------------------------ people

PANGURURAN = "12.17.08"
# Officers besides tests.conftest.ROSTER (0812-0000-xxxx numbers are not real people's).
MORE = [
    OfficerCreate(name="Dewi Sirait", role=Role.CAMAT, region_code=SIMANINDO, phone="+6281200000202"),
    OfficerCreate(name="Hotman Sagala", role=Role.CAMAT, region_code=PANGURURAN, phone="+6281200000203"),
    OfficerCreate(name="Ester Simarmata", role=Role.DINAS, region_code="12.17", phone="+6281200000302"),
    # A dinas officer of another kabupaten (12.16, Humbang Hasundutan). The roster import refuses such a
    # row (models.roster.check_row: the code must be inside the kabupaten), so it is written straight into
    # the database: the handlers must not rely on the import for their region checks.
    OfficerCreate(name="Sahat Purba", role=Role.DINAS, region_code="12.16", phone="+6281200000303"),
]

# Telegram user id -> the officer's phone (the roster's key).
RINA, LAMRIA, JONSON, DEWI, HOTMAN, MARIA, ESTER, SAHAT = 1001, 1003, 2001, 2002, 2003, 3001, 3002, 3003
PHONES = {
    RINA: OPERATOR_PHONE,  # operator, Desa Tomok (Kec. Simanindo): proposes everything here
    LAMRIA: OPERATOR_OTHER_PHONE,  # operator, a desa of Kec. Pangururan
    JONSON: "+6281200000201",  # camat of Simanindo
    DEWI: "+6281200000202",  # a second camat account for Simanindo
    HOTMAN: "+6281200000203",  # camat of Pangururan
    MARIA: "+6281200000301",  # Diskopnaker, Kabupaten Samosir (12.17)
    ESTER: "+6281200000302",  # Diskopnaker, Kabupaten Samosir (12.17)
    SAHAT: "+6281200000303",  # "Diskopnaker" of 12.16
}
# (role, region relative to a proposal of Desa Tomok) -> who presses.
ACTORS = {
    ("operator", "own"): RINA,
    ("operator", "other"): LAMRIA,
    ("camat", "own"): JONSON,
    ("camat", "other"): HOTMAN,
    ("dinas", "own"): MARIA,
    ("dinas", "other"): SAHAT,  # the dinas has one region, the kabupaten: "other" is another kabupaten's
}
TITLE_AND_NAME = {
    RINA: "Operator Rina Sitohang",
    JONSON: "Camat Jonson Simbolon",
    MARIA: "Diskopnaker Maria Naibaho",
}

NIK_RE = re.compile(r"\d{16}")
NAME = "BUDI SANTOSO"
NIK = synthetic_nik()  # 1217011508900001: Kec. Simanindo, born 15-08-1990, male

# ------------------------------------------------------------------------------------- the seeded trail

T_SUBMIT = NOW - dt.timedelta(days=2)
T_CAMAT = NOW - dt.timedelta(days=1)  # 23-11-2026 09:00 WIB
T_DINAS = T_CAMAT + dt.timedelta(hours=2)  # 23-11-2026 11:00 WIB
RETURN_NOTE = "Nama salah ketik"

# How each status came about: (user id, action, from, to, reason, at).
TRAIL: dict[Status, list[tuple[int, str, Status, Status, str | None, dt.datetime]]] = {
    Status.MENUNGGU_CAMAT: [],
    Status.MENUNGGU_DINAS: [(JONSON, "approve", Status.MENUNGGU_CAMAT, Status.MENUNGGU_DINAS, None, T_CAMAT)],
    Status.DITETAPKAN: [
        (JONSON, "approve", Status.MENUNGGU_CAMAT, Status.MENUNGGU_DINAS, None, T_CAMAT),
        (MARIA, "establish", Status.MENUNGGU_DINAS, Status.DITETAPKAN, None, T_DINAS),
    ],
    Status.DITOLAK: [
        (JONSON, "reject", Status.MENUNGGU_CAMAT, Status.DITOLAK, "bukan pekerja rentan", T_CAMAT)
    ],
    Status.DIKEMBALIKAN: [
        (JONSON, "return", Status.MENUNGGU_CAMAT, Status.DIKEMBALIKAN, RETURN_NOTE, T_CAMAT)
    ],
}
# The last decision as an approver who comes too late is told it (written out, not computed).
LAST_DECISION = {
    Status.MENUNGGU_CAMAT: None,
    Status.MENUNGGU_DINAS: "✅ Disetujui oleh Camat Jonson Simbolon, 23-11-2026 09:00",
    Status.DITETAPKAN: "🏁 Ditetapkan oleh Diskopnaker Maria Naibaho, 23-11-2026 11:00",
    Status.DITOLAK: "❌ Ditolak oleh Camat Jonson Simbolon, 23-11-2026 09:00",
    Status.DIKEMBALIKAN: "↩️ Dikembalikan oleh Camat Jonson Simbolon, 23-11-2026 09:00",
}

# ------------------------------------------------------------------------------------ the expected table

# The columns of EXPECTED, in this order; a draft is nobody's to decide (see FORGED).
STATUSES = (
    Status.MENUNGGU_CAMAT,
    Status.MENUNGGU_DINAS,
    Status.DITETAPKAN,
    Status.DITOLAK,
    Status.DIKEMBALIKAN,
)

# Outcomes: "→<status>" the action is taken and the proposal moves there; "nik" the full NIK is shown
# (status unchanged, one reveal_nik audit row); the rest are refusals that change nothing:
# "not yours" texts.NOT_YOURS, "decided" texts.already_decided(...), "not returned" texts.FIX_NOT_RETURNED,
# "not yet" texts.not_yet_yours(...).
NY, AD, NR, NIK_SHOWN = "not yours", "decided", "not returned", "nik"
NOT_YET = "not yet"  # texts.not_yet_yours(...): the dinas pressing while the camat still decides
TO_MC, TO_MD, TO_TT, TO_TL, TO_DK = (
    "→menunggu_camat",
    "→menunggu_dinas",
    "→ditetapkan",
    "→ditolak",
    "→dikembalikan",
)
NONE = (NY, NY, NY, NY, NY)

# fmt: off
EXPECTED: dict[tuple[str, str, str], tuple[str, ...]] = {
    #                                  menunggu_camat  menunggu_dinas  ditetapkan  ditolak  dikembalikan
    ("operator", "own",   "approve"):   NONE,
    ("operator", "own",   "reject"):    NONE,
    ("operator", "own",   "return"):    NONE,
    ("operator", "own",   "establish"): NONE,
    ("operator", "own",   "reveal"):    NONE,
    ("operator", "own",   "fix"):       (NR,            NR,             NR,         NR,      TO_MC),
    ("operator", "other", "approve"):   NONE,
    ("operator", "other", "reject"):    NONE,
    ("operator", "other", "return"):    NONE,
    ("operator", "other", "establish"): NONE,
    ("operator", "other", "reveal"):    NONE,
    ("operator", "other", "fix"):       NONE,
    ("camat",    "own",   "approve"):   (TO_MD,         AD,             AD,         AD,      AD),
    ("camat",    "own",   "reject"):    (TO_TL,         AD,             AD,         AD,      AD),
    ("camat",    "own",   "return"):    (TO_DK,         AD,             AD,         AD,      AD),
    ("camat",    "own",   "establish"): NONE,
    ("camat",    "own",   "reveal"):    NONE,
    ("camat",    "own",   "fix"):       NONE,
    ("camat",    "other", "approve"):   NONE,
    ("camat",    "other", "reject"):    NONE,
    ("camat",    "other", "return"):    NONE,
    ("camat",    "other", "establish"): NONE,
    ("camat",    "other", "reveal"):    NONE,
    ("camat",    "other", "fix"):       NONE,
    ("dinas",    "own",   "approve"):   NONE,
    # The dinas pressing Tolak/Tetapkan while the camat still decides is told where the proposal is.
    ("dinas",    "own",   "reject"):    (NOT_YET,       TO_TL,          AD,         AD,      NOT_YET),
    ("dinas",    "own",   "return"):    NONE,
    ("dinas",    "own",   "establish"): (NOT_YET,       TO_TT,          AD,         AD,      NOT_YET),
    # Lihat NIK: to a Diskopnaker officer whose region covers the desa, on a sent proposal of any status.
    ("dinas",    "own",   "reveal"):    (NIK_SHOWN,     NIK_SHOWN,      NIK_SHOWN,  NIK_SHOWN, NIK_SHOWN),
    ("dinas",    "own",   "fix"):       NONE,
    ("dinas",    "other", "approve"):   NONE,
    ("dinas",    "other", "reject"):    NONE,
    ("dinas",    "other", "return"):    NONE,
    ("dinas",    "other", "establish"): NONE,
    ("dinas",    "other", "reveal"):    NONE,  # the NIK only to the dinas whose region covers the desa
    ("dinas",    "other", "fix"):       NONE,
}
# fmt: on

# Each action as the buttons a person presses ("p:" then the intake's own buttons for fix).
ACTION_PRESSES: dict[str, tuple[str, ...]] = {
    "approve": ("d:{id}:ok",),
    "reject": ("r:{id}:rentan",),
    "return": ("d:{id}:ret", "f:{id}:name", "f:{id}:go", "f:{id}:skip"),
    "establish": ("d:{id}:est",),
    "reveal": ("d:{id}:nik",),
    "fix": ("p:{id}",),
}
DECIDED_VERB = {
    "approve": "Disetujui",
    "reject": "Ditolak",
    "return": "Dikembalikan",
    "establish": "Ditetapkan",
}


def matrix() -> list[Any]:
    cases = []
    for (role, region, action), outcomes in EXPECTED.items():
        for status, outcome in zip(STATUSES, outcomes, strict=True):
            cases.append(
                pytest.param(
                    role,
                    region,
                    action,
                    status,
                    outcome,
                    id=f"{role}-{region}-{action}-{status}",
                )
            )
    return cases


# --------------------------------------------------------------------------------------------- helpers


@dataclasses.dataclass
class Driver:
    """Presses and messages through the real PTB Application; returns what the person then saw."""

    app: Application  # type: ignore[type-arg]
    api: FakeBotApi
    channel = "telegram"

    def account(self, user_id: int) -> tuple[str, str]:
        """The person's (external id, chat id) on the channel."""
        return str(user_id), str(user_id)

    async def _run(self, user_id: int, update: dict[str, Any]) -> list[str]:
        sent, edits = len(self.api.sent), len(self.api.edits)
        await self.app.process_update(Update.de_json(update, self.app.bot))
        new = [m.text for m in self.api.sent[sent:] if m.chat_id == user_id]
        edited = [
            str(e["text"]) for e in self.api.edits[edits:] if "text" in e and int(e["chat_id"]) == user_id
        ]
        return edited + new

    async def press(self, user_id: int, data: str) -> list[str]:
        """Press ``data`` on the last message the bot sent this person (a card, an answer)."""
        message = self.api.messages_to(user_id)[-1]
        return await self._run(user_id, self.api.press_update(user_id, message, data))

    def last_message(self, user_id: int) -> SentMessage:
        return self.api.messages_to(user_id)[-1]

    async def press_on(self, user_id: int, message: SentMessage, data: str) -> list[str]:
        """Press ``data`` on a message as the person saw it then (a stale copy: a second tap)."""
        return await self._run(user_id, self.api.press_update(user_id, message, data))

    async def press_label(self, user_id: int, label: str) -> list[str]:
        """Press the button labelled ``label`` on the last message with buttons."""
        message = next(m for m in reversed(self.api.messages_to(user_id)) if m.buttons)
        data = message.button(label)["callback_data"]
        return await self._run(user_id, self.api.press_update(user_id, message, data))

    async def say(self, user_id: int, text: str) -> list[str]:
        return await self._run(user_id, self.api.text_update(user_id, text))

    async def card(self, user_id: int, number: str) -> None:
        """A message in the person's chat to press on, as the approval card would be."""
        await self.app.bot.send_message(user_id, f"Usulan {number} (kartu)")


@dataclasses.dataclass
class WhatsAppDriver:
    """The same presses and messages through the real WhatsApp channel (``tests.whatsapp_driver``): each
    person is their roster number's wa_id, bound by their business-scoped user id; a press is a signed
    ``button_reply`` webhook whose context is the message pressed on. Returns the texts they then got."""

    driver: WhatsAppChannelDriver
    channel = "whatsapp"

    @property
    def fake(self) -> FakeWhatsApp:
        return self.driver.fake

    def account(self, user_id: int) -> tuple[str, str]:
        wa_id = wa_id_of(PHONES[user_id])
        return self.fake.user_id_for(wa_id), wa_id

    def messages_to(self, user_id: int) -> list[WhatsAppMessage]:
        return self.fake.messages_to(wa_id_of(PHONES[user_id]))

    async def _run(self, user_id: int, webhook: Webhook) -> list[str]:
        have = len(self.messages_to(user_id))
        await self.driver.deliver(webhook)
        return [m.text for m in self.messages_to(user_id)[have:]]

    def last_message(self, user_id: int) -> WhatsAppMessage:
        return self.messages_to(user_id)[-1]

    async def press(self, user_id: int, data: str) -> list[str]:
        """Press a button with ``data`` on the last message the bot sent this person."""
        return await self.press_on(user_id, self.messages_to(user_id)[-1], data)

    async def press_on(self, user_id: int, message: WhatsAppMessage, data: str) -> list[str]:
        wa_id = wa_id_of(PHONES[user_id])
        return await self._run(user_id, self.fake.button_reply(wa_id, data, "Tombol", message.wamid))

    async def press_label(self, user_id: int, label: str) -> list[str]:
        """Press the reply button (or list row) labelled ``label`` on the last message offering it."""
        wa_id = wa_id_of(PHONES[user_id])
        for message in reversed(self.messages_to(user_id)):
            for button in message.buttons:
                if label.lower() in button.title.lower():
                    webhook = self.fake.button_reply(wa_id, button.id, button.title, message.wamid)
                    return await self._run(user_id, webhook)
            for row in message.rows:
                if label.lower() in row.title.lower():
                    webhook = self.fake.list_reply(wa_id, row.id, row.title, message.wamid)
                    return await self._run(user_id, webhook)
        raise AssertionError(f"no {label!r} shown to {wa_id}")

    async def say(self, user_id: int, text: str) -> list[str]:
        return await self._run(user_id, self.fake.text_update(wa_id_of(PHONES[user_id]), text))

    async def card(self, user_id: int, number: str) -> None:
        """A message in the person's chat to press on, as the approval card would be (their window is
        open: a card reaches an officer who wrote, or waits behind a template)."""
        wa_id = wa_id_of(PHONES[user_id])
        self.fake.last_inbound[wa_id] = self.fake.clock()
        await self.driver.service.client.send_message(to=wa_id, text=f"Usulan {number} (kartu)")
        self.driver.check_refusals()


@pytest.fixture
def whatsapp_fakes() -> list[FakeWhatsApp]:
    """The fake Cloud APIs a test's WhatsApp drivers sent to (checked after the test)."""
    return []


@pytest.fixture
def bot(
    request: pytest.FixtureRequest,
    app: Application,  # type: ignore[type-arg]
    fake_api: FakeBotApi,
    whatsapp_fakes: list[FakeWhatsApp],
) -> Driver | WhatsAppDriver:
    """Telegram's driver; ``@pytest.mark.parametrize("bot", ["telegram", "whatsapp"], indirect=True)``
    runs a test on both channels."""
    if getattr(request, "param", "telegram") == "telegram":
        return Driver(app, fake_api)
    driver: WhatsAppChannelDriver = request.getfixturevalue("whatsapp")
    whatsapp_fakes.append(driver.fake)
    return WhatsAppDriver(driver)


BOTH_CHANNELS = pytest.mark.parametrize("bot", ["telegram", "whatsapp"], indirect=True)


async def bind_everyone(services: Services, bot: Driver | WhatsAppDriver | None = None) -> dict[int, int]:
    """ROSTER (the fixture seeds it) and MORE, all bound straight in the database, on ``bot``'s channel
    (Telegram without one); user id -> officer id."""
    channel = bot.channel if bot is not None else "telegram"
    account = bot.account if bot is not None else (lambda user_id: (str(user_id), str(user_id)))
    async with services.sessions() as session:
        session.add_all(Officer.model_validate(row) for row in MORE)
        await session.flush()
        by_phone = {o.phone: o.id for o in await session.exec(select(Officer))}
        ids = {user_id: by_phone[phone] or 0 for user_id, phone in PHONES.items()}
        session.add_all(
            ChatAccount(
                channel=channel,
                external_id=account(user_id)[0],
                chat_id=account(user_id)[1],
                officer_id=officer_id,
                bound_at=utcnow(),
            )
            for user_id, officer_id in ids.items()
        )
        await session.commit()
    return ids


async def make_proposal(
    services: Services, officers: dict[int, int], status: Status, *, serial: int = 1, name: str = NAME
) -> Proposal:
    """A proposal of Desa Tomok by Rina, already in ``status``, with the audit trail that led there."""
    nik = synthetic_nik(serial=serial)
    async with services.sessions() as session:
        proposal = Proposal(
            desa_code=TOMOK,
            kecamatan_code=SIMANINDO,
            name=name,
            birth_date=dt.date(1990, 8, 15),
            gender="L",
            category="petani",
            address="Dusun II, RT 002/RW 001",
            status=status,
            officer_id=officers[RINA],
            nik_encrypted=services.vault.encrypt(nik),
            nik_hash=services.vault.hash(nik),
            nik_birth_date=dt.date(1990, 8, 15),
            nik_gender="L",
            submitted_at=T_SUBMIT,
            decided_at=TRAIL[status][-1][-1] if TRAIL[status] else None,
        )
        if status is Status.DIKEMBALIKAN:
            proposal.fix_fields = ["name"]
            proposal.returned_values = snapshot(proposal)
        session.add(proposal)
        await session.flush()
        assert proposal.id is not None
        events = [(RINA, "submit", Status.DRAFT, Status.MENUNGGU_CAMAT, None, T_SUBMIT), *TRAIL[status]]
        for user_id, action, before, after, reason, at in events:
            session.add(
                AuditEvent(
                    proposal_id=proposal.id,
                    officer_id=officers[user_id],
                    action=action,
                    from_status=before.value,
                    to_status=after.value,
                    reason=reason,
                    at=at,
                )
            )
        await session.commit()
        return proposal


@dataclasses.dataclass(frozen=True)
class Snapshot:
    proposals: dict[int, dict[str, Any]]
    audit: int
    outbox: int
    conversations: int
    program_years: tuple[tuple[int, int, int], ...]


async def snapshot_db(services: Services) -> Snapshot:
    """What a refused press must leave exactly as it was."""
    counts = [
        select(func.count()).select_from(AuditEvent).scalar_subquery(),
        # Messages queued to others; a refused press's answer (a reply row) is no change of state
        select(func.count())
        .select_from(OutboundMessage)
        .where(col(OutboundMessage.reply).is_(False))
        .scalar_subquery(),
        select(func.count()).select_from(Conversation).scalar_subquery(),
    ]
    async with services.sessions() as session:
        proposals = {p.id or 0: p.model_dump() for p in await session.exec(select(Proposal))}
        audit, outbox, conversations = (await session.exec(select(*counts))).one()
        years = tuple(
            (y.year, y.new_quota, y.new_established) for y in await session.exec(select(ProgramYear))
        )
        return Snapshot(proposals, audit, outbox, conversations, years)


async def audit_of(services: Services, proposal_id: int) -> list[tuple[str, str | None, str | None, int]]:
    async with services.sessions() as session:
        rows = await session.exec(
            select(AuditEvent).where(AuditEvent.proposal_id == proposal_id).order_by(col(AuditEvent.id))
        )
        return [(e.action, e.from_status, e.to_status, e.officer_id) for e in rows]


async def status_of(services: Services, proposal_id: int) -> Status:
    async with services.sessions() as session:
        proposal = await session.get(Proposal, proposal_id)
        assert proposal is not None
        return proposal.status


def callback_data_sent(api: FakeBotApi) -> list[str]:
    """Every callback_data on every message the bot sent or edited, as the Bot API received it."""
    found: list[str] = []
    for _, params in api.calls:
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        for row in (markup or {}).get("inline_keyboard", []):
            found.extend(str(b["callback_data"]) for b in row if "callback_data" in b)
    return found


@pytest.fixture(autouse=True)
async def buttons_carry_only_ids(
    services: Services, fake_api: FakeBotApi, whatsapp_fakes: list[FakeWhatsApp]
) -> AsyncIterator[None]:
    """After each test: every button the bot sent (or queued) is at most 64 bytes and carries no NIK; on
    WhatsApp every reply button's and list row's id is at most 256 characters and carries no NIK."""
    yield
    data = callback_data_sent(fake_api)
    async with services.sessions() as session:
        for message in await session.exec(select(OutboundMessage)):
            data.extend(button[1] for row in message.buttons for button in row)
    too_long = [d for d in data if len(d.encode()) > 64]
    with_nik = [d for d in data if NIK_RE.search(d)]
    assert not too_long, too_long
    assert not with_nik, with_nik
    ids = [
        i
        for fake in whatsapp_fakes
        for m in fake.sent
        for i in [b.id for b in m.buttons] + [r.id for r in m.rows]
    ]
    assert not [i for i in ids if len(i) > 256], ids
    assert not [i for i in ids if NIK_RE.search(i)], ids


def refusal_text(outcome: str, number: str, status: Status) -> str:
    """The exact text a refused press answers."""
    if outcome == NY:
        return texts.NOT_YOURS
    if outcome == NR:
        return texts.FIX_NOT_RETURNED
    if outcome == NOT_YET:
        return texts.not_yet_yours(number, status)
    assert outcome == AD
    return texts.already_decided(number, status, LAST_DECISION[status])


# ---------------------------------------------------------------------------------------------- matrix


# The rules do not differ between databases (PostgreSQL where behaviour differs): the matrix
# runs on SQLite; the races below, where the database decides, run on both.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("role", "region", "action", "status", "outcome"), matrix())
@BOTH_CHANNELS
async def test_authorization_matrix(
    services: Services,
    bot: Driver | WhatsAppDriver,
    role: str,
    region: str,
    action: str,
    status: Status,
    outcome: str,
):
    """Each role × own/other region × action × status: the expected change, or a clear refusal and none,
    in the same words on Telegram and WhatsApp."""
    officers = await bind_everyone(services, bot)
    proposal = await make_proposal(services, officers, status)
    assert proposal.id is not None
    number = proposal.number
    actor = ACTORS[(role, region)]
    await bot.card(actor, number)
    before = await snapshot_db(services)

    replies = [await bot.press(actor, data.format(id=proposal.id)) for data in ACTION_PRESSES[action]]
    if outcome == TO_MC:  # Perbaiki was accepted: correct the name, then Kirim
        assert texts.ASK_NAME in "\n".join(replies[-1])
        replies.append(await bot.say(actor, "Budi Santosa"))
        replies.append(await bot.press_label(actor, "Kirim"))

    after = await snapshot_db(services)
    seen = "\n".join(text for reply in replies for text in reply)
    row = after.proposals[proposal.id]
    if outcome.startswith("→"):
        assert row["status"] is Status(outcome[1:])
        assert after.audit == before.audit + 1
        trail = await audit_of(services, proposal.id)
        kind = "resubmit" if action == "fix" else action
        assert trail[-1] == (kind, status.value, outcome[1:], officers[actor])
        assert after.outbox > before.outbox  # the proposer and/or the next approvers are told
        if action == "fix":
            assert f"Perbaikan usulan {number} terkirim" in replies[-1][-1]
            assert (row["name"], row["resubmissions"], row["fix_fields"]) == ("BUDI SANTOSA", 1, [])
        else:
            assert f"{DECIDED_VERB[action]} oleh {TITLE_AND_NAME[actor]}" in replies[-1][-1]
        if action == "reject":
            assert "Alasan/catatan: bukan pekerja rentan" in replies[-1][-1]
        if action == "return":
            assert row["fix_fields"] == ["name"]
    elif outcome == NIK_SHOWN:
        assert after.proposals == before.proposals
        assert after.audit == before.audit + 1
        assert (await audit_of(services, proposal.id))[-1] == ("reveal_nik", None, None, officers[actor])
        assert after.outbox == before.outbox
        assert replies == [[texts.nik_revealed(number, NAME, NIK)]]
    else:
        assert after == before  # status, every column, audit, outbox, open conversations: all as they were
        assert replies[0] == [refusal_text(outcome, number, status)]
        assert all(reply == [texts.STALE_BUTTON] for reply in replies[1:])  # the rest of the Kembalikan flow
    if outcome != NIK_SHOWN:  # the full NIK only where Lihat NIK was allowed
        assert NIK not in seen
        assert not NIK_RE.search(seen)


# ------------------------------------------------------------------------------------- second presses


@BOTH_CHANNELS
async def test_second_press_of_the_same_button_records_one_decision(
    services: Services, bot: Driver | WhatsAppDriver
):
    """The camat taps Setujui twice: one approval, and the second tap is told who decided it and when."""
    officers = await bind_everyone(services, bot)
    proposal = await make_proposal(services, officers, Status.MENUNGGU_CAMAT)
    assert proposal.id is not None
    await bot.card(JONSON, proposal.number)
    card = bot.last_message(JONSON)

    first = await bot.press_on(JONSON, card, f"d:{proposal.id}:ok")
    before = await snapshot_db(services)
    second = await bot.press_on(JONSON, card, f"d:{proposal.id}:ok")

    assert len(first) == 1
    assert "✅ Disetujui oleh Camat Jonson Simbolon" in first[0]
    assert await snapshot_db(services) == before
    [event] = [e for e in await audit_of(services, proposal.id) if e[0] == "approve"]
    assert event == ("approve", "menunggu_camat", "menunggu_dinas", officers[JONSON])
    when = services.local_time(await approved_at(services))
    assert second == [
        f"Usulan {proposal.number} sudah tidak menunggu keputusan Anda: menunggu verifikasi Diskopnaker. "
        f"✅ Disetujui oleh Camat Jonson Simbolon, {when}. Tidak ada yang berubah."
    ]


def hold_until_both(monkeypatch: pytest.MonkeyPatch, services: Services, name: str) -> Callable[[], int]:
    """On PostgreSQL, make the first two calls of ``store.<name>`` wait for each other, so both turns have
    read the proposal before either writes: the compare-and-set (not luck) decides. SQLite runs turns one
    at a time on its single connection, where waiting would only stall: there it is left alone."""
    calls = 0
    if is_sqlite(services.database_url):
        return lambda: calls
    original = getattr(store, name)
    both = asyncio.Event()

    async def held(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            both.set()
        if calls <= 2:
            await asyncio.wait_for(both.wait(), 10)
        return await original(*args, **kwargs)

    monkeypatch.setattr(store, name, held)
    return lambda: calls


async def both_at_once(*presses: Coroutine[Any, Any, list[str]]) -> list[list[str]]:
    return list(await asyncio.gather(*presses))


async def test_two_camats_press_setujui_at_the_same_moment(
    services: Services, bot: Driver, monkeypatch: pytest.MonkeyPatch
):
    """Jonson and Dewi (both camat of Simanindo) press Setujui together: one approval, the other is told."""
    officers = await bind_everyone(services)
    proposal = await make_proposal(services, officers, Status.MENUNGGU_CAMAT)
    assert proposal.id is not None
    for user_id in (JONSON, DEWI):
        await bot.card(user_id, proposal.number)
    held = hold_until_both(monkeypatch, services, "change_status")

    jonson, dewi = await both_at_once(
        bot.press(JONSON, f"d:{proposal.id}:ok"), bot.press(DEWI, f"d:{proposal.id}:ok")
    )

    assert await status_of(services, proposal.id) is Status.MENUNGGU_DINAS
    approvals = [e for e in await audit_of(services, proposal.id) if e[0] == "approve"]
    assert len(approvals) == 1
    winner, loser = (jonson, dewi) if approvals[0][3] == officers[JONSON] else (dewi, jonson)
    winner_name = "Jonson Simbolon" if winner is jonson else "Dewi Sirait"
    assert len(winner) == 1
    assert f"✅ Disetujui oleh Camat {winner_name}" in winner[0]
    assert loser == [
        texts.already_decided(
            proposal.number,
            Status.MENUNGGU_DINAS,
            texts.decided_by(
                "approve", Role.CAMAT, winner_name, services.local_time(await approved_at(services))
            ),
        )
    ]
    if not is_sqlite(services.database_url):
        assert held() == 2  # both turns reached the write: the loser lost the compare-and-set


async def approved_at(services: Services) -> dt.datetime:
    async with services.sessions() as session:
        return (await session.exec(select(AuditEvent.at).where(AuditEvent.action == "approve"))).one()


async def test_two_dinas_establish_the_last_quota_place_at_once(
    services: Services, fake_api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
):
    """Quota 1: Maria and Ester press Tetapkan on two proposals together; one is established, one waits."""
    quota_one = dataclasses.replace(services, new_participant_quota=1)
    application = build_application(
        Engine(quota_one), token=TOKEN, base_url="http://offline/bot", request=OfflineRequest(fake_api),
        get_updates_request=OfflineRequest(fake_api),
    )  # fmt: skip
    await application.initialize()
    try:
        bot = Driver(application, fake_api)
        officers = await bind_everyone(services)
        first = await make_proposal(services, officers, Status.MENUNGGU_DINAS, serial=1)
        second = await make_proposal(services, officers, Status.MENUNGGU_DINAS, serial=2, name="SITI AMINAH")
        assert first.id is not None
        assert second.id is not None
        await bot.card(MARIA, first.number)
        await bot.card(ESTER, second.number)
        before = await snapshot_db(services)
        held = hold_until_both(monkeypatch, services, "take_quota_place")

        maria, ester = await both_at_once(
            bot.press(MARIA, f"d:{first.id}:est"), bot.press(ESTER, f"d:{second.id}:est")
        )
    finally:
        await application.shutdown()

    statuses = {
        first.id: await status_of(services, first.id),
        second.id: await status_of(services, second.id),
    }
    assert sorted(statuses.values()) == sorted([Status.DITETAPKAN, Status.MENUNGGU_DINAS])
    won = first if statuses[first.id] is Status.DITETAPKAN else second
    lost = second if won is first else first
    winner, loser = (maria, ester) if won is first else (ester, maria)
    assert len(winner) == 1
    assert "🏁 Ditetapkan oleh Diskopnaker" in winner[0]
    assert loser == [texts.quota_full(2026, 1)]
    after = await snapshot_db(services)
    assert after.proposals[lost.id or 0] == before.proposals[lost.id or 0]
    assert after.audit == before.audit + 1
    assert after.program_years == ((2026, 1, 1),)
    if not is_sqlite(services.database_url):
        assert held() == 2


# ---------------------------------------------------------------------------------------- forged data

# (who presses, the data, what they are told). Proposal 1 waits for the camat; proposal 2 is a draft.
FORGED = [
    (JONSON, "d:999999:ok", texts.UNKNOWN_PROPOSAL),
    (JONSON, "d:abc:ok", texts.STALE_BUTTON),
    (JONSON, "x:1", texts.STALE_BUTTON),
    (JONSON, "d:1:" + "o" * 61, texts.STALE_BUTTON),  # 65 bytes, more than Telegram carries
    (JONSON, "d:1:ok:extra", texts.STALE_BUTTON),
    (JONSON, "d:1", texts.STALE_BUTTON),
    (JONSON, "", texts.STALE_BUTTON),
    (JONSON, "r:1:bogus", texts.STALE_BUTTON),
    (JONSON, "f:1:skip", texts.STALE_BUTTON),  # the last step of Kembalikan, without the steps before it
    (JONSON, "d:2:ok", texts.UNKNOWN_PROPOSAL),  # a draft is nobody's to decide
    (JONSON, "p:1", texts.NOT_YOURS),
    (JONSON, "p:abc", texts.STALE_BUTTON),
    (JONSON, "i:zzzzzz:summary:send", texts.STALE_BUTTON),  # an intake Kirim of no conversation
    (RINA, "b:go:1", texts.NOT_YOURS),
    (RINA, "p:999999", texts.NOT_YOURS),
    (MARIA, "d:2:nik", texts.UNKNOWN_PROPOSAL),
    (MARIA, "q:abc", texts.STALE_BUTTON),
    (HOTMAN, "o:1", texts.NOT_YOURS),  # open another kecamatan's card
    (SAHAT, "o:1", texts.NOT_YOURS),
    (SAHAT, "q:1", texts.ONLY_APPROVERS_QUEUE),  # the queue of a dinas whose region is not this kabupaten
    (SAHAT, "b:ask", texts.NOT_YOURS),
]


@pytest.mark.parametrize(
    ("user_id", "data", "told"),
    [pytest.param(u, d, t, id=f"{u}-{d[:20]}") for u, d, t in FORGED],
)
@BOTH_CHANNELS
async def test_forged_button_data_changes_nothing(
    services: Services, bot: Driver | WhatsAppDriver, user_id: int, data: str, told: str
):
    """Forged or malformed data gets a clear Indonesian answer and changes nothing, on either channel."""
    officers = await bind_everyone(services, bot)
    waiting = await make_proposal(services, officers, Status.MENUNGGU_CAMAT)
    async with services.sessions() as session:  # a draft of Rina's, id 2
        session.add(Proposal(desa_code=TOMOK, kecamatan_code=SIMANINDO, officer_id=officers[RINA]))
        await session.commit()
    assert waiting.id == 1
    await bot.card(user_id, waiting.number)
    before = await snapshot_db(services)

    reply = await bot.press(user_id, data)

    assert reply == [told]
    assert await snapshot_db(services) == before


@BOTH_CHANNELS
async def test_forged_bulk_go_still_checks_region(services: Services, bot: Driver | WhatsAppDriver):
    """A forged ``b:go`` approves nothing: the list it approves is the one the presser's own confirmation
    counted (their kecamatan's), kept in the database; the other kecamatan's camat has none."""
    officers = await bind_everyone(services, bot)
    waiting = await make_proposal(services, officers, Status.MENUNGGU_CAMAT)
    assert waiting.id is not None
    await bot.card(HOTMAN, waiting.number)
    before = await snapshot_db(services)

    assert await bot.press(HOTMAN, "b:go") == [texts.BULK_ALREADY_DONE]
    assert await bot.press(HOTMAN, f"b:go:{waiting.id}") == [texts.STALE_BUTTON]
    assert await bot.press(HOTMAN, "b:ask") == [texts.NOTHING_WITHOUT_WARNINGS]
    assert await bot.press(HOTMAN, "b:go") == [texts.BULK_ALREADY_DONE]
    assert await snapshot_db(services) == before
    assert await status_of(services, waiting.id) is Status.MENUNGGU_CAMAT


@BOTH_CHANNELS
async def test_a_dinas_of_another_kabupaten_gets_no_card(services: Services, bot: Driver | WhatsAppDriver):
    """Approving queues Diskopnaker cards only for the dinas whose region covers the proposal."""
    officers = await bind_everyone(services, bot)
    proposal = await make_proposal(services, officers, Status.MENUNGGU_CAMAT)
    await bot.card(JONSON, proposal.number)

    await bot.press(JONSON, f"d:{proposal.id}:ok")

    async with services.sessions() as session:
        to = {m.officer_id for m in await session.exec(select(OutboundMessage)) if m.buttons}
    assert to == {officers[MARIA], officers[ESTER]}


@pytest.mark.parametrize("command", ["/status U-00001", "/riwayat U-00001"])
@pytest.mark.parametrize(
    ("user_id", "sees"),
    [(RINA, True), (LAMRIA, False), (JONSON, True), (HOTMAN, False), (MARIA, True), (SAHAT, False)],
)
@BOTH_CHANNELS
async def test_commands_recheck_the_region_too(
    services: Services, bot: Driver | WhatsAppDriver, user_id: int, sees: bool, command: str
):
    """/status and /riwayat show a proposal only inside the officer's region, never its full NIK."""
    officers = await bind_everyone(services, bot)
    await make_proposal(services, officers, Status.MENUNGGU_DINAS)
    before = await snapshot_db(services)

    reply = await bot.say(user_id, command)

    assert await snapshot_db(services) == before
    if sees:
        assert len(reply) == 1
        assert "U-00001" in reply[0]
        assert NAME in reply[0]
    else:
        assert reply == [texts.STATUS_NOT_FOUND]
    assert not NIK_RE.search("\n".join(reply))
