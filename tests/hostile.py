"""Hostile inputs for the conversation engine: generators and checks, shared by
``tests/handlers/test_hostile.py`` (a few hundred examples per step) and ``benchmarks/fuzz.py`` (10.000).

Inputs are :class:`Inbound` values built as ``bot.channels.telegram.to_inbound`` builds them (texts and
commands through ``Inbound.from_text``, presses with the pressed message's id, contacts with the phone and
whose contact it is, anything else as ``Kind.OTHER``), each with an update id, sometimes one already used.
:meth:`Harness.send` hands one to ``Engine.handle`` and checks what came back:

- **answered**: at least one reply, unless the silence is intended: an update id handled before, or an
  unbound account answered the same kind of message within the interval (``onboarding.limited_answer``);
- **no internal error**: no ``texts.TRY_AGAIN_LATER`` and no "handling a ... failed" logged;
- **within Telegram's limits** after the channel's merge and split: each message 1–4.096 characters (and
  UTF-16 units, as Telegram counts) and not blank, a caption at most 1.024, button data 1–64 bytes, labels
  not blank;
- **no full NIK**: nothing shaped like one (16 digits, single separators allowed) in any reply, except
  the NIK line of the read-back after it was typed, of the summary before Kirim, and of Lihat NIK.

Whether the conversation is intact is the caller's check (it knows which state it drove the officer to).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from hypothesis import strategies as st
from sqlmodel import col, select

from bot.channels.telegram import MAX_CAPTION, MAX_TEXT, merge, split_text
from handlers import onboarding, texts
from handlers.context import Services
from handlers.engine import Engine
from handlers.messages import Inbound, Kind, Reply
from models import store
from models.rules.categories import CATEGORIES
from models.rules.fields import (
    FieldError,
    clean_address,
    clean_description,
    clean_mobile,
    clean_name,
    parse_birth_date,
    parse_gender,
)
from models.rules.nik import read_nik
from models.rules.status import Status
from models.tables import AuditEvent, ChatAccount, Conversation, Officer, Proposal, utcnow
from tests.conftest import CAMAT_PHONE, DINAS_PHONE, OPERATOR_PHONE, sent_proposal, synthetic_nik

CHANNEL = "telegram"
# 16 digits, perhaps with up to two separators between any two of them: spaces (not a line break), dots,
# dashes, slashes, underscores (1217 0115 0890 0001, 1217/0115/0890/0001, 1217 - 0115 ...).
NIK_SHAPED = re.compile(r"(?<![0-9])(?:[0-9](?:[^\S\n]|[./\-_]){0,2}){15}[0-9](?![0-9])")
MAX_BUTTON_DATA = 64  # bytes, Telegram's limit for callback_data
LEAK = "full NIK shown"

# The lines that may show a full NIK: the read-back right after it was typed, the summary before Kirim,
# and Lihat NIK (built from the texts themselves, so a reworded text keeps its exemption).
_READ_BACK = texts.nik_read_back("0", dt.date(2000, 1, 1), "L", None, None).split("0", 1)
_SUMMARY_HEAD = texts.summary(
    nik="0", name="-", birth_date=dt.date(2000, 1, 1), gender="L", category="-", address="-", phone=None,
    desa_label="-", warnings=[],
).split("\n")  # fmt: skip
_REVEALED = texts.nik_revealed("U-1", "-", "0").split("\n", 1)[0].split("U-1")[0]


def nik_exempt(text: str) -> str:
    """``text`` without what may show a full NIK: the read-back's and Lihat NIK's first line, the whole
    summary before Kirim (the officer's own answers, as typed)."""
    lines = text.split("\n")
    if lines[0].startswith(_READ_BACK[0]) and lines[0].endswith(_READ_BACK[1].split("\n", 1)[0]):
        return "\n".join(lines[1:])
    if lines[0] == _SUMMARY_HEAD[0] and len(lines) > 1 and lines[1].startswith(_SUMMARY_HEAD[1][:-1]):
        return ""
    if lines[0].startswith(_REVEALED):
        return "\n".join(lines[1:])
    return text


# ------------------------------------------------------------------------------------------- generators

CONTROL = [chr(c) for c in (*range(0, 32), 127)] + list("\u200b\u200c\u200d\u200e\u200f\u2028\u2029\ufeff")
RTL = list("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
EMOJI = ["🙂", "👍🏽", "👨‍👩‍👧‍👦", "🇮🇩", "🏁", "✅", "❌", "↩️", "💩", "\U0001f9d1\u200d\U0001f33e"]
ODD_DIGITS = ["²", "١", "٤٢", "０", "𝟙", "Ⅻ", "⁴"]
# Words the bot understands somewhere: they make the fuzz reach the paths behind the first answer.
WORDS = [
    "batal", "/batal", "kembali", "ringkasan", "ya", "benar", "tidak", "salah", "lewati", "skip", "-",
    "kirim", "ubah", "petani", "nelayan", "lainnya", "1", "5", "12", "L", "P", "laki-laki", "perempuan",
    "15-08-1990", "31-02-1990", "01-01-1900", "Budi Santoso", "Siti", "Dusun I", "RT 002/RW 001",
    "0812-3456-7890", "+62 812 3456 7890", "nama", "alamat", "hp", "tanggal lahir", "U-00001", "#1",
    texts.MENU_DAFTAR, texts.MENU_DAFTARKU, texts.MENU_BANTUAN, texts.MENU_ANTRIAN,
    "bukan pekerja rentan sama sekali", "Nama salah ketik",
]  # fmt: skip
COMMANDS = [
    "start", "daftar", "daftarku", "status", "riwayat", "antrian", "gagal", "rekap", "ringkasan", "ekspor",
    "batal", "bantuan", "help", "persona", "x", "DAFTAR", "daftar@LanjutkanBot", "start@other_bot", "",
]  # fmt: skip
PREFIXES = ["d", "r", "f", "q", "o", "b", "p", "x", "i", "", "D", "dd", "ｄ"]
ACTIONS = [
    "ok", "no", "ret", "est", "nik", "back", "go", "ask", "skip", "next", "new", "lain", "rentan", "name",
    "bpjs", "lampiran", "usulan", "send", "edit", "cancel", "L", "P", "0", "date", "gender",
]  # fmt: skip

chars = st.characters(exclude_categories=("Cs",))  # any code point a JSON update can carry


@st.composite
def nik_like(draw: st.DrawFn) -> str:
    """A synthetic NIK, plain or written with separators, sometimes a digit short or long."""
    nik = synthetic_nik(serial=draw(st.integers(1, 9999)), day=draw(st.integers(1, 28)))
    nik = nik[: draw(st.sampled_from([16, 16, 16, 15]))] + draw(st.sampled_from(["", "", "7"]))
    separator = draw(st.sampled_from(["", " ", ".", "-", "/", "  ", "\u00a0"]))
    groups = [nik[i : i + 4] for i in range(0, len(nik), 4)]
    return separator.join(groups)


def text_strategy() -> st.SearchStrategy[str]:
    """Typed text: anything, control characters, RTL overrides, emoji, odd digits, NIKs, 4.000+ characters,
    and the words the bot knows (alone or with junk around them)."""
    pieces = CONTROL + RTL + EMOJI + ODD_DIGITS + list("aZ09 -./:_\n\t")
    junk = st.lists(st.sampled_from(pieces), max_size=30).map("".join)
    long = st.builds(
        lambda unit, n: (unit * (n // max(len(unit), 1) + 1))[:n],
        st.sampled_from(["a", "1", "🙂", "👨‍👩‍👧‍👦", "\u202e", "x\n", "1217011508900001 "]),
        st.integers(4000, 4200),
    )
    words = st.sampled_from(WORDS)
    return st.one_of(
        st.text(chars, max_size=60),
        junk,
        words,
        st.builds(lambda a, w, b: a + w + b, junk, words, junk),
        nik_like(),
        # A NIK inside a sentence (a reason, a note, an address, as officers write them): often, since
        # what is typed there is shown to others.
        *[st.builds(lambda w, n, t: f"{w} {n}{t}", words, nik_like(), st.sampled_from(["", ".", " ya"]))] * 3,
        long,
    )


def id_strategy() -> st.SearchStrategy[str]:
    """What stands where a button carries an id: small, huge, just past PostgreSQL's integer, odd digits."""
    return st.one_of(
        st.integers(0, 5).map(str),
        st.sampled_from(["2147483647", "2147483648", "99999999999999999999", "-1", "1.0", "1.99999", "1²"]),
        st.sampled_from(ODD_DIGITS),
        st.text(chars, max_size=12),
    )


def button_strategy(shown: Sequence[str]) -> st.SearchStrategy[str]:
    """Button data: what is shown now, that with one part changed, our grammar with junk, any text."""
    structured = st.builds(
        lambda prefix, parts: ":".join([prefix, *parts]),
        st.sampled_from(PREFIXES),
        st.lists(st.one_of(id_strategy(), st.sampled_from(ACTIONS)), max_size=4),
    )
    options = [structured, st.text(chars, max_size=80), st.text(chars, min_size=60, max_size=120)]
    if shown:
        options.insert(0, st.sampled_from(list(shown)))
        options.insert(
            1,
            st.builds(_mutate, st.sampled_from(list(shown)), st.integers(0, 5), st.text(chars, max_size=12)),
        )
    return st.one_of(*options)


def _mutate(data: str, index: int, junk: str) -> str:
    parts = data.split(":")
    parts[index % len(parts)] = junk
    return ":".join(parts)


def phone_strategy() -> st.SearchStrategy[str]:
    """A contact's phone: numbers on no roster, foreign, junk, empty, absurdly long."""
    return st.one_of(
        st.integers(10_000_000, 99_999_999).map(lambda n: f"+62813{n}"),
        st.sampled_from(["", "0", "+", "+1 202 555 0100", "08", "６２８１２", "+62 813 9999 0000", "1" * 64]),
        st.text(chars, max_size=30),
    )


@dataclass(frozen=True)
class Draw:
    """What to send, before the harness gives it an update id: ``repeat`` reuses the last one."""

    inbound: Inbound
    repeat: bool = False


def inbound_strategy(user_id: str, shown: Sequence[str] = ()) -> st.SearchStrategy[Draw]:
    """One message from ``user_id`` of any kind, as the Telegram channel would build it."""
    return _inbound_strategy(user_id, tuple(shown))


@functools.lru_cache(maxsize=256)
def _inbound_strategy(user_id: str, shown: tuple[str, ...]) -> st.SearchStrategy[Draw]:
    # Built once per (user, buttons shown): Hypothesis validates a new strategy on its first draw, which
    # costs more than the engine's turn.
    text = st.builds(
        lambda t: Inbound.from_text(channel=CHANNEL, user_id=user_id, chat_id=user_id, text=t),
        text_strategy(),
    )
    command = st.builds(
        lambda name, sep, args: Inbound.from_text(
            channel=CHANNEL, user_id=user_id, chat_id=user_id, text=f"/{name}{sep}{args}"
        ),
        st.sampled_from(COMMANDS),
        st.sampled_from([" ", "  ", "\n", "\t", ""]),
        st.one_of(st.just(""), text_strategy(), id_strategy()),
    )
    button = st.builds(
        lambda data, ref: Inbound(CHANNEL, user_id, user_id, Kind.BUTTON, data=data, message_ref=ref),
        button_strategy(shown),
        st.one_of(st.none(), st.integers(1, 10**6).map(str)),
    )
    contact = st.builds(
        lambda phone, whose: Inbound(
            CHANNEL, user_id, user_id, Kind.CONTACT, contact_phone=phone, contact_user_id=whose
        ),
        phone_strategy(),
        st.one_of(st.just(user_id), st.none(), st.sampled_from(["1", "0", "-1", user_id + "0"])),
    )
    other = st.just(Inbound(CHANNEL, user_id, user_id, Kind.OTHER))
    message = st.one_of(text, text, command, button, button, contact, other)
    return st.builds(Draw, message, st.sampled_from([False] * 15 + [True]))


def corpus(user_id: str) -> list[Draw]:
    """Known-nasty inputs sent before the random ones, so each run covers them whatever Hypothesis draws."""
    nik = synthetic_nik(serial=4321)
    spelled = [
        sep.join(nik[i : i + 4] for i in range(0, 16, 4))
        for sep in ["", " ", ".", "-", "/", "  ", "\u00a0", "_"]
    ]
    typed = [
        "", " ", "\x00", "a\x00b", "\u202eKIRIM", "\u202e" + nik, "🙂" * 4100, "a" * 4097, "x\n" * 2100,
        "/", "/ ", "//", "/start \x00", "/daftar\x00", "/status U-2147483648", "/status U-١",
        "/riwayat " + nik, "/ekspor ../../etc/passwd", "/batal " + "🙂" * 500, texts.MENU_DAFTAR + "\u200b",
        *spelled, *(f"Alasan: NIK {s} salah ketik" for s in spelled), *(f"Dusun {s}" for s in spelled),
    ]  # fmt: skip
    presses = [
        "", ":", "::::", "i:::", "p:²", "q:1²", "p:99999999999999999999", "p:2147483648", "d:2147483648:ok",
        "o:2147483648", "d:1.99999:ok", "b:go:1", "x:../bpjs", "x" * 65, "é" * 40, "\x00", "d:1:" + nik,
    ]  # fmt: skip
    draws = [Inbound.from_text(channel=CHANNEL, user_id=user_id, chat_id=user_id, text=t) for t in typed]
    draws += [Inbound(CHANNEL, user_id, user_id, Kind.BUTTON, data=d, message_ref="1") for d in presses]
    draws += [
        Inbound(CHANNEL, user_id, user_id, Kind.CONTACT, contact_phone=phone, contact_user_id=whose)
        for phone, whose in [("", user_id), ("+62 813 9999 0000", None), ("\x00", user_id), (nik, user_id)]
    ]
    draws.append(Inbound(CHANNEL, user_id, user_id, Kind.OTHER))
    return [Draw(d) for d in draws] + [Draw(draws[0], repeat=True)]


# ----------------------------------------------------------------------------------------------- checks


@dataclass
class Tally:
    """What the fuzz found, by kind (the benchmark prints these; a test asserts they stay at zero)."""

    inputs: int = 0
    crashes: int = 0  # Engine.handle raised
    unanswered: int = 0
    internal: int = 0  # the failure message, or a failure logged
    problems: Counter[str] = field(default_factory=Counter)  # every broken property, by name
    examples: dict[str, str] = field(default_factory=dict)  # the first input that broke each


class _Failures(logging.Handler):
    """Counts the engine's "handling a ... failed" (and any other error it logs)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def limits_broken(replies: Sequence[Reply]) -> list[str]:
    """Which of Telegram's limits the replies break once the channel has merged and split them."""
    broken = []
    for reply in replies:
        # On an earlier message (delete it, or edit its text): not merged, and a delete has no text.
        if reply.target is not None and not reply.delete and len(reply.text) > MAX_TEXT:
            broken.append("edit over 4096")
    for reply in merge([r for r in replies if r.target is None]):
        if reply.document is not None or reply.photo is not None:
            if len(reply.text) > MAX_CAPTION:
                broken.append("caption over 1024")
            parts = []
        else:
            parts = split_text(reply.text)
        for part in parts:
            if not part.strip():
                broken.append("empty message")
            if len(part) > MAX_TEXT or len(part.encode("utf-16-le")) // 2 > MAX_TEXT:
                broken.append("message over 4096")
        for row in reply.buttons:
            for button in row:
                if not 1 <= len(button.data.encode()) <= MAX_BUTTON_DATA:
                    broken.append("button data over 64 bytes")
                if not button.label.strip():
                    broken.append("blank button label")
    return broken


def niks_shown(replies: Sequence[Reply]) -> list[str]:
    """Full NIKs (or what is shaped like one) in replies, outside the three places allowed."""
    return [m.group() for reply in replies for m in NIK_SHAPED.finditer(nik_exempt(reply.text))]


class Harness:
    """Drives ``Engine.handle`` one message at a time and checks every answer."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.engine = Engine(services)
        self.tally = Tally()
        self._update_ids = itertools.count(1)
        self._last_update_id: int | None = None
        self._failures = _Failures()
        logging.getLogger("handlers").addHandler(self._failures)
        self._limited: set[tuple[str, str]] = set()  # (user, kind) answered within the interval
        self._problems: list[str] = []
        self._payload = services.vault.encrypt("{}")  # what the inbox keeps; never read back here
        self.leaks: list[str] = []  # the inputs whose answer showed a full NIK
        self.repeated = False  # the last send reused an update id (its silence and no change expected)

    def close(self) -> None:
        logging.getLogger("handlers").removeHandler(self._failures)

    async def bind(self, user_id: str, phone: str) -> Officer:
        """Bind ``user_id`` to the roster's officer with ``phone`` straight in the database."""
        async with self.services.sessions() as session:
            officer = (await session.exec(select(Officer).where(Officer.phone == phone))).one()
            session.add(
                ChatAccount(
                    channel=CHANNEL,
                    external_id=user_id,
                    chat_id=user_id,
                    officer_id=officer.id,
                    bound_at=utcnow(),
                )
            )
            await session.commit()
            return officer

    async def say(self, inbound: Inbound) -> list[Reply]:
        """Send a message the test needs (setting up a state), with a fresh update id and no checks."""
        return await self.engine.handle(_with_id(inbound, next(self._update_ids)))

    async def send(self, draw: Draw, *, bound: bool) -> list[Reply]:
        """Send one hostile message and check the answer; what broke is in ``tally`` (and returned by
        :meth:`problems_of`)."""
        repeat = draw.repeat and self._last_update_id is not None
        update_id = self._last_update_id if repeat else next(self._update_ids)
        assert update_id is not None
        self._last_update_id = update_id
        inbound = _with_id(draw.inbound, update_id)
        self.tally.inputs += 1
        self._problems = []
        self.repeated = repeat
        failures = self._failures.count
        # As the channel's inbox does before handing an update over: a repeated update id is then one
        # Telegram sent again, which the engine must not act on twice.
        async with self.services.sessions() as session:
            await store.record_inbound(
                session, channel=CHANNEL, updates=[(str(update_id), self._payload, None)]
            )
            await session.commit()
        try:
            replies = await self.engine.handle(inbound)
        except Exception as error:  # Engine.handle must never raise: the channel would answer nothing
            self.tally.crashes += 1
            self._note(f"crash: {type(error).__name__}", inbound)
            return []
        internal = any(r.text == texts.TRY_AGAIN_LATER for r in replies) or self._failures.count > failures
        if internal:
            self.tally.internal += 1
            self._note("internal error", inbound)
        if not repeat and not self._silence_intended(inbound, bound, answered=bool(replies)):
            self.tally.unanswered += 1
            self._note("unanswered", inbound)
        for broken in limits_broken(replies):
            self._note(broken, inbound)
        if shown := niks_shown(replies):
            self._note(LEAK, inbound, detail=repr(shown[:1]))
            self.leaks.append(_describe(inbound))
        return replies

    def _silence_intended(self, inbound: Inbound, bound: bool, *, answered: bool) -> bool:
        """Whether no answer is right: an unbound account already given this kind of answer (the clock does
        not move in the fuzz). True when there was an answer."""
        kind = None if bound else onboarding.limited_answer(inbound)
        if kind is None:
            return answered
        key = (inbound.user_id, kind)
        if answered:
            self._limited.add(key)
            return True
        return key in self._limited

    def _note(self, problem: str, inbound: Inbound, *, detail: str = "") -> None:
        self._problems.append(problem)
        self.tally.problems[problem] += 1
        self.tally.examples.setdefault(problem, f"{_describe(inbound)} {detail}".strip())

    @property
    def problems(self) -> list[str]:
        """What broke in the last :meth:`send`."""
        return list(self._problems)


def _with_id(inbound: Inbound, update_id: int) -> Inbound:
    return Inbound(
        inbound.channel, inbound.user_id, inbound.chat_id, inbound.kind, text=inbound.text,
        command=inbound.command, data=inbound.data, contact_phone=inbound.contact_phone,
        contact_user_id=inbound.contact_user_id, update_id=str(update_id), message_ref=inbound.message_ref,
    )  # fmt: skip


def _describe(inbound: Inbound) -> str:
    """The input, short, for a report (test NIKs are synthetic)."""
    what = {
        Kind.TEXT: inbound.text,
        Kind.COMMAND: f"/{inbound.command} {inbound.text}",
        Kind.BUTTON: inbound.data,
        Kind.CONTACT: f"{inbound.contact_phone} of {inbound.contact_user_id}",
        Kind.OTHER: "",
    }[inbound.kind]
    return f"{inbound.kind.value} {what!r:.120}"


# ------------------------------------------------------------------------------------------- scenarios

# Telegram user ids of the fuzz (officers from tests.conftest.ROSTER, bound straight in the database).
OPERATOR_ID, CAMAT_ID, DINAS_ID = "1001", "2001", "3001"
STRANGERS = [str(n) for n in range(9001, 9013)]  # a small pool, so strangers write more than once
INTAKE_STEPS = (
    "nik", "name", "birth", "birth_date", "gender", "category", "category_other", "address", "phone",
    "summary", "edit",
)  # fmt: skip
# The values each intake step's buttons carry (the category index of "lainnya" is the last).
STEP_VALUES = {
    "birth": ["ok", "date", "gender"],
    "gender": ["L", "P"],
    "category": [str(i) for i in range(len(CATEGORIES))],
    "phone": ["skip"],
    "summary": ["send", "edit", "cancel"],
    "edit": ["nik", "name", "birth", "category", "address", "phone", "back", "cancel"],
}
APPROVER_STATES = ("camat idle", "camat reason", "camat note", "dinas idle")
NAME, ADDRESS = "Budi Santoso", "Dusun I"


def _text(user_id: str, text: str) -> Inbound:
    return Inbound.from_text(channel=CHANNEL, user_id=user_id, chat_id=user_id, text=text)


def _press(user_id: str, data: str) -> Inbound:
    return Inbound(CHANNEL, user_id, user_id, Kind.BUTTON, data=data, message_ref="1")


@dataclass(frozen=True)
class IntakeState:
    """The operator's open intake as the database holds it: conversation and the draft's answers."""

    step: str
    flow: str
    from_summary: bool
    data: str
    token: str
    answers: tuple[object, ...]


class World:
    """The roster bound, proposals in several statuses, and the operator's intake driven to any step."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.services = harness.services
        self._serials = itertools.count(100)
        self.officers: dict[str, Officer] = {}
        self.proposals: dict[str, int] = {}
        self._initial: list[dict[str, object]] = []
        self._audit_ceiling = 0

    async def build(self) -> None:
        for user_id, phone in (
            (OPERATOR_ID, OPERATOR_PHONE),
            (CAMAT_ID, CAMAT_PHONE),
            (DINAS_ID, DINAS_PHONE),
        ):
            self.officers[user_id] = await self.harness.bind(user_id, phone)
        operator = self.officers[OPERATOR_ID].id
        assert operator is not None
        async with self.services.sessions() as session:
            for serial, (label, status) in enumerate(
                [
                    ("camat", Status.MENUNGGU_CAMAT),
                    ("dinas", Status.MENUNGGU_DINAS),
                    ("returned", Status.DIKEMBALIKAN),
                    ("done", Status.DITETAPKAN),
                ],
                1,
            ):
                proposal = sent_proposal(
                    self.services, officer_id=operator, nik=synthetic_nik(serial=serial), status=status
                )
                if status is Status.DIKEMBALIKAN:
                    proposal.fix_fields = ["name"]
                session.add(proposal)
                await session.flush()
                assert proposal.id is not None
                self.proposals[label] = proposal.id
                session.add(
                    AuditEvent(
                        proposal_id=proposal.id, officer_id=operator, action="submit",
                        from_status=Status.DRAFT.value, to_status=Status.MENUNGGU_CAMAT.value,
                    )
                )  # fmt: skip
            await session.commit()
            self._initial = [p.model_dump() for p in await session.exec(select(Proposal))]
            self._audit_ceiling = max(e.id or 0 for e in await session.exec(select(AuditEvent)))

    # ------------------------------------------------------------------------------------------ intake

    async def intake_state(self) -> IntakeState | None:
        officer = self.officers[OPERATOR_ID]
        async with self.services.sessions() as session:
            conversation = (
                await session.exec(select(Conversation).where(Conversation.officer_id == officer.id))
            ).first()
            if conversation is None or conversation.proposal_id is None:
                return None
            p = await session.get(Proposal, conversation.proposal_id)
            if p is None:
                return None
            answers = (
                p.status, p.nik_hash, p.name, p.birth_date, p.gender, p.category, p.category_description,
                p.address, p.phone, tuple(p.findings and [f.get("code") for f in p.findings]),
            )  # fmt: skip
            return IntakeState(
                conversation.step, conversation.flow, conversation.from_summary,
                repr(sorted(conversation.data.items())), conversation.token, answers,
            )  # fmt: skip

    def shown(self, state: IntakeState | None) -> list[str]:
        """The button data the intake shows at this state."""
        if state is None:
            return []
        values = list(STEP_VALUES.get(state.step, []))
        if state.from_summary and state.step not in {"summary", "edit"}:
            values.append("back")
        return [f"i:{state.token}:{state.step}:{v}" for v in values]

    async def intake_at(self, step: str) -> IntakeState:
        """Drop any draft and drive a new one to ``step`` with valid answers."""
        say, op = self.harness.say, OPERATOR_ID
        await say(_text(op, "/batal"))
        await say(_text(op, "/daftar"))
        path = {
            "name": [], "birth": ["name"], "birth_date": ["name", "birth:date"],
            "gender": ["name", "birth:gender"], "category": ["name", "birth:ok"],
            "category_other": ["name", "birth:ok", f"category:{len(CATEGORIES) - 1}"],
            "address": ["name", "birth:ok", "category:0"],
            "phone": ["name", "birth:ok", "category:0", "address"],
            "summary": ["name", "birth:ok", "category:0", "address", "phone:skip"],
            "edit": ["name", "birth:ok", "category:0", "address", "phone:skip", "summary:edit"],
        }  # fmt: skip
        if step != "nik":
            await say(_text(op, synthetic_nik(serial=next(self._serials))))
            for move in path[step]:
                if move == "name":
                    await say(_text(op, NAME))
                elif move == "address":
                    await say(_text(op, ADDRESS))
                else:
                    state = await self.intake_state()
                    assert state is not None
                    await say(_press(op, f"i:{state.token}:{move}"))
        state = await self.intake_state()
        assert state is not None
        assert state.step == step, (step, state)
        return state

    async def finish(self) -> bool:
        """Answer whatever the open intake asks, validly, until Kirim: whether the proposal went out."""
        say, op = self.harness.say, OPERATOR_ID
        for _ in range(25):
            state = await self.intake_state()
            if state is None:
                return False
            press = f"i:{state.token}:{state.step}:"
            answer = {
                "nik": _text(op, synthetic_nik(serial=next(self._serials))),
                "name": _text(op, NAME),
                "birth": _press(op, press + "ok"),
                "birth_date": _text(op, "15-08-1990"),
                "gender": _press(op, press + "L"),
                "category": _press(op, press + "0"),
                "category_other": _text(op, "Penjahit keliling"),
                "address": _text(op, ADDRESS),
                "phone": _press(op, press + "skip"),
                "summary": _press(op, press + "send"),
                "edit": _press(op, press + "back"),
            }[state.step]
            replies = await say(answer)
            if state.step == "summary":
                return await self.intake_state() is None and any(
                    r.text.startswith("✅ Usulan") for r in replies
                )
        return False

    def intake_may_change(self, inbound: Inbound, state: IntakeState) -> bool:
        """Whether ``inbound`` is a valid answer (or a cancel) at ``state``: only then may the saved
        answers or the step change. Generous where in doubt: it never makes a valid answer fail."""
        if inbound.kind is Kind.COMMAND:
            return inbound.command == "batal"
        if inbound.kind is Kind.BUTTON:
            return (inbound.data or "") in self.shown(state)
        if inbound.kind is Kind.CONTACT:
            return state.step == "phone" and _accepts(clean_mobile, inbound.contact_phone or "")
        if inbound.kind is not Kind.TEXT or len(inbound.text) > 500:
            return False
        word = " ".join(inbound.text.lower().split())
        if word in {"batal", "/batal", "cancel", "kembali", "ringkasan", "back"}:
            return True
        if inbound.text.strip() in {
            texts.MENU_DAFTAR,
            texts.MENU_DAFTARKU,
            texts.MENU_BANTUAN,
            texts.MENU_ANTRIAN,
        }:
            return False
        today = self.services.today()
        date_or_gender = _accepts(lambda t: parse_birth_date(t, today=today), inbound.text) or _accepts(
            parse_gender, inbound.text
        )
        typed = {
            "nik": lambda: read_nik(inbound.text, today=today).reading is not None,
            "name": lambda: _accepts(clean_name, inbound.text),
            "birth": lambda: date_or_gender or word in {"ya", "benar", "ok", "betul", "sudah", "sudah benar"},
            "birth_date": lambda: date_or_gender,
            "gender": lambda: date_or_gender,
            "category": lambda: word in _CATEGORY_WORDS,
            "category_other": lambda: _accepts(clean_description, inbound.text),
            "address": lambda: _accepts(clean_address, inbound.text),
            "phone": lambda: (
                word in {"lewati", "skip", "-", "tidak ada"} or _accepts(clean_mobile, inbound.text)
            ),
            "summary": lambda: word in {"kirim", "ubah", "batal"},
            "edit": lambda: True,  # field names in several spellings: any word may choose one
        }
        return typed[state.step]()

    # --------------------------------------------------------------------------------------- approvers

    async def approver_state(self) -> tuple[object, ...]:
        """Every proposal's status and version, the audit trail's length, the approvers' open decisions."""
        async with self.services.sessions() as session:
            proposals = tuple(
                (p.id, p.status, p.resubmissions)
                for p in await session.exec(select(Proposal).order_by(col(Proposal.id)))
            )
            audit = len((await session.exec(select(AuditEvent.id))).all())
            approvers = [self.officers[CAMAT_ID].id, self.officers[DINAS_ID].id]
            decisions = tuple(
                (c.officer_id, c.step, c.proposal_id, repr(sorted(c.data.items())))
                for c in await session.exec(
                    select(Conversation).where(col(Conversation.officer_id).in_(approvers))
                )
            )
            return proposals, audit, decisions

    async def approver_at(self, state: str) -> None:
        """Restore the seeded proposals and put the approver in ``state``."""
        async with self.services.sessions() as session:
            for row in await session.exec(select(Conversation)):
                await session.delete(row)
            for row in await session.exec(select(AuditEvent).where(col(AuditEvent.id) > self._audit_ceiling)):
                await session.delete(row)
            await session.flush()
            for values in self._initial:
                proposal = await session.get(Proposal, values["id"])
                if proposal is not None:
                    for key, value in values.items():
                        setattr(proposal, key, value)
                    session.add(proposal)
            await session.commit()
        ref = f"{self.proposals['camat']}.0"
        if state == "camat reason":
            await self.harness.say(_press(CAMAT_ID, f"d:{ref}:no"))
            await self.harness.say(_press(CAMAT_ID, f"r:{ref}:lain"))
        elif state == "camat note":
            await self.harness.say(_press(CAMAT_ID, f"d:{ref}:ret"))
            await self.harness.say(_press(CAMAT_ID, f"f:{ref}:name"))
            await self.harness.say(_press(CAMAT_ID, f"f:{ref}:go"))

    @staticmethod
    def press(user_id: str, data: str) -> Inbound:
        """A press of ``data`` by ``user_id``, as the channel builds it."""
        return _press(user_id, data)

    def approver_shown(self, state: str) -> list[str]:
        camat, dinas = f"{self.proposals['camat']}.0", f"{self.proposals['dinas']}.0"
        if state.startswith("dinas"):
            return [f"d:{dinas}:{a}" for a in ("est", "no", "nik")] + [f"r:{dinas}:rentan", "q:1", "o:next"]
        shown = [f"d:{camat}:{a}" for a in ("ok", "no", "ret", "back")] + [f"r:{camat}:lain", "b:ask", "q:1"]
        return [*shown, f"f:{camat}:name", f"f:{camat}:go", f"f:{camat}:skip", "o:next"]

    @staticmethod
    def approver_may_change(inbound: Inbound, state: str) -> bool:
        """A press on a card, a reason or the bulk approval may decide; while a reason or note is asked,
        any press or command drops it and a typed one decides (generous where in doubt)."""
        if inbound.kind is Kind.BUTTON:
            return True
        deciding = state in {"camat reason", "camat note"}
        if inbound.kind is Kind.COMMAND:
            return deciding
        return deciding and inbound.kind is Kind.TEXT


_CATEGORY_WORDS = {c.label for c in CATEGORIES} | {str(i + 1) for i in range(len(CATEGORIES))}


def _accepts(clean: object, text: str) -> bool:
    try:
        clean(text)  # type: ignore[operator]
    except FieldError:
        return False
    return True


SCENARIOS = ("strangers", *(f"intake {step}" for step in INTAKE_STEPS), *APPROVER_STATES)
STATE_BROKEN = "changed by an invalid input"


class Scenario:
    """One place to fuzz: strangers, the operator at an intake step, or an approver's state. After each
    input it checks that only a valid one changed the state, and puts the state back when one did."""

    def __init__(self, world: World, name: str) -> None:
        self.world, self.name = world, name
        self.harness = world.harness
        self.intake_step = name.removeprefix("intake ") if name.startswith("intake ") else None
        self.bound = name != "strangers"
        self.user_id = {"strangers": STRANGERS[0], "dinas idle": DINAS_ID}.get(
            name, OPERATOR_ID if self.intake_step else CAMAT_ID
        )
        self._intake: IntakeState | None = None
        self._approvers: tuple[object, ...] = ()

    async def enter(self) -> None:
        if self.intake_step is not None:
            self._intake = await self.world.intake_at(self.intake_step)
        elif self.bound:
            await self.world.approver_at(self.name)
            self._approvers = await self.world.approver_state()

    def shown(self) -> list[str]:
        """The button data shown at this state (the generator presses them, and variants of them)."""
        if self.intake_step is not None:
            return self.world.shown(self._intake)
        return self.world.approver_shown(self.name) if self.bound else []

    def users(self) -> list[str]:
        return STRANGERS if not self.bound else [self.user_id]

    async def probe(self, draw: Draw) -> list[str]:
        """Send one input; what broke (the harness's checks, and the state's)."""
        await self.harness.send(draw, bound=self.bound)
        problems = self.harness.problems
        if not self.bound:
            return problems
        valid = not self.harness.repeated
        if self.intake_step is not None:
            assert self._intake is not None
            changed = await self.world.intake_state() != self._intake
            valid = valid and self.world.intake_may_change(draw.inbound, self._intake)
        else:
            changed = await self.world.approver_state() != self._approvers
            valid = valid and self.world.approver_may_change(draw.inbound, self.name)
        if changed:
            if not valid:
                problems.append(STATE_BROKEN)
                self.harness._note(STATE_BROKEN, draw.inbound)
            await self.enter()
        return problems

    async def finish(self) -> bool:
        """Whether the officer can still do their work: send the proposal, approve the waiting one; for
        strangers, that none of them got bound by junk."""
        if self.intake_step is not None:
            return await self.world.finish()
        if not self.bound:
            async with self.world.services.sessions() as session:
                accounts = await session.exec(
                    select(ChatAccount).where(col(ChatAccount.external_id).in_(STRANGERS))
                )
                return all(a.officer_id is None for a in accounts)
        await self.world.approver_at("camat idle")
        camat = self.world.proposals["camat"]
        await self.harness.say(_press(CAMAT_ID, f"d:{camat}.0:ok"))
        async with self.world.services.sessions() as session:
            proposal = await session.get(Proposal, camat)
            return proposal is not None and proposal.status is Status.MENUNGGU_DINAS
