"""Camat and Diskopnaker decide: cards, reasons, the queue, bulk approval, NIK reveal, history, failures.

Every press re-reads who is acting and the proposal's status from the database (the turn's session), checks
them against the one transition table (``models.rules.status.authorize``) and writes the change with a
compare-and-set, so a forged, stale, second or simultaneous press changes nothing and gets a clear answer.

Button data: ``handlers.buttons``, the one codec (ids and actions only, at most 64 bytes).
"""

from __future__ import annotations

import datetime as dt
import logging
import math

from handlers import allocation, bpjs, buttons, cards, queries, texts
from handlers.buttons import Kind, Press
from handlers.context import Turn
from handlers.messages import Button, Reply
from handlers.queries import may_see
from models import program_year, store
from models.rules.privacy import mask_nik_like
from models.rules.status import (
    Action,
    OutsideRegion,
    Role,
    Status,
    TransitionRefused,
    acts_on,
    authorize,
)
from models.tables import Conversation, Proposal, format_number, utcnow

log = logging.getLogger(__name__)

DECISION_TTL = dt.timedelta(minutes=15)  # a reason typed later than this is no longer a reason
FLOW = "decide"
PAGE = 8
MAX_REASON = 300
FIX_FIELDS = tuple(texts.FIELD_LABELS)  # nik, name, birth, category, address, phone

# The status each approver role decides in.
STAGE = {Role.CAMAT: Status.MENUNGGU_CAMAT, Role.DINAS: Status.MENUNGGU_DINAS}


class Refused(Exception):
    """A decision that may not be taken; the text says why, in the actor's words."""

    def __init__(self, text: str, buttons: tuple[tuple[Button, ...], ...] = ()) -> None:
        super().__init__(text)
        self.text = text
        self.buttons = buttons  # what they may do instead (over a full kecamatan allocation: override)


# -------------------------------------------------------------------------------------------- deciding


async def decide(
    turn: Turn,
    proposal: Proposal,
    action: Action,
    *,
    reason: str | None = None,
    fix_fields: list[str] | None = None,
    over: bool = False,
) -> str:
    """Record one decision and queue everything it causes; returns the card's outcome text.

    ``over``: establish even over the kecamatan's allocation (the dinas's override, ``reason`` typed).

    Raises :class:`Refused` when the actor may not take it (any more); nothing changes then.
    """
    officer = turn.officer
    assert officer is not None and officer.id is not None and proposal.id is not None
    before = proposal.status
    after = await _authorized(turn, proposal, action)
    now = utcnow()
    year = turn.services.today().year
    forced = False
    if action is Action.ESTABLISH:
        forced = await _take_places(turn, proposal, year, over=over)
    if not await store.change_status(turn.session, proposal=proposal, to_status=after, at=now):
        # Another approver's decision committed between our read and our write.
        if action is Action.ESTABLISH:
            await store.release_quota_place(turn.session, year=year)
            await program_year.release_kecamatan_place(
                turn.session, year=year, kecamatan_code=proposal.kecamatan_code
            )
        await turn.session.refresh(proposal)
        raise Refused(await _already_decided(turn, proposal))
    if action is Action.RETURN:
        proposal.fix_fields = list(fix_fields or [])
        proposal.returned_values = cards.snapshot(proposal)
        turn.session.add(proposal)
    await store.record_audit(
        turn.session,
        proposal_id=proposal.id,
        actor=officer,
        action=action.value,
        from_status=before,
        to_status=after,
        reason=None if forced else reason,
    )
    log.info("proposal %s: %s by officer %s", proposal.number, action.value, officer.id)
    decision = texts.decided_by(action.value, officer.role, officer.name, turn.services.local_time(now))
    if forced:
        await store.record_audit(
            turn.session,
            proposal_id=proposal.id,
            actor=officer,
            action="override",
            from_status=None,
            to_status=None,
            reason=reason,
        )
        log.info("proposal %s: established over its kecamatan's allocation", proposal.number)
        decision += "\n" + await allocation.over_text(turn, proposal.kecamatan_code, year)
    card = await cards.render_card(turn, proposal, with_camat=action is not Action.APPROVE)
    outcome = texts.outcome(card, decision, reason)
    await cards.close_cards(turn, proposal, before, outcome)
    await _tell_proposer(turn, proposal, action, reason)
    if after is Status.MENUNGGU_DINAS:
        await cards.send_for_decision(turn, proposal)
    return outcome


async def _take_places(turn: Turn, proposal: Proposal, year: int, *, over: bool) -> bool:
    """Count the proposal against its kecamatan's allocation (if the year has one) and the kabupaten's
    quota, both compare-and-set in this transaction; True when it went over the allocation (``over``).

    Raises :class:`Refused` (nothing counted) when the kabupaten is full, or the kecamatan is and
    ``over`` is not given: then with the figures and the override button.
    """
    kecamatan = proposal.kecamatan_code
    taken = await program_year.take_kecamatan_place(turn.session, year=year, kecamatan_code=kecamatan)
    forced = taken is False and over
    if forced:
        await program_year.force_kecamatan_place(turn.session, year=year, kecamatan_code=kecamatan)
    elif taken is False:
        press = cards.about(proposal, Kind.DECIDE, "over")
        raise Refused(
            await allocation.full_text(turn, kecamatan, year),
            buttons=((buttons.button(texts.OVERRIDE, press),),),
        )
    quota = turn.services.new_participant_quota
    if not await store.take_quota_place(turn.session, year=year, default_quota=quota):
        if taken is not None:
            await program_year.release_kecamatan_place(turn.session, year=year, kecamatan_code=kecamatan)
        program = await store.program_year(turn.session, year=year, default_quota=quota)
        raise Refused(texts.quota_full(year, program.new_quota))
    return forced


async def _ask_override(turn: Turn, proposal: Proposal) -> None:
    """Tetapkan melebihi kuota: ask the dinas for the reason, typed in the chat."""
    if await _may(turn, proposal, Action.ESTABLISH):
        await _open_decision(turn, proposal, "override", {"v": proposal.resubmissions})
        name = turn.services.kabupaten.kecamatan_name(proposal.kecamatan_code)
        turn.say(Reply(texts.ask_override_reason(proposal.number, name), edit=True))


async def _tell_proposer(turn: Turn, proposal: Proposal, action: Action, reason: str | None) -> None:
    """The proposing officer hears every decision; if the roster has moved them off the desa or taken them
    off since, the desa's current operators do (a returned proposal needs someone who may fix it)."""
    officer = turn.officer
    assert officer is not None and proposal.id is not None
    decider = f"{texts.ROLE_TITLE[officer.role]} {officer.name}"
    text = texts.told_officer(action.value, proposal.number, proposal.name or "-", decider, reason)
    keyboard: tuple[tuple[Button, ...], ...] = ()
    if action is Action.RETURN:
        text += "\n" + texts.told_fix(proposal.fix_fields)
        keyboard = ((buttons.button(f"{texts.FIX} {proposal.number}", Press(Kind.FIX, id=proposal.id)),),)
    reply = Reply(text, buttons=keyboard)
    for operator in await store.proposal_operators(turn.session, proposal=proposal):
        assert operator.id is not None
        await cards.tell_officer(turn, operator.id, reply)


async def _already_decided(turn: Turn, proposal: Proposal) -> str:
    """Why an approver's own kind of decision is refused: decided already, or not at their stage yet."""
    assert proposal.id is not None and turn.officer is not None
    if turn.officer.role is Role.DINAS and proposal.status in {Status.MENUNGGU_CAMAT, Status.DIKEMBALIKAN}:
        return texts.not_yet_yours(proposal.number, proposal.status)
    last = None
    for event, who in await store.history(turn.session, proposal_id=proposal.id):
        if event.action in {"approve", "reject", "return", "establish"}:
            last = texts.decided_by(event.action, who.role, who.name, turn.services.local_time(event.at))
    return texts.already_decided(proposal.number, proposal.status, last)


# ---------------------------------------------------------------------------------------------- buttons


async def on_button(turn: Turn, press: Press | None, kind: Kind) -> None:
    """A press on a card, a reason, a queue page or the bulk confirmation; ``press`` None: data of this
    ``kind`` that does not decode (forged or malformed)."""
    officer = turn.officer
    assert officer is not None
    open_decision = await _current_decision(turn)
    keeps = kind in {Kind.FIX_FIELD, Kind.BULK} or (
        press is not None and press.kind is Kind.DECIDE and press.action == "back"
    )
    if open_decision is not None and not keeps:
        # Another press: a reason half typed or a bulk confirmation shown is no longer what they do.
        await turn.session.delete(open_decision)
    if kind is Kind.BULK:
        # Even forged: whether they may approve in bulk at all is answered first.
        await _bulk(turn, press.action if press is not None else None)
        return
    if press is None:
        turn.say(texts.STALE_BUTTON)
    elif press.kind is Kind.QUEUE and press.id is not None:
        await show_queue(turn, page=press.id, edit=True)
    elif press.kind is Kind.QUEUE:  # q:new, from a summary or reminder, which must stay
        await show_queue(turn)
    elif press.kind is Kind.OPEN and press.id is None:  # o:next
        await _open_next(turn)
    else:
        assert press.id is not None
        proposal = await turn.session.get(Proposal, press.id)
        if proposal is None or proposal.status is Status.DRAFT:
            turn.say(texts.UNKNOWN_PROPOSAL)
            return
        if (
            press.version is not None
            and press.version != proposal.resubmissions
            and may_see(officer, proposal)
        ):
            turn.say(texts.newer_version(proposal.number))
            return
        match press.kind:
            case Kind.OPEN:
                await _open(turn, proposal)
            case Kind.DECIDE:
                await _card_action(turn, proposal, press.action)
            case Kind.REASON:
                await _reason(turn, proposal, press.action)
            case Kind.FIX_FIELD:
                await _fix_choice(turn, proposal, press.action)
            case _:
                turn.say(texts.STALE_BUTTON)


async def _card_action(turn: Turn, proposal: Proposal, act: str) -> None:
    match act:
        case "ok":
            await _decide_and_reply(turn, proposal, Action.APPROVE)
        case "est":
            await _decide_and_reply(turn, proposal, Action.ESTABLISH)
        case "over":
            await _ask_override(turn, proposal)
        case "no" | "ret":
            action = Action.REJECT if act == "no" else Action.RETURN
            if await _may(turn, proposal, action):
                if action is Action.REJECT:
                    await _ask_reason(turn, proposal)
                else:
                    await _start_return(turn, proposal)
        case "back":
            await _drop_decision(turn)
            await _open(turn, proposal, edit=True)
        case "nik":
            await _reveal(turn, proposal)
        case _:
            turn.say(texts.STALE_BUTTON)


async def _authorized(turn: Turn, proposal: Proposal, action: Action) -> Status:
    """The status the actor's action leads to, or :class:`Refused` saying why (decided already, or not
    theirs: a proposal elsewhere is never described to someone who may not see it)."""
    officer = turn.officer
    assert officer is not None and officer.id is not None and proposal.id is not None
    try:
        after = authorize(
            officer.role,
            officer.region_code,
            action,
            proposal.status,
            desa_code=proposal.desa_code,
            kecamatan_code=proposal.kecamatan_code,
        )
    except OutsideRegion:
        raise Refused(texts.NOT_YOURS) from None
    except TransitionRefused:
        if acts_on(officer.role, action) and may_see(officer, proposal):
            raise Refused(await _already_decided(turn, proposal)) from None
        raise Refused(texts.NOT_YOURS) from None
    # An officer moved up the roster (operator to camat) never decides what they proposed themselves.
    if proposal.officer_id == officer.id or await store.submitted_by(
        turn.session, proposal_id=proposal.id, officer_id=officer.id
    ):
        raise Refused(texts.own_proposal(proposal.number))
    return after


async def _may(turn: Turn, proposal: Proposal, action: Action) -> bool:
    """Check before asking a reason, so a refused approver is not asked for one first."""
    try:
        await _authorized(turn, proposal, action)
    except Refused as refusal:
        turn.say(refusal.text)
        return False
    return True


async def _decide_and_reply(
    turn: Turn,
    proposal: Proposal,
    action: Action,
    *,
    reason: str | None = None,
    fix_fields: list[str] | None = None,
    over: bool = False,
) -> None:
    try:
        outcome = await decide(turn, proposal, action, reason=reason, fix_fields=fix_fields, over=over)
    except Refused as refusal:
        await _drop_decision(turn)  # a reason typed for a proposal decided meanwhile is moot
        turn.say(Reply(refusal.text, buttons=refusal.buttons))
        return
    await _drop_decision(turn)
    turn.say(Reply(outcome, buttons=await _next_button(turn), edit=True))


async def _next_button(turn: Turn) -> tuple[tuple[Button, ...], ...]:
    """ "Next" on a decided card while more wait: a camat with 80 pending goes through them in a row."""
    waiting = await _overview(turn)
    if not waiting:
        return ()
    return ((buttons.button(f"{texts.NEXT_PENDING} ({len(waiting)})", Press(Kind.OPEN, buttons.OPEN_NEXT)),),)


async def _ask_reason(turn: Turn, proposal: Proposal) -> None:
    card = await cards.render_card(turn, proposal)
    reasons = [
        buttons.button(label.capitalize(), cards.about(proposal, Kind.REASON, code))
        for code, label in texts.REJECT_REASONS.items()
    ]
    back = buttons.button(texts.BACK, cards.about(proposal, Kind.DECIDE, "back"))
    rows = (*((b,) for b in reasons), (back,))
    turn.say(Reply(texts.ask_reject_reason(card), buttons=rows, edit=True))


async def _reason(turn: Turn, proposal: Proposal, code: str) -> None:
    if code not in texts.REJECT_REASONS:
        turn.say(texts.STALE_BUTTON)
        return
    if code != "lain":
        await _decide_and_reply(turn, proposal, Action.REJECT, reason=texts.REJECT_REASONS[code])
        return
    if await _may(turn, proposal, Action.REJECT):
        await _open_decision(turn, proposal, "reject", {"v": proposal.resubmissions})
        turn.say(Reply(texts.ask_reject_text(proposal.number), edit=True))


async def _start_return(turn: Turn, proposal: Proposal) -> None:
    await _open_decision(turn, proposal, "return_fields", {"fields": [], "v": proposal.resubmissions})
    await _show_fix_choice(turn, proposal, [])


async def _show_fix_choice(turn: Turn, proposal: Proposal, chosen: list[str]) -> None:
    toggles = [
        buttons.button(("☑️ " if key in chosen else "▫️ ") + label, cards.about(proposal, Kind.FIX_FIELD, key))
        for key, label in texts.FIELD_LABELS.items()
    ]
    rows = tuple(tuple(toggles[i : i + 2]) for i in range(0, len(toggles), 2))
    back = buttons.button(texts.BACK, cards.about(proposal, Kind.DECIDE, "back"))
    rows += ((back, buttons.button(texts.CONTINUE, cards.about(proposal, Kind.FIX_FIELD, "go"))),)
    card = await cards.render_card(turn, proposal)
    turn.say(Reply(texts.ask_fix_fields(card, chosen), buttons=rows, edit=True))


async def _fix_choice(turn: Turn, proposal: Proposal, choice: str) -> None:
    conversation = await _decision(turn, proposal)
    if conversation is None or conversation.step not in {"return_fields", "return_note"}:
        turn.say(texts.STALE_BUTTON)
        return
    chosen = list(conversation.data.get("fields", []))
    if choice in FIX_FIELDS and conversation.step == "return_fields":
        chosen = [f for f in FIX_FIELDS if (f in chosen) != (f == choice)]  # toggle, keep the form's order
        conversation.data = {**conversation.data, "fields": chosen}
        turn.session.add(conversation)
        await _show_fix_choice(turn, proposal, chosen)
    elif choice == "go" and conversation.step == "return_fields":
        if not chosen:
            turn.say(texts.CHOOSE_AT_LEAST_ONE)
            return
        conversation.step = "return_note"
        turn.session.add(conversation)
        skip = ((buttons.button(texts.NO_NOTE, cards.about(proposal, Kind.FIX_FIELD, "skip")),),)
        turn.say(Reply(texts.ask_return_note(proposal.number, chosen), buttons=skip, edit=True))
    elif choice == "skip" and conversation.step == "return_note":
        await _decide_and_reply(turn, proposal, Action.RETURN, fix_fields=chosen)
    else:
        turn.say(texts.STALE_BUTTON)


async def _reveal(turn: Turn, proposal: Proposal) -> None:
    """Lihat NIK: the full NIK, to the dinas only, and on the record."""
    officer = turn.officer
    assert officer is not None and officer.id is not None and proposal.id is not None
    if officer.role is not Role.DINAS or not may_see(officer, proposal):
        turn.say(texts.NOT_YOURS)
        return
    assert proposal.nik_encrypted is not None
    await store.record_audit(
        turn.session,
        proposal_id=proposal.id,
        actor=officer,
        action="reveal_nik",
        from_status=None,
        to_status=None,
    )
    log.info("proposal %s: full NIK shown to officer %s", proposal.number, officer.id)
    nik = turn.services.vault.decrypt(proposal.nik_encrypted)
    turn.say(texts.nik_revealed(proposal.number, proposal.name or "-", nik))


# ------------------------------------------------------------------------------------- typed decisions


async def _open_decision(turn: Turn, proposal: Proposal | None, step: str, data: dict[str, object]) -> None:
    """Remember that the approver is typing a reason, choosing fields, or confirming a bulk approval."""
    officer = turn.officer
    assert officer is not None and officer.id is not None
    conversation = await store.conversation_of(turn.session, officer_id=officer.id)
    if conversation is None:
        conversation = Conversation(officer_id=officer.id, flow=FLOW, step=step)
    conversation.flow, conversation.step = FLOW, step
    conversation.proposal_id = proposal.id if proposal is not None else None
    conversation.data, conversation.updated_at = data, utcnow()
    turn.session.add(conversation)


async def _decision(turn: Turn, proposal: Proposal) -> Conversation | None:
    officer = turn.officer
    assert officer is not None and officer.id is not None
    conversation = await store.conversation_of(turn.session, officer_id=officer.id)
    if conversation is None or conversation.flow != FLOW or conversation.proposal_id != proposal.id:
        return None
    return conversation


async def _current_decision(turn: Turn) -> Conversation | None:
    """The approver's open decision (a reason being typed, fields ticked, a bulk confirmation), if any."""
    officer = turn.officer
    assert officer is not None and officer.id is not None
    conversation = await store.conversation_of(turn.session, officer_id=officer.id)
    return conversation if conversation is not None and conversation.flow == FLOW else None


async def _drop_decision(turn: Turn) -> None:
    officer = turn.officer
    assert officer is not None and officer.id is not None
    conversation = await store.conversation_of(turn.session, officer_id=officer.id)
    if conversation is not None and conversation.flow == FLOW:
        await turn.session.delete(conversation)


async def on_text(turn: Turn, conversation: Conversation) -> bool:
    """A typed reason (rejection, "lainnya") or note (return) while a decision waits for it; False when
    the text is not one (no reason asked, or asked too long ago): the open decision is dropped then."""
    if conversation.step not in {"reject", "return_fields", "return_note", "override"} or (
        utcnow() - conversation.updated_at > DECISION_TTL
    ):
        await turn.session.delete(conversation)
        if conversation.step != "bulk":
            turn.say(texts.reason_expired(format_number(conversation.proposal_id or 0)))
        return False
    # Cleaned and masked before anything keeps it: the audit row, the officer's notice and every card copy
    # get the same text, and none of them a NIK, a NUL PostgreSQL refuses or a bidi override.
    text = " ".join(mask_nik_like(turn.inbound.text).split())
    proposal = (
        await turn.session.get(Proposal, conversation.proposal_id) if conversation.proposal_id else None
    )
    if proposal is None:
        await turn.session.delete(conversation)
        turn.say(texts.UNKNOWN_PROPOSAL)
        return True
    if text.lower() in {"batal", "/batal"}:
        await cancel(turn)
        return True
    if conversation.data.get("v", proposal.resubmissions) != proposal.resubmissions:
        # Returned and corrected since the reason was asked: it was meant for what the camat saw then.
        await turn.session.delete(conversation)
        turn.say(texts.newer_version(proposal.number))
        return True
    if conversation.step == "return_fields":
        turn.say(texts.CHOOSE_AT_LEAST_ONE if not conversation.data.get("fields") else texts.PRESS_A_BUTTON)
        return True
    if len(text) > MAX_REASON:
        turn.say(texts.TOO_LONG)
        return True
    if len(text) < 3 or not any(ch.isalpha() for ch in text):
        turn.say(texts.REASON_TOO_SHORT)
        return True
    if conversation.step == "reject":
        await _decide_and_reply(turn, proposal, Action.REJECT, reason=text)
    elif conversation.step == "override":
        await _decide_and_reply(turn, proposal, Action.ESTABLISH, reason=text, over=True)
    else:
        fields = list(conversation.data.get("fields", []))
        await _decide_and_reply(turn, proposal, Action.RETURN, reason=text, fix_fields=fields)
    return True


async def cancel(turn: Turn) -> bool:
    """/batal while choosing a reason: nothing decided. False when no decision was open."""
    officer = turn.officer
    assert officer is not None and officer.id is not None
    conversation = await store.conversation_of(turn.session, officer_id=officer.id)
    if conversation is None or conversation.flow != FLOW:
        return False
    await turn.session.delete(conversation)
    turn.say(texts.DECISION_CANCELLED)
    return True


# ------------------------------------------------------------------------------------------------ queue


def _stage_of(turn: Turn) -> tuple[Status, str | None] | None:
    officer = turn.officer
    assert officer is not None
    if officer.role is Role.CAMAT:
        return Status.MENUNGGU_CAMAT, officer.region_code
    if officer.role is Role.DINAS and officer.region_code == turn.services.kabupaten.code:
        return Status.MENUNGGU_DINAS, None
    return None


async def _overview(turn: Turn) -> list[tuple[int, bool]]:
    stage = _stage_of(turn)
    if stage is None:
        return []
    return await store.queue_overview(turn.session, status=stage[0], kecamatan_code=stage[1])


def _area(turn: Turn) -> str:
    officer = turn.officer
    assert officer is not None
    if officer.role is Role.CAMAT:
        kecamatan = turn.services.kabupaten.kecamatan_by_code(officer.region_code)
        return f"Kec. {kecamatan.name}" if kecamatan else officer.region_code
    return turn.services.kabupaten.name


async def show_queue(turn: Turn, *, page: int = 1, edit: bool = False) -> None:
    """/antrian: what waits for this approver, oldest first, a page at a time, each openable."""
    stage = _stage_of(turn)
    if stage is None:
        turn.say(texts.ONLY_APPROVERS_QUEUE)
        return
    status, kecamatan = stage
    overview = await store.queue_overview(turn.session, status=status, kecamatan_code=kecamatan)
    total = len(overview)
    pages = max(1, math.ceil(total / PAGE))
    page = min(max(page, 1), pages)
    rows, _ = await store.decision_queue(
        turn.session, status=status, kecamatan_code=kecamatan, offset=(page - 1) * PAGE, limit=PAGE
    )
    warned = sum(1 for _, w in overview if w)
    lines = [texts.queue_header(_area(turn), total, warned, page, pages)]
    today = turn.services.today()
    for i, proposal in enumerate(rows, (page - 1) * PAGE + 1):
        desa = turn.services.kabupaten.desa_by_code(proposal.desa_code)
        submitted = proposal.submitted_at or proposal.created_at
        days = (today - submitted.astimezone(turn.services.timezone).date()).days
        category = proposal.category_text
        lines.append(
            texts.queue_line(
                i,
                proposal.number,
                proposal.name or "-",
                category,
                desa.name if desa else "-",
                days,
                bool(proposal.findings),
            )
        )
    if rows:
        lines.append(texts.QUEUE_FOOTER)
    officer = turn.officer
    assert officer is not None
    if officer.role is Role.DINAS:
        failed = await store.failed_count(turn.session)
        if failed:
            lines.append(texts.failures_note(failed))
        if (bpjs_failed := await bpjs.failures_section(turn)) is not None:
            lines.append(bpjs_failed)
    opens = [buttons.button(p.number, Press(Kind.OPEN, id=p.id)) for p in rows]
    keyboard: list[tuple[Button, ...]] = [tuple(opens[i : i + 4]) for i in range(0, len(opens), 4)]
    nav = []
    if page > 1:
        nav.append(buttons.button("◀ Sebelumnya", Press(Kind.QUEUE, id=page - 1)))
    if page < pages:
        nav.append(buttons.button("Berikutnya ▶", Press(Kind.QUEUE, id=page + 1)))
    if nav:
        keyboard.append(tuple(nav))
    clean = total - warned
    if officer.role is Role.CAMAT and clean:
        # Their own proposals (an operator made camat) are not theirs to approve, in bulk or not.
        clean = len(
            await store.without_warnings(
                turn.session, status=status, kecamatan_code=kecamatan, not_by=officer.id
            )
        )
    if officer.role is Role.CAMAT and clean:
        keyboard.append((buttons.button(texts.bulk_button(clean), Press(Kind.BULK, "ask")),))
    turn.say(Reply("\n".join(lines), buttons=tuple(keyboard), edit=edit))


async def _open(turn: Turn, proposal: Proposal, *, edit: bool = False) -> None:
    """One card from the queue: with decision buttons if it waits for this approver."""
    officer = turn.officer
    assert officer is not None
    if not may_see(officer, proposal):
        turn.say(texts.NOT_YOURS)
        return
    card = await cards.render_card(turn, proposal)
    waiting = STAGE.get(officer.role) is proposal.status
    keyboard = cards.decision_buttons(proposal, proposal.status) if waiting else ()
    turn.say(Reply(card, buttons=keyboard, edit=edit))


async def _open_next(turn: Turn) -> None:
    waiting = await _overview(turn)
    if not waiting:
        turn.say(texts.queue_header(_area(turn), 0, 0, 1, 1))
        return
    proposal = await turn.session.get(Proposal, waiting[0][0])
    assert proposal is not None
    await _open(turn, proposal)


async def _bulk(turn: Turn, action: str | None) -> None:
    """Approve every waiting proposal without warnings, after a confirmation that states the count
    (``action`` None: forged data)."""
    officer = turn.officer
    assert officer is not None
    if officer.role is not Role.CAMAT:
        turn.say(texts.NOT_YOURS)
        return
    pending = await _current_decision(turn)
    confirmed = pending.data.get("bulk") if pending is not None and pending.step == "bulk" else None
    if action == "no":
        if pending is not None:
            await turn.session.delete(pending)
        turn.say(Reply(texts.BULK_CANCELLED, edit=True))
        return
    if action == "ask":
        clean = await store.without_warnings(
            turn.session, status=Status.MENUNGGU_CAMAT, kecamatan_code=officer.region_code, not_by=officer.id
        )
        if not clean:
            turn.say(texts.NOTHING_WITHOUT_WARNINGS)
            return
        # Exactly what the confirmation counts, each in the version shown: nothing arriving, returned and
        # resubmitted, or changed meanwhile is approved unseen.
        await _open_decision(turn, None, "bulk", {"bulk": [[p.id, p.resubmissions] for p in clean]})
        rows = (
            (buttons.button(texts.bulk_yes(len(clean)), Press(Kind.BULK, "go")),),
            (buttons.button(texts.CANCEL, Press(Kind.BULK, "no")),),
        )
        turn.say(Reply(texts.bulk_confirm(len(clean), _area(turn)), buttons=rows, edit=True))
        return
    if action != "go":
        turn.say(texts.STALE_BUTTON)
        return
    if confirmed is None:  # pressed twice, or after another press: the list was used or dropped
        turn.say(texts.BULK_ALREADY_DONE)
        return
    await turn.session.delete(pending)
    done = 0
    for pid, version in confirmed:
        proposal = await turn.session.get(Proposal, pid)
        if proposal is None or proposal.resubmissions != version or proposal.findings:
            continue
        try:
            await decide(turn, proposal, Action.APPROVE)
            done += 1
        except Refused:
            continue
    skipped = len(confirmed) - done
    turn.say(Reply(texts.bulk_done(done, skipped), buttons=await _next_button(turn), edit=True))


# --------------------------------------------------------------------------------------- history, failures


async def show_history(turn: Turn) -> None:
    """/riwayat NUMBER: the audit trail of one proposal, for anyone who may see it."""
    proposal = await queries.numbered(turn, texts.HISTORY_USAGE)
    if proposal is None:
        return
    assert proposal.id is not None
    lines = [
        (
            turn.services.local_time(event.at),
            who.name,
            who.role,
            event.action,
            Status(event.to_status) if event.to_status else None,
            event.reason,
        )
        for event, who in await store.history(turn.session, proposal_id=proposal.id)
    ]
    turn.say(texts.history(proposal.number, proposal.name or "-", lines))


async def show_failures(turn: Turn) -> None:
    """/gagal: messages the outbox could never deliver, for the dinas to follow up by phone."""
    officer = turn.officer
    assert officer is not None
    if officer.role is not Role.DINAS:
        turn.say(texts.ONLY_DINAS)
        return
    rows, total = await store.failed_deliveries(turn.session, limit=20)
    if not rows:
        turn.say(texts.NO_FAILURES)
        return
    listed = []
    for message, who in rows:
        person = f"{texts.ROLE_TITLE[who.role]} {who.name} ({texts.nomor_hp(who.phone)})" if who else "-"
        what = message.text.split("\n", 1)[0][:60]
        why = texts.failure_reason(message.error)
        when = turn.services.local_time(message.sent_at or message.created_at)
        listed.append((when, person, what, why))
    turn.say(texts.failures(listed, total))


async def waiting_note(turn: Turn) -> None:
    """After /start of an approver: how many proposals wait for them (cards sent before they joined
    never reached them)."""
    waiting = await _overview(turn)
    if waiting:
        turn.say(texts.waiting_for_you(len(waiting)))


async def forget_decision(turn: Turn) -> None:
    """Drop an open decision when the approver moves on (a command), saying so if a reason was asked."""
    conversation = await _current_decision(turn)
    if conversation is None:
        return
    await turn.session.delete(conversation)
    if conversation.step != "bulk" and conversation.proposal_id is not None:
        turn.say(texts.reason_expired(format_number(conversation.proposal_id)))
