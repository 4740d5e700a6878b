"""Queries: an officer's own proposals, and one proposal by number for whoever may see it."""

from __future__ import annotations

import re

from handlers import bpjs, buttons, texts
from handlers.context import Turn
from handlers.messages import Reply
from models import store
from models.rules.candidate import Finding
from models.rules.nik import mask_nik
from models.rules.status import Role, Status, covers
from models.tables import Officer, Proposal

LIST_LIMIT = 20
# ASCII digits only, at most nine: every such number fits PostgreSQL's integer id.
_NUMBER = re.compile(r"^\s*#?\s*(?:u\s*-?\s*)?0*(\d{1,9})\s*$", re.IGNORECASE | re.ASCII)


def parse_number(text: str) -> int | None:
    """U-00042, u42, #42, 42 -> 42."""
    match = _NUMBER.match(text)
    return int(match.group(1)) if match else None


async def my_proposals(turn: Turn) -> None:
    """/daftarku: the operator's sent proposals, newest first."""
    officer = turn.officer
    assert officer is not None and officer.id is not None
    if officer.role is not Role.OPERATOR:
        turn.say(texts.ONLY_OPERATORS_LIST)
        return
    rows, total = await store.officer_proposals(turn.session, officer_id=officer.id, limit=LIST_LIMIT)
    if not rows:
        turn.say(texts.NO_PROPOSALS)
        return
    listed = [(p.number, p.name or "-", texts.STATUS_LABEL[p.status]) for p in rows]
    # Returned proposals can be corrected from here too, not only from the message that returned them.
    fixes = [
        buttons.button(f"{texts.FIX} {p.number}", buttons.Press(buttons.Kind.FIX, id=p.id))
        for p in rows
        if p.status is Status.DIKEMBALIKAN
    ]
    turn.say(Reply(texts.proposals_list(listed, total), buttons=tuple((b,) for b in fixes)))


def may_see(officer: Officer, proposal: Proposal) -> bool:
    """Operators see their desa's proposals, camats their kecamatan's, the dinas all."""
    if proposal.status is Status.DRAFT:
        return False
    return covers(
        officer.role,
        officer.region_code,
        desa_code=proposal.desa_code,
        kecamatan_code=proposal.kecamatan_code,
    )


async def numbered(turn: Turn, usage: str) -> Proposal | None:
    """The proposal a command names by number (/status U-00042), if the officer may see it; else says why."""
    officer = turn.officer
    assert officer is not None
    if not turn.inbound.text.strip():
        turn.say(usage)
        return None
    number = parse_number(turn.inbound.text)
    proposal = await turn.session.get(Proposal, number) if number else None
    # "Not found" and "not yours" read the same: the number alone must not reveal a proposal elsewhere.
    if proposal is None or not may_see(officer, proposal):
        turn.say(texts.STATUS_NOT_FOUND)
        return None
    return proposal


async def status(turn: Turn) -> None:
    """/status NUMBER: one proposal, NIK masked."""
    proposal = await numbered(turn, texts.STATUS_USAGE)
    if proposal is None:
        return
    desa = turn.services.kabupaten.desa_by_code(proposal.desa_code)
    assert proposal.nik_encrypted is not None and proposal.submitted_at is not None
    text = texts.proposal_status(
        number=proposal.number,
        name=proposal.name or "-",
        masked_nik=mask_nik(turn.services.vault.decrypt(proposal.nik_encrypted)),
        category=proposal.category_text,
        desa_label=desa.label if desa else proposal.desa_code,
        status=texts.STATUS_LABEL[proposal.status],
        submitted_at=turn.services.local_time(proposal.submitted_at),
        warnings=[Finding.from_json(f) for f in proposal.findings],
    )
    if (bpjs_line := bpjs.status_line(turn, proposal)) is not None:
        text += "\n" + bpjs_line
    turn.say(text)
