"""/verifikasi: the re-verification of the active participants (penyesuaian data) in the chat."""

# The dinas starts a round; each desa's operator goes through its participants one by one (still
# qualifies, or not any more with a reason); a removal goes to the camat, then to the dinas, as a card
# through the outbox; the dinas's confirmation ends the participation. Every press re-reads the item and
# the presser's role and region, and decides with a compare-and-set on the item's version.

from __future__ import annotations

import datetime as dt
import logging

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import buttons, intake, texts
from handlers.buttons import Kind, Press
from handlers.context import Services, Turn
from handlers.messages import Button, Reply
from models import reports, store
from models import verification as vstore
from models.rules.categories import Category, category_label
from models.rules.nik import age_on, mask_nik
from models.rules.privacy import mask_nik_like
from models.rules.status import Role
from models.rules.verification import (
    REASONS,
    STAGE,
    Decider,
    ItemStatus,
    Premark,
    next_status,
    reference_day,
)
from models.tables import (
    Conversation,
    Officer,
    ProgramYear,
    Purpose,
    VerificationItem,
    VerificationRound,
    utcnow,
)

log = logging.getLogger(__name__)

FLOW = "verify"
MAX_REASON = 200
REASON_TTL = dt.timedelta(minutes=15)
DEFAULT_DUE_DAYS = 30  # a round started from the chat without a date
REMIND_DAYS = 3  # operators of unfinished desa are reminded this many days before the due date
DISPATCH_KIND = "verifikasi"
ROUND = 0  # the id of v:0:<act> presses: the round, the lists


# ---------------------------------------------------------------------------------------------- helpers


def _decider(turn: Turn) -> Decider | None:
    officer = turn.officer
    assert officer is not None
    if officer.role is Role.OPERATOR:
        return Decider.OPERATOR
    if officer.role is Role.CAMAT:
        return Decider.CAMAT
    if officer.role is Role.DINAS and officer.region_code == turn.services.kabupaten.code:
        return Decider.DINAS
    return None


def _may_see(turn: Turn, item: VerificationItem) -> bool:
    """Whether the presser's roster row covers the item's desa (re-read every turn)."""
    officer = turn.officer
    assert officer is not None
    match _decider(turn):
        case Decider.OPERATOR:
            return item.desa_code == officer.region_code
        case Decider.CAMAT:
            return item.kecamatan_code == officer.region_code
        case Decider.DINAS:
            return True
    return False


def _desa_name(services: Services, code: str) -> str:
    desa = services.kabupaten.desa_by_code(code)
    return desa.name if desa else code


def _desa_label(services: Services, code: str) -> str:
    desa = services.kabupaten.desa_by_code(code)
    return desa.label if desa else code


def _ref(item: VerificationItem, kind: Kind, action: str) -> Press:
    return Press(kind, action=action, id=item.id, version=item.version)


def _shown(status: str, action: str) -> str:
    """How a decision is told: a camat's agreement to a removal ("out_camat") is not yet the removal."""
    return "out_camat" if status == ItemStatus.KELUAR_CAMAT else action


def _round_press(action: str) -> Press:
    return Press(Kind.VERIFY, action=action, id=ROUND)


async def _reference(session: AsyncSession, round_: VerificationRound) -> dt.date:
    program = await session.get(ProgramYear, round_.year)
    return reference_day(round_.year, program.coverage_start if program else None)


def reason_label(item: VerificationItem) -> str:
    """The reason as people read it: the label, or what the operator typed for "lainnya"."""
    if item.reason == "lainnya" and item.reason_text:
        return item.reason_text
    return REASONS.get(item.reason or "", item.reason or "-")


def _category(item: VerificationItem) -> str:
    """The work category as people read it (a code no longer known as it was stored)."""
    try:
        return category_label(Category(item.category), None)
    except ValueError:
        return item.category


def item_text(services: Services, item: VerificationItem, reference: dt.date) -> str:
    """One participant as the officers see them: masked NIK, age on the reference day, pre-marks."""
    marks = []
    for code in item.premarks:
        mark = Premark.decode(code)
        if mark is not None:
            marks.append(texts.verif_premark(mark.code, mark.value, mark.limit, reference))
    return texts.verif_item(
        name=item.name,
        masked_nik=mask_nik(services.vault.decrypt(item.nik_encrypted)),
        age=age_on(item.birth_date, reference) if item.birth_date else None,
        reference=reference,
        category=_category(item),
        since=item.coverage_start,
        desa=_desa_label(services, item.desa_code),
        marks=marks,
    )


async def _conversation(turn: Turn) -> Conversation | None:
    officer = turn.officer
    assert officer is not None and officer.id is not None
    conversation = await store.conversation_of(turn.session, officer_id=officer.id)
    return conversation if conversation is not None and conversation.flow == FLOW else None


async def _open(turn: Turn, step: str, data: dict[str, object]) -> bool:
    """Remember the step (a reason to type, a confirmation); False, saying why, while an intake is open:
    an officer has one conversation, and a draft must not be lost to a reason."""
    officer = turn.officer
    assert officer is not None and officer.id is not None
    conversation = await store.conversation_of(turn.session, officer_id=officer.id)
    if conversation is not None and conversation.flow in {intake.FLOW, intake.FIX_FLOW}:
        turn.say(texts.VERIF_INTAKE_OPEN)
        return False
    if conversation is None:
        conversation = Conversation(officer_id=officer.id, flow=FLOW, step=step)
    conversation.flow, conversation.step, conversation.proposal_id = FLOW, step, None
    conversation.data, conversation.updated_at = data, utcnow()
    turn.session.add(conversation)
    return True


async def forget(turn: Turn) -> None:
    """Drop an open verification step (a reason being typed, a confirmation) when the officer moves on."""
    conversation = await _conversation(turn)
    if conversation is not None:
        await turn.session.delete(conversation)


async def _queue_to(
    session: AsyncSession, services: Services, officer_id: int, reply: Reply, purpose: Purpose
) -> int:
    """Queue a message to each of an officer's accounts; how many were queued."""
    accounts = await store.accounts_of(session, officer_id=officer_id, reach_unbound=services.reach_unbound)
    for account in accounts:
        await store.queue_message(
            session,
            account=account,
            text=reply.text,
            buttons=[[[b.label, b.data] for b in row] for row in reply.buttons],
            purpose=purpose,
        )
    return len(accounts)


async def _queue(turn: Turn, officer_id: int, reply: Reply, purpose: Purpose) -> None:
    turn.queued += await _queue_to(turn.session, turn.services, officer_id, reply, purpose)


# -------------------------------------------------------------------------------------------- /verifikasi


async def show(turn: Turn) -> None:
    """/verifikasi: the operator's next participant, the camat's and the dinas's progress (the dinas
    starts a round when none is open for next year)."""
    decider = _decider(turn)
    officer = turn.officer
    assert officer is not None
    if decider is None:
        turn.say(texts.VERIF_ONLY_DINAS_STARTS)
        return
    if decider is Decider.DINAS:
        await _dinas(turn)
        return
    round_ = await vstore.open_round(turn.session)
    if round_ is None:
        turn.say(texts.VERIF_NO_ROUND)
        return
    if decider is Decider.OPERATOR:
        await _operator_next(turn, round_, intro=True)
    else:
        await _progress(turn, round_, kecamatan_code=officer.region_code)


async def _operator_next(turn: Turn, round_: VerificationRound, *, intro: bool) -> None:
    officer = turn.officer
    assert officer is not None and round_.id is not None
    item, waiting = await vstore.next_item(
        turn.session, round_id=round_.id, status=ItemStatus.MENUNGGU, desa_code=officer.region_code
    )
    desa = _desa_name(turn.services, officer.region_code)
    if item is None:
        mine = await vstore.progress(turn.session, round_id=round_.id, kecamatan_code=officer.region_code[:8])
        known = any(row.desa_code == officer.region_code for row in mine)
        turn.say(texts.verif_all_done(desa) if known else texts.verif_none_in_desa(desa))
        return
    if intro:
        turn.say(texts.verif_waiting(waiting, desa))
    text = item_text(turn.services, item, await _reference(turn.session, round_))
    rows = (
        (buttons.button(texts.VERIF_CONTINUES, _ref(item, Kind.VERIFY, "ok")),),
        (buttons.button(texts.VERIF_NOT_ANY_MORE, _ref(item, Kind.VERIFY, "no")),),
    )
    turn.say(Reply(text, buttons=rows))


async def _progress(turn: Turn, round_: VerificationRound, *, kecamatan_code: str | None) -> None:
    """Done / total per desa (a camat) or per kecamatan (the dinas), and what waits for them."""
    assert round_.id is not None
    rows = await vstore.progress(turn.session, round_id=round_.id, kecamatan_code=kecamatan_code)
    services = turn.services
    if kecamatan_code is not None:
        area = f"Kec. {services.kabupaten.kecamatan_name(kecamatan_code)}"
        lines = [texts.verif_progress_line(_desa_name(services, r.desa_code), r.done, r.total) for r in rows]
        stage = STAGE[Decider.CAMAT]
    else:
        area = services.kabupaten.name
        per: dict[str, list[int]] = {}
        for r in rows:
            counts = per.setdefault(r.kecamatan_code, [0, 0])
            counts[0] += r.done
            counts[1] += r.total
        lines = [
            texts.verif_progress_line(f"Kec. {services.kabupaten.kecamatan_name(code)}", done, total)
            for code, (done, total) in sorted(per.items())
        ]
        stage = STAGE[Decider.DINAS]
    _, waiting = await vstore.next_item(
        turn.session, round_id=round_.id, status=stage, kecamatan_code=kecamatan_code
    )
    keyboard: list[tuple[Button, ...]] = []
    if waiting:
        keyboard.append((buttons.button(texts.verif_open_waiting(waiting), _round_press("next")),))
    if kecamatan_code is not None and waiting:
        clean = await vstore.clean_waiting(turn.session, round_id=round_.id, kecamatan_code=kecamatan_code)
        if clean:
            keyboard.append((buttons.button(texts.verif_bulk_button(len(clean)), _round_press("bulk")),))
    title = texts.verif_progress_title(round_.year, round_.due, area)
    turn.say(Reply(texts.verif_progress(title, lines, waiting), buttons=tuple(keyboard)))


def _due_from(text: str, today: dt.date) -> dt.date | None:
    text = text.strip()
    if not text:
        return today + dt.timedelta(days=DEFAULT_DUE_DAYS)
    for layout in ("%d-%m-%Y", "%d/%m/%Y", "%Y-%m-%d"):
        try:
            day = dt.datetime.strptime(text, layout).date()
        except ValueError:
            continue
        return day if day >= today else None
    return None


async def _dinas(turn: Turn) -> None:
    """The dinas: a round's progress when one is open, else the confirmation to start one (next year)."""
    today = turn.services.today()
    year = today.year + 1
    round_ = await vstore.open_round(turn.session)
    if round_ is not None:
        await _progress(turn, round_, kecamatan_code=None)
        return
    due = _due_from(turn.inbound.text if turn.inbound.command else "", today)
    if due is None:
        turn.say(texts.VERIF_BAD_DUE)
        return
    planned = await vstore.plan(turn.session)
    if not planned.participants:
        turn.say(texts.VERIF_NOBODY)
        return
    if not await _open(turn, "start", {"year": year, "due": due.isoformat()}):
        return
    rows = (
        (buttons.button(texts.VERIF_START, _round_press("start")),),
        (buttons.button(texts.CANCEL, _round_press("nostart")),),
    )
    turn.say(Reply(texts.verif_confirm_start(year, planned.participants, planned.desa, due), buttons=rows))


async def start(
    session: AsyncSession,
    services: Services,
    *,
    year: int,
    due: dt.date,
    officer_id: int | None,
    actor: str | None,
) -> tuple[VerificationRound, int, int]:
    """Start a round and tell each desa's operators how many wait; the round, its desa and the messages
    queued. :class:`models.verification.RoundOpen` if the year has one open. The caller commits."""
    round_ = await vstore.start_round(
        session,
        year=year,
        due=due,
        officer_id=officer_id,
        actor=actor,
        decrypt=services.vault.decrypt,
        today=services.today(),
        default_age_max=services.ages.maximum,
    )
    assert round_.id is not None
    per_desa = await vstore.desa_counts(session, round_id=round_.id)
    operators: dict[str, list[Officer]] = {}
    for officer in await store.officers_of(session, role=Role.OPERATOR):
        operators.setdefault(officer.region_code, []).append(officer)
    queued = 0
    for desa, count in per_desa:
        note = Reply(texts.verif_tell_operator(count, _desa_name(services, desa), due))
        for officer in operators.get(desa, []):
            assert officer.id is not None
            queued += await _queue_to(session, services, officer.id, note, Purpose.NOTICE)
    log.info("verification round %s of %s started: %d items", round_.id, year, round_.items)
    return round_, len(per_desa), queued


# ---------------------------------------------------------------------------------------------- buttons


async def on_button(turn: Turn, press: Press | None) -> None:
    """A press of a verification button (``press`` None: forged or malformed data of its kind)."""
    if press is None or press.id is None or _decider(turn) is None:
        turn.say(texts.STALE_BUTTON)
        return
    if press.id == ROUND:
        await _round_button(turn, press.action)
        return
    item = await turn.session.get(VerificationItem, press.id)
    if item is None or not _may_see(turn, item):
        turn.say(texts.STALE_BUTTON)  # another desa's item is never described
        return
    if press.version is None or press.version != item.version:
        turn.say(texts.VERIF_ALREADY)
        return
    await forget(turn)
    if press.kind is Kind.VERIFY_REASON:
        await _reason(turn, item, press.action)
        return
    match press.action:
        case "ok" | "out" | "keep":
            await decide(turn, item, press.action)
        case "no":
            if (
                next_status(Decider.OPERATOR, item.status, "out") is None
                or _decider(turn) is not Decider.OPERATOR
            ):
                turn.say(texts.VERIF_ALREADY)
                return
            round_ = await turn.session.get(VerificationRound, item.round_id)
            assert round_ is not None
            text = item_text(turn.services, item, await _reference(turn.session, round_))
            rows = tuple(
                (buttons.button(label.capitalize(), _ref(item, Kind.VERIFY_REASON, code)),)
                for code, label in REASONS.items()
            )
            turn.say(Reply(texts.verif_ask_reason(text), buttons=rows, edit=True))
        case _:
            turn.say(texts.STALE_BUTTON)


async def _reason(turn: Turn, item: VerificationItem, code: str) -> None:
    if code not in REASONS or _decider(turn) is not Decider.OPERATOR:
        turn.say(texts.STALE_BUTTON)
        return
    if next_status(Decider.OPERATOR, item.status, "out") is None:
        turn.say(texts.VERIF_ALREADY)
        return
    if code == "lainnya":
        if not await _open(turn, "reason", {"item": item.id, "v": item.version}):
            return
        turn.say(Reply(texts.VERIF_ASK_TEXT, edit=True))
        return
    await decide(turn, item, "out", reason=code)


async def _round_button(turn: Turn, action: str) -> None:
    decider = _decider(turn)
    conversation = await _conversation(turn)
    match action:
        case "start" | "nostart":
            if decider is not Decider.DINAS:
                turn.say(texts.STALE_BUTTON)
                return
            if conversation is None or conversation.step != "start":
                turn.say(texts.STALE_BUTTON)
                return
            await turn.session.delete(conversation)
            if action == "nostart":
                turn.say(Reply(texts.VERIF_START_CANCELLED, edit=True))
                return
            await _start_from_chat(
                turn, int(conversation.data["year"]), dt.date.fromisoformat(conversation.data["due"])
            )
        case "next":
            await _open_next(turn)
        case "bulk" | "bulkgo" | "bulkno":
            await _bulk(turn, action, conversation)
        case _:
            turn.say(texts.STALE_BUTTON)


async def _start_from_chat(turn: Turn, year: int, due: dt.date) -> None:
    officer = turn.officer
    assert officer is not None
    try:
        round_, desa, queued = await start(
            turn.session, turn.services, year=year, due=due, officer_id=officer.id, actor=officer.name
        )
    except vstore.RoundOpen:
        turn.say(texts.verif_round_open(year))
        return
    turn.queued += queued
    turn.say(Reply(texts.verif_started(year, round_.items, desa, due), edit=True))


async def _open_next(turn: Turn) -> None:
    """The first removal waiting for this camat or the dinas, as a card."""
    officer = turn.officer
    assert officer is not None
    decider = _decider(turn)
    round_ = await vstore.open_round(turn.session)
    if round_ is None or round_.id is None or decider not in {Decider.CAMAT, Decider.DINAS}:
        turn.say(texts.STALE_BUTTON if round_ is not None else texts.VERIF_NO_ROUND)
        return
    kecamatan = officer.region_code if decider is Decider.CAMAT else None
    stage = STAGE[Decider.CAMAT if decider is Decider.CAMAT else Decider.DINAS]
    item, _ = await vstore.next_item(turn.session, round_id=round_.id, status=stage, kecamatan_code=kecamatan)
    if item is None:
        await _progress(turn, round_, kecamatan_code=kecamatan)
        return
    turn.say(await _card(turn, item))


async def _bulk(turn: Turn, action: str, conversation: Conversation | None) -> None:
    """The camat confirms every removal without a pre-mark, after a confirmation stating the count."""
    officer = turn.officer
    assert officer is not None
    if _decider(turn) is not Decider.CAMAT:
        turn.say(texts.STALE_BUTTON)
        return
    round_ = await vstore.open_round(turn.session)
    if round_ is None or round_.id is None:
        turn.say(texts.VERIF_NO_ROUND)
        return
    if action == "bulkno":
        if conversation is not None:
            await turn.session.delete(conversation)
        turn.say(Reply(texts.BULK_CANCELLED, edit=True))
        return
    if action == "bulk":
        clean = await vstore.clean_waiting(
            turn.session, round_id=round_.id, kecamatan_code=officer.region_code
        )
        if not clean:
            turn.say(texts.VERIF_BULK_NONE)
            return
        # Exactly what the confirmation counts, in the version shown: nothing arriving meanwhile goes unseen.
        if not await _open(turn, "bulk", {"bulk": [[i.id, i.version] for i in clean]}):
            return
        rows = (
            (buttons.button(texts.bulk_yes(len(clean)), _round_press("bulkgo")),),
            (buttons.button(texts.CANCEL, _round_press("bulkno")),),
        )
        turn.say(Reply(texts.verif_bulk_confirm(len(clean)), buttons=rows, edit=True))
        return
    if conversation is None or conversation.step != "bulk":
        turn.say(texts.BULK_ALREADY_DONE)
        return
    await turn.session.delete(conversation)
    done = 0
    confirmed = list(conversation.data.get("bulk", []))
    for item_id, version in confirmed:
        item = await turn.session.get(VerificationItem, item_id)
        if item is None or item.version != version or item.premarks or not _may_see(turn, item):
            continue
        if await _apply(turn, item, "out"):
            done += 1
    turn.say(Reply(texts.verif_bulk_done(done, len(confirmed) - done), edit=True))


# ---------------------------------------------------------------------------------------------- deciding


async def decide(
    turn: Turn,
    item: VerificationItem,
    action: str,
    *,
    reason: str | None = None,
    reason_text: str | None = None,
) -> None:
    """One decision from a press (or a typed reason), then what follows for the presser."""
    if not await _apply(turn, item, action, reason=reason, reason_text=reason_text):
        turn.say(texts.VERIF_ALREADY)
        return
    officer = turn.officer
    assert officer is not None
    who = f"{texts.ROLE_TITLE[officer.role]} {officer.name}"
    round_ = await turn.session.get(VerificationRound, item.round_id)
    assert round_ is not None
    shown = _shown(item.status, action)
    if _decider(turn) is Decider.OPERATOR:
        if action == "out":
            turn.say(Reply(texts.verif_proposed(item.name, reason_label(item)), edit=True))
        else:
            turn.say(Reply(texts.verif_decided("ok", who, item.name), edit=True))
        await _operator_next(turn, round_, intro=False)
        return
    turn.say(Reply(texts.verif_decided(shown, who, item.name), edit=True))
    await _open_next_after(turn, round_)


async def _open_next_after(turn: Turn, round_: VerificationRound) -> None:
    officer = turn.officer
    assert officer is not None and round_.id is not None
    decider = _decider(turn)
    kecamatan = officer.region_code if decider is Decider.CAMAT else None
    stage = STAGE[Decider.CAMAT if decider is Decider.CAMAT else Decider.DINAS]
    _, waiting = await vstore.next_item(
        turn.session, round_id=round_.id, status=stage, kecamatan_code=kecamatan
    )
    if waiting:
        turn.say(
            Reply(
                texts.verif_open_waiting(waiting),
                buttons=((buttons.button(texts.VERIF_NEXT, _round_press("next")),),),
            )
        )


async def _apply(
    turn: Turn,
    item: VerificationItem,
    action: str,
    *,
    reason: str | None = None,
    reason_text: str | None = None,
) -> bool:
    """Compare-and-set the decision, audit it and queue what it causes; False when refused or beaten."""
    officer = turn.officer
    decider = _decider(turn)
    assert officer is not None and item.id is not None
    if decider is None or not _may_see(turn, item):
        return False
    after = next_status(decider, item.status, action)
    if after is None:
        return False
    won = await vstore.decide_item(
        turn.session,
        item_id=item.id,
        version=item.version,
        from_status=item.status,
        to_status=after,
        actor=officer,
        action=action,
        reason=reason,
        reason_text=reason_text,
    )
    await turn.session.refresh(item)
    if not won:
        return False
    log.info("verification item %s: %s by officer %s", item.id, action, officer.id)
    who = f"{texts.ROLE_TITLE[officer.role]} {officer.name}"
    if after is ItemStatus.USUL_KELUAR:
        for camat in await store.officers_of(turn.session, role=Role.CAMAT, region_code=item.kecamatan_code):
            assert camat.id is not None
            await _queue(turn, camat.id, await _card(turn, item), Purpose.CARD)
    elif after is ItemStatus.KELUAR_CAMAT:
        for dinas in await store.officers_of(
            turn.session, role=Role.DINAS, region_code=turn.services.kabupaten.code
        ):
            assert dinas.id is not None
            await _queue(turn, dinas.id, await _card(turn, item), Purpose.CARD)
    if after is ItemStatus.KELUAR:
        round_ = await turn.session.get(VerificationRound, item.round_id)
        assert round_ is not None
        await vstore.end_participation(
            turn.session, item=item, on=await vstore.end_day(turn.session, round_=round_)
        )
    if decider is not Decider.OPERATOR:
        note = Reply(texts.verif_told_operator(item.name, _shown(after, action), who))
        for operator in await store.officers_of(turn.session, role=Role.OPERATOR, region_code=item.desa_code):
            assert operator.id is not None
            await _queue(turn, operator.id, note, Purpose.NOTICE)
    return True


async def _card(turn: Turn, item: VerificationItem) -> Reply:
    """The removal's card for the camat or the dinas, with Setujui keluar / Tolak."""
    round_ = await turn.session.get(VerificationRound, item.round_id)
    assert round_ is not None
    last = await turn.session.get(Officer, item.officer_id) if item.officer_id else None
    by = f"{texts.ROLE_TITLE[last.role]} {last.name}" if last else "-"
    reference = await _reference(turn.session, round_)
    lines = [texts.verif_card_head(item.status), item_text(turn.services, item, reference)]
    if item.status == ItemStatus.USUL_KELUAR:
        lines.append(texts.verif_reason_line(reason_label(item), by))
    else:  # at the dinas: the last decision was the camat's
        lines += [texts.verif_reason_line(reason_label(item), "operator desa"), texts.verif_camat_agreed(by)]
    text = "\n".join(lines)
    rows = (
        (
            buttons.button(texts.VERIF_APPROVE_OUT, _ref(item, Kind.VERIFY, "out")),
            buttons.button(texts.VERIF_REFUSE_OUT, _ref(item, Kind.VERIFY, "keep")),
        ),
    )
    return Reply(text, buttons=rows)


async def on_text(turn: Turn, conversation: Conversation) -> bool:
    """A typed reason ("lainnya") while one is asked; False when nothing was asked (the step is dropped)."""
    if conversation.step != "reason" or utcnow() - conversation.updated_at > REASON_TTL:
        await turn.session.delete(conversation)
        return False
    text = " ".join(mask_nik_like(turn.inbound.text).split())
    if text.lower() in {"batal", "/batal"}:
        await turn.session.delete(conversation)
        turn.say(texts.VERIF_REASON_CANCELLED)
        return True
    if len(text) > MAX_REASON:
        turn.say(texts.TOO_LONG)
        return True
    if len(text) < 3 or not any(ch.isalpha() for ch in text):
        turn.say(texts.REASON_TOO_SHORT)
        return True
    await turn.session.delete(conversation)
    item = await turn.session.get(VerificationItem, int(conversation.data.get("item", 0)))
    if item is None or not _may_see(turn, item) or item.version != conversation.data.get("v"):
        turn.say(texts.VERIF_ALREADY)
        return True
    await decide(turn, item, "out", reason="lainnya", reason_text=text)
    return True


async def cancel(turn: Turn) -> bool:
    """/batal while a verification step is open; False when none was."""
    conversation = await _conversation(turn)
    if conversation is None:
        return False
    await turn.session.delete(conversation)
    turn.say(texts.VERIF_REASON_CANCELLED if conversation.step == "reason" else texts.VERIF_START_CANCELLED)
    return True


# --------------------------------------------------------------------------------- summaries, reminders


async def summary_line(session: AsyncSession) -> str | None:
    """The weekly summary's line on the open round: done / total, removed."""
    round_ = await vstore.open_round(session)
    if round_ is None or round_.id is None:
        return None
    counts = await vstore.status_counts(session, round_id=round_.id)
    total = sum(counts.values())
    done = total - counts.get(ItemStatus.MENUNGGU.value, 0)
    return texts.verif_summary_line(round_.year, done, total, counts.get(ItemStatus.KELUAR.value, 0))


async def reminders(
    services: Services, *, today: dt.date
) -> list[tuple[reports.Recipient, str, list[Reply]]]:
    """The operators of desa not finished, from ``REMIND_DAYS`` before the due date: (who, the dispatch
    period, the messages); the period names the round, so each operator is reminded once per round."""
    found: list[tuple[reports.Recipient, str, list[Reply]]] = []
    async with services.sessions() as session:
        rounds = [
            r
            for r in await vstore.rounds_open(session)
            if r.due - dt.timedelta(days=REMIND_DAYS) <= today <= r.due
        ]
        if not rounds:
            return []
        people = await reports.recipients(session, reach_unbound=services.reach_unbound)
        for round_ in rounds:
            assert round_.id is not None
            waiting = dict(await vstore.desa_counts(session, round_id=round_.id))
            for person in people:
                officer = person.officer
                if officer.role is Role.OPERATOR and officer.region_code in waiting:
                    text = texts.verif_remind_operator(
                        waiting[officer.region_code], _desa_name(services, officer.region_code), round_.due
                    )
                    found.append((person, f"r{round_.id}", [Reply(text)]))
    return found


# ------------------------------------------------------------------------------------------------ exports

CONTINUING_HEADERS = ("NIK", "Nama", "Desa", "Kecamatan", "Pekerjaan", "Peserta sejak", "Hasil")
REMOVED_HEADERS = (*CONTINUING_HEADERS[:-1], "Alasan", "Keterangan", "Berakhir")
RESULT_LABEL = {
    ItemStatus.LANJUT.value: "masih memenuhi syarat",
    ItemStatus.TETAP.value: "usulan keluar ditolak",
}


async def build_export(
    session: AsyncSession, services: Services, *, year: int, removed: bool
) -> tuple[bytes, int]:
    """The latest round of ``year``'s continuing (still qualifies, removal refused) or removed participants
    as XLSX with full NIKs, and how many rows; LookupError when the year has no round."""
    from models.exports import Sheet, xlsx_bytes
    from models.rules.verification import CONTINUING

    round_ = await vstore.round_of_year(session, year=year)
    if round_ is None or round_.id is None:
        raise LookupError(year)
    statuses = frozenset({ItemStatus.KELUAR.value}) if removed else frozenset(s.value for s in CONTINUING)
    ended = await vstore.end_day(session, round_=round_)
    rows: list[list[object]] = []
    for item in await vstore.items_of(session, round_id=round_.id, statuses=statuses):
        row: list[object] = [
            services.vault.decrypt(item.nik_encrypted),
            item.name,
            _desa_name(services, item.desa_code),
            services.kabupaten.kecamatan_name(item.kecamatan_code),
            _category(item),
            item.coverage_start,
        ]
        if removed:
            row += [REASONS.get(item.reason or "", item.reason or "-"), item.reason_text or "", ended]
        else:
            row.append(RESULT_LABEL.get(item.status, item.status))
        rows.append(row)
    title = f"Keluar {year}" if removed else f"Lanjut {year}"
    headers = REMOVED_HEADERS if removed else CONTINUING_HEADERS
    return xlsx_bytes(Sheet(title, headers, rows, text_columns=frozenset({0}))), len(rows)
