"""Weekly summaries and daily reminders: each role sees its own area, cut from one kabupaten-wide snapshot.

The scheduler (``scheduler.jobs``) builds a :class:`Snapshot` once and asks :func:`summary` for every
recipient; ``/ringkasan`` does the same for the person asking. Nothing here sends: the replies go to the
outbox or back to the chat.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from dataclasses import dataclass, field

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import allocation, buttons, chart, onboarding, period, rekap, texts, verifikasi
from handlers.context import Services, Turn
from handlers.messages import Button, Reply, split_text
from models import program_year, reports, store
from models.reports import DesaFigures, Overdue
from models.rules.status import Role, Status
from models.tables import KecamatanAllocation, Officer, format_number

WEEK = dt.timedelta(days=7)
PART_LIMIT = 3500  # characters per message: under Telegram's 4096 with room for emoji counted twice
RETURNED_LISTED = 5  # returned proposals listed (with a button each) in an operator's summary
UNREACHABLE_LISTED = 30
NAMES_LISTED = 40  # desa named as "not proposed yet" in a camat's summary
# Opens /antrian as a new message: the summary or reminder it sits under stays in the chat.
QUEUE_BUTTON = ((buttons.button(texts.OPEN_QUEUE, buttons.Press(buttons.Kind.QUEUE, buttons.QUEUE_NEW)),),)


@dataclass(slots=True)
class Snapshot:
    """The kabupaten at one moment: what every summary of that moment is cut from."""

    start: dt.datetime  # the week summarised, [start, end)
    end: dt.datetime
    now: dt.datetime  # when the figures were read: waiting times count to here
    desa: dict[str, DesaFigures]
    activity: dict[str, dict[str, int]]
    returned: dict[str, Overdue]  # by desa: every returned proposal, the oldest few listed
    unreachable: list[reports.Unreachable] = field(default_factory=list)
    quota_lines: list[str] = field(default_factory=list)  # the dinas's quota and budget, as in /rekap
    chart_png: bytes | None = None  # drawn by snapshot() when a dinas summary needs it
    # The year's kecamatan allocations (empty: not allocated) and, while intake is open, its period line.
    allocations: dict[str, KecamatanAllocation] = field(default_factory=dict)
    period_line: str | None = None
    verification: str | None = None  # the open re-verification round's progress line (dinas, camat)


def week_before(services: Services, moment: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The seven whole days before ``moment``'s day, in the kabupaten's time: a Monday's summary covers
    Monday to Sunday of the week before."""
    day = moment.astimezone(services.timezone).date()
    end = dt.datetime.combine(day, dt.time(0), tzinfo=services.timezone)
    return end - WEEK, end


def week_so_far(services: Services, moment: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The last seven days up to ``moment``, today included (``/ringkasan``)."""
    day = moment.astimezone(services.timezone).date() - dt.timedelta(days=6)
    return dt.datetime.combine(day, dt.time(0), tzinfo=services.timezone), moment


async def snapshot(
    session: AsyncSession, services: Services, *, start: dt.datetime, end: dt.datetime
) -> Snapshot:
    """Read everything the summaries of the week [start, end) need, as of now: a handful of grouped
    queries. The dinas's chart is drawn apart (:func:`draw_chart`), after the session if possible."""
    now = services.clock()
    program, budget_lines = await rekap.program_figures(session, services, kecamatan_code=None)
    year = services.today().year
    quota_lines = [
        texts.quota_line(year=year, quota=program.new_quota, established=program.new_established),
        *budget_lines,
    ]
    snap = Snapshot(
        start=start,
        end=end,
        now=now,
        desa=await reports.desa_figures(session),
        activity=await reports.activity(session, start=start, end=end),
        returned=await reports.overdue(
            session,
            status=Status.DIKEMBALIKAN,
            before=now,
            desa_codes=_desa_codes(services),
            by="desa",
            keep=RETURNED_LISTED,
        ),
        unreachable=await reports.unreachable(session, reach_unbound=services.reach_unbound),
        quota_lines=quota_lines,
    )
    snap.allocations = await program_year.allocations(session, year=year)
    snap.quota_lines += allocation.lines(services, snap.allocations, year, None)
    snap.period_line = await period.open_line(session, services)
    snap.verification = await verifikasi.summary_line(session)
    return snap


async def draw_chart(snap: Snapshot, services: Services) -> None:
    """Draw the dinas's chart into the snapshot, in a worker thread (about 0,15 s; more on the first)."""
    snap.chart_png = await asyncio.to_thread(_draw_chart, snap, services)


def _draw_chart(snap: Snapshot, services: Services) -> bytes:
    kabupaten = services.kabupaten
    rows = [
        (k.name, _sum([snap.desa.get(d.code, DesaFigures()) for d in k.desa], [])[0].counts)
        for k in kabupaten.kecamatan
    ]
    day = texts.tanggal(snap.now.astimezone(services.timezone).date())
    # With allocations, each kecamatan's quota is marked against its bar of established proposals.
    quotas = [
        snap.allocations[k.code].quota if k.code in snap.allocations else None for k in kabupaten.kecamatan
    ]
    return chart.proposals_by_kecamatan(
        rows,
        title=f"Usulan per kecamatan\n{kabupaten.name}, {day}",
        quotas=quotas if snap.allocations else None,
    )


def summary(snap: Snapshot, services: Services, officer: Officer) -> list[Reply]:
    """The officer's weekly summary: one or more messages (split at line breaks), the dinas's chart last."""
    match officer.role:
        case Role.OPERATOR:
            return _operator(snap, services, officer)
        case Role.CAMAT:
            return _with_verification(snap, _camat(snap, services, officer))
        case Role.DINAS:
            return _with_verification(snap, _dinas(snap, services, officer))


def _with_verification(snap: Snapshot, replies: list[Reply]) -> list[Reply]:
    """The re-verification round's line at the end of the summary's first message."""
    if not snap.verification or not replies:
        return replies
    first = replies[0]
    return [dataclasses.replace(first, text=f"{first.text}\n\n{snap.verification}"), *replies[1:]]


def _days(services: Services, since: dt.datetime | None, now: dt.datetime) -> int | None:
    if since is None:
        return None
    local = services.timezone
    return (now.astimezone(local).date() - since.astimezone(local).date()).days


def _heading(snap: Snapshot, services: Services, area: str) -> str:
    zone = services.timezone
    last_day = (snap.end - dt.timedelta(microseconds=1)).astimezone(zone).date()
    return texts.summary_heading(area, snap.start.astimezone(zone).date(), last_day)


def _sum(figures: list[DesaFigures], activity: list[dict[str, int]]) -> tuple[DesaFigures, dict[str, int]]:
    total = DesaFigures()
    for one in figures:
        for status, count in one.counts.items():
            total.counts[status] = total.counts.get(status, 0) + count
        for status, since in one.oldest.items():
            if status not in total.oldest or since < total.oldest[status]:
                total.oldest[status] = since
        if one.last_submitted and (total.last_submitted is None or one.last_submitted > total.last_submitted):
            total.last_submitted = one.last_submitted
    done: dict[str, int] = {}
    for one_done in activity:
        for action, count in one_done.items():
            done[action] = done.get(action, 0) + count
    return total, done


def _proposed_this_year(services: Services, figures: DesaFigures | None) -> bool:
    if figures is None or figures.last_submitted is None:
        return False
    return figures.last_submitted.astimezone(services.timezone).year >= services.today().year


def _figures_lines(snap: Snapshot, services: Services, total: DesaFigures, done: dict[str, int]) -> list[str]:
    now = snap.now
    return [
        texts.IN_THE_WEEK + texts.week_activity(done) + ".",
        texts.waiting_line(
            "Menunggu camat",
            total.counts.get(Status.MENUNGGU_CAMAT, 0),
            _days(services, total.oldest.get(Status.MENUNGGU_CAMAT), now),
        ),
        texts.waiting_line(
            "Menunggu Diskopnaker",
            total.counts.get(Status.MENUNGGU_DINAS, 0),
            _days(services, total.oldest.get(Status.MENUNGGU_DINAS), now),
        ),
        "Sampai hari ini: " + texts.status_totals(total.counts) + ".",
    ]


def _area_line(
    snap: Snapshot, services: Services, name: str, figures: DesaFigures, new: int, stage: Status
) -> str:
    return texts.area_line(
        name,
        new=new,
        waiting=figures.counts.get(stage, 0),
        oldest_days=_days(services, figures.oldest.get(stage), snap.now),
        total=sum(figures.counts.values()),
    )


def _camat(snap: Snapshot, services: Services, officer: Officer) -> list[Reply]:
    kecamatan = services.kabupaten.kecamatan_by_code(officer.region_code)
    if kecamatan is None:
        return []
    desa = [(d, snap.desa.get(d.code, DesaFigures()), snap.activity.get(d.code, {})) for d in kecamatan.desa]
    total, done = _sum([f for _, f, _ in desa], [a for _, _, a in desa])
    lines = [_heading(snap, services, f"Kec. {kecamatan.name}"), ""]
    lines += _figures_lines(snap, services, total, done)
    lines += ["", texts.PER_DESA]
    # Only the desa with something to show; the silent ones are named below.
    lines += [
        _area_line(snap, services, d.name, f, a.get("submit", 0), Status.MENUNGGU_CAMAT)
        for d, f, a in desa
        if f.counts or a
    ]
    silent = [d.name for d, f, _ in desa if not _proposed_this_year(services, f)]
    year = services.today().year
    named = silent[:NAMES_LISTED]
    if len(silent) > NAMES_LISTED:
        named.append(f"dan {len(silent) - NAMES_LISTED} lainnya")
    lines += ["", texts.not_proposed(year, named, len(silent), len(desa))]
    if snap.period_line and silent:  # while intake is open: the desa that have still sent nothing
        lines += [snap.period_line, texts.desa_without_proposal(silent)]
    lines += allocation.lines(services, snap.allocations, year, kecamatan.code)
    lines += ["", texts.SUMMARY_APPROVER_FOOTER]
    return _parts("\n".join(lines), buttons=QUEUE_BUTTON)


def _dinas(snap: Snapshot, services: Services, officer: Officer) -> list[Reply]:
    kabupaten = services.kabupaten
    in_region = [k for k in kabupaten.kecamatan if k.code.startswith(officer.region_code + ".")]
    whole = officer.region_code == kabupaten.code
    rows: list[tuple[str, DesaFigures, dict[str, int], int, int]] = []
    all_figures, all_done = [], []
    silent = 0
    desa_count = 0
    for kecamatan in in_region:
        figures = [snap.desa.get(d.code, DesaFigures()) for d in kecamatan.desa]
        done = [snap.activity.get(d.code, {}) for d in kecamatan.desa]
        quiet = sum(1 for f in figures if not _proposed_this_year(services, f))
        silent += quiet
        desa_count += len(kecamatan.desa)
        rows.append((kecamatan.name, *_sum(figures, done), quiet, len(kecamatan.desa)))
        all_figures += figures
        all_done += done
    total, done_all = _sum(all_figures, all_done)
    area = kabupaten.name if whole else officer.region_code
    lines = [_heading(snap, services, area), ""]
    lines += _figures_lines(snap, services, total, done_all)
    lines += ["", texts.PER_KECAMATAN]
    for name, f, d, quiet, of in rows:
        lines.append(_area_line(snap, services, name, f, d.get("submit", 0), Status.MENUNGGU_CAMAT))
        lines.append(texts.kecamatan_decisions(d, silent=quiet, desa=of))
    lines += [texts.not_proposed_count(services.today().year, silent, desa_count)]
    if whole:
        lines += ["", *snap.quota_lines]
    where = onboarding.region_label
    people = [
        (u.officer.name, u.officer.role.value, where(services.kabupaten, u.officer), u.reason)
        for u in snap.unreachable
        if u.officer.region_code == officer.region_code
        or u.officer.region_code.startswith(officer.region_code + ".")
    ]
    lines += ["", *texts.unreachable_lines(people, limit=UNREACHABLE_LISTED)]
    lines += ["", texts.SUMMARY_APPROVER_FOOTER]
    replies = _parts("\n".join(lines), buttons=QUEUE_BUTTON)
    if snap.chart_png is not None:
        caption = texts.CHART_CAPTION.format(day=texts.tanggal(snap.now.astimezone(services.timezone).date()))
        replies.append(Reply(caption, photo=snap.chart_png))
    return replies


def _operator(snap: Snapshot, services: Services, officer: Officer) -> list[Reply]:
    desa = services.kabupaten.desa_by_code(officer.region_code)
    if desa is None:
        return []
    figures = snap.desa.get(desa.code, DesaFigures())
    done = snap.activity.get(desa.code, {})
    lines = [_heading(snap, services, f"{desa.kind.capitalize()} {desa.name}"), ""]
    if not figures.counts:
        lines.append(texts.summary_operator_empty(desa.kind))
        return _parts("\n".join(lines))
    lines += [
        texts.IN_THE_WEEK + texts.week_activity(done) + ".",
        "Semua usulan desa ini: " + texts.status_totals(figures.counts) + ".",
        "",
    ]
    returned = snap.returned.get(desa.code, Overdue())
    lines.append(texts.needs_action(figures.counts.get(Status.DIKEMBALIKAN, 0)))
    keyboard: list[tuple[Button, ...]] = []
    for item in returned.oldest:
        number = format_number(item.id)
        days = _days(services, item.since, snap.now) or 0
        lines.append(texts.returned_item(number, item.name, list(item.fix_fields), days))
        keyboard.append((_fix_button(number, item.id),))
    unlisted = figures.counts.get(Status.DIKEMBALIKAN, 0) - len(returned.oldest)
    if unlisted > 0:
        lines.append(texts.more(unlisted, "/daftarku"))
    return _parts("\n".join(lines), buttons=tuple(keyboard))


@dataclass(slots=True)
class Overdues:
    """What waits too long, kabupaten-wide, for one day's reminders."""

    now: dt.datetime
    remind_days: int
    escalate_days: int
    fix_days: int
    at_camat: dict[str, Overdue]  # by kecamatan, past remind_days, the oldest few listed
    escalated: dict[str, Overdue]  # by kecamatan, past escalate_days
    at_dinas: dict[str, Overdue]  # by kecamatan, past remind_days
    to_fix: dict[str, Overdue]  # by desa, returned past fix_days, the oldest few listed
    camats: dict[str, list[str]] = field(default_factory=dict)  # kecamatan -> names of its camats


REMINDER_LISTED = 10


async def overdues(
    session: AsyncSession,
    services: Services,
    *,
    now: dt.datetime,
    remind_days: int,
    escalate_days: int,
    fix_days: int,
) -> Overdues:
    """Read what waits past the reminder, escalation and correction thresholds at ``now``."""
    day = dt.timedelta(days=1)
    camats: dict[str, list[str]] = {}
    for camat in await store.officers_of(session, role=Role.CAMAT):
        camats.setdefault(camat.region_code, []).append(camat.name)
    desa = _desa_codes(services)

    async def waiting(status: Status, days: int, by: str, keep: int) -> dict[str, Overdue]:
        return await reports.overdue(
            session, status=status, before=now - days * day, desa_codes=desa, by=by, keep=keep
        )

    return Overdues(
        now=now,
        remind_days=remind_days,
        escalate_days=escalate_days,
        fix_days=fix_days,
        at_camat=await waiting(Status.MENUNGGU_CAMAT, remind_days, "kecamatan", REMINDER_LISTED),
        escalated=await waiting(Status.MENUNGGU_CAMAT, escalate_days, "kecamatan", 1),
        at_dinas=await waiting(Status.MENUNGGU_DINAS, remind_days, "kecamatan", 1),
        to_fix=await waiting(Status.DIKEMBALIKAN, fix_days, "desa", REMINDER_LISTED),
        camats=camats,
    )


def _desa_codes(services: Services) -> list[str]:
    return [d.code for d in services.kabupaten.all_desa()]


def reminder(found: Overdues, services: Services, officer: Officer) -> list[Reply]:
    """The officer's reminder of the day, or nothing when nothing of theirs waits too long."""
    match officer.role:
        case Role.CAMAT:
            return _remind_camat(found, services, officer)
        case Role.DINAS:
            return _remind_dinas(found, services, officer)
        case Role.OPERATOR:
            return _remind_operator(found, services, officer)


def _remind_camat(found: Overdues, services: Services, officer: Officer) -> list[Reply]:
    waiting = found.at_camat.get(officer.region_code)
    if waiting is None or not waiting.count:
        return []
    items = [_waiting_item(services, item, found.now) for item in waiting.oldest]
    if waiting.count > len(waiting.oldest):
        items.append(texts.more(waiting.count - len(waiting.oldest), "/antrian"))
    escalated = found.escalated.get(officer.region_code, Overdue()).count
    text = texts.remind_camat(
        waiting.count, found.remind_days, items, escalated=escalated, escalate_days=found.escalate_days
    )
    return _parts(text, buttons=QUEUE_BUTTON)


def _remind_dinas(found: Overdues, services: Services, officer: Officer) -> list[Reply]:
    """Escalations (waiting at a camat past the escalation threshold), then the dinas's own late queue."""
    prefix = officer.region_code + "."
    sections = []
    escalated = sorted((k, v) for k, v in found.escalated.items() if k.startswith(prefix) and v.count)
    if escalated:
        rows = []
        for code, late in escalated:
            name = services.kabupaten.kecamatan_name(code)
            oldest = _days(services, late.oldest[0].since, found.now) or 0 if late.oldest else 0
            rows.append(texts.escalation_row(name, late.count, oldest, found.camats.get(code, [])))
        total = sum(late.count for _, late in escalated)
        sections.append(texts.escalation(total, found.escalate_days, rows))
    own = [v for k, v in found.at_dinas.items() if k.startswith(prefix) and v.count]
    if own:
        oldest_since = min(v.oldest[0].since for v in own if v.oldest)
        days = _days(services, oldest_since, found.now) or 0
        sections.append(texts.remind_dinas(sum(v.count for v in own), found.remind_days, days))
    return _parts("\n\n".join(sections), buttons=QUEUE_BUTTON) if sections else []


def _remind_operator(found: Overdues, services: Services, officer: Officer) -> list[Reply]:
    waiting = found.to_fix.get(officer.region_code)
    if waiting is None or not waiting.count:
        return []
    items, keyboard = [], []
    for item in waiting.oldest:
        number = format_number(item.id)
        days = _days(services, item.since, found.now) or 0
        items.append(texts.returned_item(number, item.name, list(item.fix_fields), days))
        keyboard.append((_fix_button(number, item.id),))
    if waiting.count > len(waiting.oldest):
        items.append(texts.more(waiting.count - len(waiting.oldest), "/daftarku"))
    return _parts(texts.remind_fix(waiting.count, found.fix_days, items), buttons=tuple(keyboard))


def _fix_button(number: str, proposal_id: int) -> Button:
    """Perbaiki for a returned proposal."""
    return buttons.button(f"{texts.FIX} {number}", buttons.Press(buttons.Kind.FIX, id=proposal_id))


def _waiting_item(services: Services, item: reports.Waiting, now: dt.datetime) -> str:
    desa = services.kabupaten.desa_by_code(item.desa_code)
    where = desa.name if desa else item.desa_code
    return texts.waiting_item(format_number(item.id), item.name, where, _days(services, item.since, now) or 0)


def _parts(text: str, buttons: tuple[tuple[Button, ...], ...] = ()) -> list[Reply]:
    """The text as messages under the limit, cut at line breaks; the buttons go with the last one."""
    chunks = split_text(text, PART_LIMIT)
    return [Reply(chunk, buttons=buttons if i == len(chunks) - 1 else ()) for i, chunk in enumerate(chunks)]


async def show(turn: Turn) -> None:
    """/ringkasan: the asker's summary of the last seven days, now."""
    officer = turn.officer
    assert officer is not None
    start, end = week_so_far(turn.services, turn.services.clock())
    snap = await snapshot(turn.session, turn.services, start=start, end=end)
    if officer.role is Role.DINAS:
        await draw_chart(snap, turn.services)
    replies = summary(snap, turn.services, officer)
    if not replies:  # a region the kabupaten does not have (a roster typo the import let through)
        turn.say(texts.SUMMARY_NO_REGION.format(admin=turn.services.admin_contact))
    for reply in replies:
        turn.say(reply)
