"""BPJS registration results in the chats: the proposer's notice, /status's line, /antrian's failures."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import texts
from handlers.context import Services, Turn
from models import store
from models.bpjs import Notify
from models.rules.bpjs import mask_kpj
from models.rules.status import Role
from models.tables import Proposal, Purpose

FAILURES_SHOWN = 10


def registered_notice(services: Services) -> Notify:
    """The import's notice to the officer who proposed a worker BPJS registered, on every channel they are
    bound on (or by the roster phone on ``reach_unbound``); their desa's operators if they moved off it.

    A failure tells no operator: the dinas fixes and registers it again, and sees it on /antrian.
    """

    async def notify(session: AsyncSession, proposal: Proposal) -> int:
        assert proposal.bpjs_effective is not None
        text = texts.bpjs_registered(proposal.number, proposal.name or "-", proposal.bpjs_effective)
        queued = 0
        for officer in await store.proposal_operators(session, proposal=proposal):
            assert officer.id is not None
            for account in await store.accounts_of(
                session, officer_id=officer.id, reach_unbound=services.reach_unbound
            ):
                await store.queue_message(
                    session, account=account, text=text, buttons=[], purpose=Purpose.NOTICE
                )
                queued += 1
        return queued

    return notify


def status_line(turn: Turn, proposal: Proposal) -> str | None:
    """/status's BPJS line, if BPJS answered: the KPJ in full to the dinas, its last 4 digits to others."""
    if proposal.bpjs_status is None:
        return None
    kpj = None
    if proposal.bpjs_kpj_encrypted:
        kpj = turn.services.vault.decrypt(proposal.bpjs_kpj_encrypted)
        officer = turn.officer
        if officer is None or officer.role is not Role.DINAS:
            kpj = mask_kpj(kpj)
    return texts.bpjs_status_line(proposal.bpjs_status, kpj, proposal.bpjs_effective, proposal.bpjs_note)


async def failures_section(turn: Turn) -> str | None:
    """/antrian of the dinas: the workers BPJS could not register, with BPJS's reason; None if none."""
    rows, total = await store.bpjs_failures(turn.session, limit=FAILURES_SHOWN)
    if not total:
        return None
    return texts.bpjs_failures_section([(p.number, p.name or "-", p.bpjs_note) for p in rows], total)
