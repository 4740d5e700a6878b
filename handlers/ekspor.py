"""Exports for the dinas: the BPJS collective-registration list, the decree's lampiran, all proposals, and
the latest re-verification round's continuing and removed participants.

The same builders serve `/ekspor` in the chat (files sent to the dinas officer) and `lanjutkan export`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import buttons, texts, verifikasi
from handlers.buttons import Kind, Press
from handlers.context import Services, Turn
from handlers.messages import Reply
from models import store, verification
from models.exports import Sheet, csv_bytes, xlsx_bytes
from models.rules.bpjs import Result
from models.rules.budget import new_participant_start
from models.rules.nik import mask_nik
from models.rules.status import Role, Status
from models.tables import Proposal

VERIFIED = ("verif_lanjut", "verif_keluar")  # the latest verification round's lists (handlers.verifikasi)
KINDS = ("bpjs", "lampiran", "usulan", *VERIFIED)
PROGRAM = "JKK + JKM"

BPJS_HEADERS = (
    "NIK", "Nama", "Tanggal Lahir", "Jenis Kelamin", "Alamat", "Desa/Kelurahan", "Kecamatan",
    "Kabupaten/Kota", "Kode Pos", "No HP", "Pekerjaan", "Program", "Mulai Kepesertaan",
    "Penghasilan Dilaporkan",
)  # fmt: skip
LAMPIRAN_HEADERS = ("No", "Nama", "NIK", "Desa/Kelurahan", "Kecamatan", "Pekerjaan")
USULAN_HEADERS = (
    "Nomor", "Status", "Nama", "NIK", "Desa/Kelurahan", "Kecamatan", "Pekerjaan", "Diusulkan oleh",
    "Dikirim", "Peringatan", "Riwayat",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Export:
    kind: str
    file_name: str
    content: bytes
    rows: int


def _desa_kecamatan(services: Services, proposal: Proposal) -> tuple[str, str, str | None]:
    desa = services.kabupaten.desa_by_code(proposal.desa_code)
    if desa is None:
        return proposal.desa_code, proposal.kecamatan_code, None
    return desa.name, desa.kecamatan_name, desa.postal_code


async def build(session: AsyncSession, services: Services, kind: str) -> Export:
    """One export of the current year's data (or of the latest verification round), as a file;
    LookupError for a verification list when no round was ever started."""
    year = services.today().year
    stamp = services.today().strftime("%Y%m%d")
    if kind in VERIFIED:
        latest = await verification.latest_round(session)
        if latest is None:
            raise LookupError(kind)
        removed = kind == "verif_keluar"
        content, count = await verifikasi.build_export(session, services, year=latest.year, removed=removed)
        name = f"verifikasi-{'keluar' if removed else 'lanjut'}-{latest.year}-{stamp}.xlsx"
        return Export(kind, name, content, count)
    if kind == "usulan":
        rows = await _proposal_rows(session, services)
        return Export(kind, f"usulan-lanjutkan-{stamp}.csv", csv_bytes(USULAN_HEADERS, rows), len(rows))
    established = [p for p, _ in await store.sent_proposals(session, status=Status.DITETAPKAN)]
    if kind == "bpjs":
        program = await store.program_year(session, year=year, default_quota=services.new_participant_quota)
        # Who BPJS registered already (`lanjutkan bpjs import`) is not sent again; who it could not is.
        to_register = [p for p in established if p.bpjs_status != Result.BERHASIL]
        rows = [_bpjs_row(services, p, program.coverage_start, program.declared_income) for p in to_register]
        sheet = Sheet("Peserta baru", BPJS_HEADERS, rows, frozenset({0, 8, 9}))
        return Export(kind, f"bpjs-peserta-baru-{year}-{stamp}.xlsx", xlsx_bytes(sheet), len(rows))
    # The decree's lampiran: sorted by kecamatan, then desa, then name.
    ordered = sorted(established, key=lambda p: (*_desa_kecamatan(services, p)[1::-1], p.name or ""))
    lampiran = [
        [
            i,
            p.name,
            services.vault.decrypt(p.nik_encrypted or ""),
            *_desa_kecamatan(services, p)[:2],
            p.category_text,
        ]
        for i, p in enumerate(ordered, 1)
    ]
    sheet = Sheet("Lampiran", LAMPIRAN_HEADERS, lampiran, frozenset({2}))
    return Export(kind, f"lampiran-keputusan-{year}-{stamp}.xlsx", xlsx_bytes(sheet), len(lampiran))


def _bpjs_row(
    services: Services, proposal: Proposal, program_start: dt.date | None, income: int | None
) -> list[object]:
    desa, kecamatan, postal = _desa_kecamatan(services, proposal)
    decided = (proposal.decided_at or proposal.submitted_at or proposal.created_at).astimezone(
        services.timezone
    )
    return [
        services.vault.decrypt(proposal.nik_encrypted or ""),
        proposal.name,
        proposal.birth_date,
        texts.kelamin(proposal.gender).capitalize(),
        proposal.address,
        desa,
        kecamatan,
        services.kabupaten.name,
        postal,
        texts.nomor_hp(proposal.phone) if proposal.phone else None,
        proposal.category_text,
        PROGRAM,
        new_participant_start(decided.date(), program_start),
        income,
    ]


async def _proposal_rows(session: AsyncSession, services: Services) -> list[list[object]]:
    """Every sent proposal with its status and its decisions; NIKs masked (tracking needs no full NIK)."""
    trail = await store.all_history(session)
    rows: list[list[object]] = []
    for proposal, officer in await store.sent_proposals(session):
        assert proposal.id is not None
        desa, kecamatan, _ = _desa_kecamatan(services, proposal)
        history = "; ".join(
            f"{services.local_time(e.at)} {texts.ROLE_TITLE[who.role]} {who.name}: "
            f"{texts.HISTORY_ACTION.get(e.action, e.action)}" + (f" ({e.reason})" if e.reason else "")
            for e, who in trail.get(proposal.id, [])
        )
        findings = "; ".join(f.get("code", "") for f in proposal.findings)
        # The proposer as they were when they sent it: the roster row may hold someone else now.
        submits = [who.name for e, who in trail.get(proposal.id, []) if e.action == "submit"]
        rows.append(
            [
                proposal.number,
                texts.STATUS_LABEL[proposal.status],
                proposal.name,
                mask_nik(services.vault.decrypt(proposal.nik_encrypted or "")),
                desa,
                kecamatan,
                proposal.category_text,
                submits[0] if submits else officer.name,
                proposal.submitted_at.astimezone(services.timezone).date() if proposal.submitted_at else None,
                findings,
                history,
            ]
        )
    return rows


# ------------------------------------------------------------------------------------------------- chat


async def show(turn: Turn) -> None:
    """/ekspor: the dinas chooses a file; /ekspor bpjs|lampiran|usulan sends it at once."""
    if not _may_export(turn):
        turn.say(texts.ONLY_DINAS)
        return
    kind = turn.inbound.text.strip().lower()
    if kind in KINDS:
        await send(turn, kind)
        return
    choices = tuple(
        (buttons.button(label, Press(Kind.EXPORT, key)),) for key, label in texts.EXPORT_CHOICES.items()
    )
    turn.say(Reply(texts.EXPORT_ASK, buttons=choices))


async def on_button(turn: Turn, press: Press | None) -> None:
    """A press on one of /ekspor's choices (``press`` None: forged data)."""
    kind = press.action if press is not None else ""
    if kind not in KINDS:
        turn.say(texts.STALE_BUTTON)
    elif not _may_export(turn):
        turn.say(texts.ONLY_DINAS)
    else:
        await send(turn, kind)


def _may_export(turn: Turn) -> bool:
    officer = turn.officer
    return (
        officer is not None
        and officer.role is Role.DINAS
        and officer.region_code == turn.services.kabupaten.code
    )


async def send(turn: Turn, kind: str) -> None:
    officer = turn.officer
    assert officer is not None and officer.id is not None
    try:
        export = await build(turn.session, turn.services, kind)
    except LookupError:
        turn.say(texts.NO_VERIFICATION_ROUND)
        return
    await store.record_export(
        turn.session, officer_id=officer.id, kind=kind, rows=export.rows, channel=turn.inbound.channel
    )
    turn.say(Reply(texts.export_caption(kind, export.rows), document=(export.file_name, export.content)))
