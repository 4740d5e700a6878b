"""Approval cards and notifications: what approvers and officers are sent when a proposal changes.

Everything here goes into the outbox in the caller's transaction (``models.store.queue_message``), so a
message exists exactly when the change that caused it committed; ``scheduler.outbox`` sends it.
"""

from __future__ import annotations

from handlers import allocation, buttons, texts
from handlers.context import Turn
from handlers.messages import Button, Kind, Reply
from models import store
from models.rules.candidate import Finding
from models.rules.nik import mask_nik
from models.rules.status import Role, Status
from models.tables import CardCopy, ChatAccount, Officer, Proposal, Purpose


def card_text(turn: Turn, proposal: Proposal, *, proposer: str, camat_decision: str | None) -> str:
    """The card for ``proposal`` as it stands: masked NIK, age on the coverage start, warnings."""
    services = turn.services
    assert proposal.nik_encrypted and proposal.birth_date and proposal.submitted_at
    desa = services.kabupaten.desa_by_code(proposal.desa_code)
    start = services.effective_coverage_start()
    birth = proposal.birth_date
    age = start.year - birth.year - ((start.month, start.day) < (birth.month, birth.day))
    return texts.card(
        number=proposal.number,
        status=proposal.status,
        name=proposal.name or "-",
        masked_nik=mask_nik(services.vault.decrypt(proposal.nik_encrypted)),
        age=age,
        gender=proposal.gender or "",
        category=proposal.category_text,
        desa_label=desa.label if desa else proposal.desa_code,
        proposer=proposer,
        submitted_at=services.local_time(proposal.submitted_at),
        warnings=[Finding.from_json(f) for f in proposal.findings],
        resubmissions=proposal.resubmissions,
        changes=[_change_line(c) for c in proposal.changes],
        camat_decision=camat_decision,
    )


def _change_line(change: dict[str, str]) -> str:
    label = texts.FIELD_LABELS.get(change["field"], change["field"])
    return f"{label}: {change['before']} → {change['after']}"


def snapshot(proposal: Proposal) -> dict[str, str | None]:
    """The answers as they were when returned, to show the camat what the correction changed."""
    return {
        "nik": proposal.nik_hash,
        "name": proposal.name,
        "birth": f"{proposal.birth_date.isoformat() if proposal.birth_date else ''} {proposal.gender or ''}",
        "category": proposal.category_text,
        "address": proposal.address,
        "phone": proposal.phone,
    }


def about(proposal: Proposal, kind: buttons.Kind, action: str = "") -> buttons.Press:
    """A press of ``kind`` naming ``proposal`` by id and version (``<ref>``, "42.1" after one resubmission),
    so a button of a version the camat never saw (the proposal was corrected meanwhile) decides nothing."""
    return buttons.Press(kind, action=action, id=proposal.id, version=proposal.resubmissions)


def decision_buttons(proposal: Proposal, stage: Status) -> tuple[tuple[Button, ...], ...]:
    """Setujui / Tolak / Kembalikan for the camat; Tetapkan / Tolak and Lihat NIK for the dinas.

    The data carries the proposal id and an action, never personal data; every press is re-checked.
    """
    b = lambda label, act: buttons.button(label, about(proposal, buttons.Kind.DECIDE, act))  # noqa: E731
    if stage is Status.MENUNGGU_CAMAT:
        return ((b(texts.APPROVE, "ok"), b(texts.REJECT, "no")), (b(texts.RETURN, "ret"),))
    return ((b(texts.ESTABLISH, "est"), b(texts.REJECT, "no")), (b(texts.REVEAL_NIK, "nik"),))


async def camat_decision_line(turn: Turn, proposal: Proposal) -> str | None:
    """ "Disetujui oleh Camat X, <when>" for a card at the dinas stage."""
    assert proposal.id is not None
    if proposal.status in {Status.DRAFT, Status.MENUNGGU_CAMAT, Status.DIKEMBALIKAN}:
        return None
    for event, officer in reversed(await store.history(turn.session, proposal_id=proposal.id)):
        if event.action == "approve":
            return texts.decided_by("approve", officer.role, officer.name, turn.services.local_time(event.at))
    return None


async def render_card(turn: Turn, proposal: Proposal, *, with_camat: bool = True) -> str:
    """The card as it stands; ``with_camat=False`` leaves out the camat's approval (said just below it)."""
    camat = await camat_decision_line(turn, proposal) if with_camat else None
    text = card_text(turn, proposal, proposer=await _proposer_name(turn, proposal), camat_decision=camat)
    quota = await allocation.card_line(turn, proposal.kecamatan_code)  # None: the year is not allocated
    return f"{text}\n{quota}" if quota else text


async def _proposer_name(turn: Turn, proposal: Proposal) -> str:
    """Who sent the proposal, as they were then: the roster row may hold someone else since."""
    assert proposal.id is not None
    proposer = await turn.session.get(Officer, proposal.officer_id)
    if proposer is None:
        return "-"
    if proposer.updated_at <= proposal.created_at:  # unchanged since (the usual case): no trail to read
        return proposer.name
    for event, actor in await store.history(turn.session, proposal_id=proposal.id):
        if event.action == "submit":
            return actor.name
    return proposer.name


async def send_for_decision(turn: Turn, proposal: Proposal) -> int:
    """A card to every approver of the proposal's current stage; returns how many people were reached."""
    assert proposal.id is not None
    stage = proposal.status
    if stage is Status.MENUNGGU_CAMAT:
        approvers = await store.officers_of(
            turn.session, role=Role.CAMAT, region_code=proposal.kecamatan_code
        )
    else:  # the kabupaten's dinas (a roster row of another kabupaten's code covers nothing here)
        approvers = await store.officers_of(
            turn.session, role=Role.DINAS, region_code=turn.services.kabupaten.code
        )
    reply = Reply(await render_card(turn, proposal), buttons=decision_buttons(proposal, stage))
    reached = 0
    for approver in approvers:
        assert approver.id is not None
        accounts = await store.accounts_of(
            turn.session, officer_id=approver.id, reach_unbound=turn.services.reach_unbound
        )
        for account in accounts:
            copy = CardCopy(
                proposal_id=proposal.id,
                stage=stage.value,
                officer_id=approver.id,
                channel=account.channel,
                chat_id=account.chat_id,
            )
            turn.session.add(copy)
            await turn.session.flush()
            await _queue(turn, account, reply, Purpose.CARD, card=copy)
        reached += bool(accounts)
    return reached


async def close_cards(turn: Turn, proposal: Proposal, stage: Status, outcome: str) -> None:
    """Write a decision on every open copy of the stage's card (the pressed one is edited directly)."""
    assert proposal.id is not None
    inbound = turn.inbound
    for copy in await store.open_cards(turn.session, proposal_id=proposal.id, stage=stage):
        copy.closed = True
        turn.session.add(copy)
        pressed_here = inbound.kind is Kind.BUTTON and (copy.channel, copy.chat_id) == (
            inbound.channel,
            inbound.chat_id,
        )
        # A channel that cannot name the pressed message (the terminal) edits it in its own chat.
        if pressed_here and inbound.message_ref in {None, copy.message_ref}:
            continue
        await _queue(turn, copy, Reply(outcome), Purpose.CARD, card=copy, edit=True)


async def tell_officer(turn: Turn, officer_id: int, reply: Reply) -> int:
    """A message to an officer on every channel they are bound on (by their roster phone on the services'
    ``reach_unbound`` channel when bound on none); returns how many were queued."""
    accounts = await store.accounts_of(
        turn.session, officer_id=officer_id, reach_unbound=turn.services.reach_unbound
    )
    for account in accounts:
        await _queue(turn, account, reply, Purpose.NOTICE)
    return len(accounts)


async def _queue(
    turn: Turn,
    account: ChatAccount | CardCopy,
    reply: Reply,
    purpose: Purpose,
    *,
    card: CardCopy | None = None,
    edit: bool = False,
) -> None:
    await store.queue_message(
        turn.session,
        account=account,
        text=reply.text,
        buttons=[[[b.label, b.data] for b in row] for row in reply.buttons],
        card=card,
        edit=edit,
        purpose=purpose,
    )
    turn.queued += 1
