"""/siaran: the dinas or a camat announces a text to the officers of a region, through the outbox.

One conversation (flow "siaran"): the audience by role, the region, the text, a preview with the count of
recipients per channel, then Kirim. Every press is checked against the conversation's token and step and
the presser's role and region from the roster, so a forged or stale press changes nothing.
"""

from __future__ import annotations

from typing import Any

from handlers import buttons, texts
from handlers.buttons import Press
from handlers.context import Turn
from handlers.intake import CANCEL_WORDS
from handlers.messages import Button, Kind, Reply
from models import announcements, store
from models.regions import Kabupaten
from models.rules.announcement import (
    MAX_TEXT,
    Audience,
    TextProblem,
    clean_announcement,
    may_address,
    may_announce,
    page_of,
    reach,
    region_of_value,
    region_value,
)
from models.tables import Conversation, Officer, Purpose

FLOW = "siaran"
AUDIENCE, REGION, TEXT, PREVIEW = "audience", "region", "text", "preview"
SEND, EDIT, CANCEL = "send", "edit", "cancel"
PAGE_PREFIX = "pg"  # a region list's page: "pg2"
HISTORY = 5  # the sender's latest announcements shown by /siaran
MAX_TYPED = 4 * MAX_TEXT  # a longer message is refused before cleaning it


def is_open(conversation: object) -> bool:
    """Whether ``conversation`` (as the engine looked it up) is an announcement being prepared."""
    return isinstance(conversation, Conversation) and conversation.flow == FLOW


# ---------------------------------------------------------------------------------------- entry points


async def start(turn: Turn, conversation: object) -> None:
    """/siaran: the sender's latest announcements and their counts, then a new one (or the open one)."""
    officer = turn.officer
    assert officer is not None and officer.id is not None
    if not may_announce(officer.role):
        turn.say(texts.SIARAN_ONLY_APPROVERS)
        return
    if not isinstance(conversation, Conversation):  # not looked up yet (or none)
        conversation = await store.conversation_of(turn.session, officer_id=officer.id)
    if conversation is not None and conversation in turn.session.deleted:
        conversation = None  # an approver's half-taken decision, just dropped by the engine
    await _show_history(turn, officer)
    if is_open(conversation):
        assert isinstance(conversation, Conversation)
        turn.say(texts.SIARAN_STILL_OPEN)
        turn.say(await _ask(turn, conversation))
        return
    if await _said_running(turn, officer.id):
        return
    if conversation is not None:
        # Another flow's row: one conversation per officer, and the command says they moved on.
        await turn.session.delete(conversation)
    await turn.session.flush()  # the dropped row (this one's, or the engine's) gone before the new one
    opened = Conversation(officer_id=officer.id, flow=FLOW, step=AUDIENCE, data={})
    turn.session.add(opened)
    turn.say(await _ask(turn, opened))


async def cancel(turn: Turn, conversation: Conversation) -> None:
    """/batal or Batal: nothing is sent."""
    await turn.session.delete(conversation)
    turn.say(texts.SIARAN_CANCELLED)


async def on_button(turn: Turn, press: Press | None) -> None:
    """A press on a /siaran question: only the open conversation's current step counts."""
    officer = turn.officer
    assert officer is not None and officer.id is not None
    conversation = await store.conversation_of(turn.session, officer_id=officer.id)
    if (
        press is None
        or not is_open(conversation)
        or conversation is None
        or (press.token, press.step) != (conversation.token, conversation.step)
    ):
        turn.say(texts.STALE_BUTTON)
        return
    if not await _still_allowed(turn, conversation):
        return
    match conversation.step:
        case "audience":
            await _on_audience(turn, conversation, press.action)
        case "region":
            await _on_region(turn, conversation, press.action)
        case "preview":
            await _on_preview(turn, conversation, press.action)
        case _:
            turn.say(texts.STALE_BUTTON)
            turn.say(await _ask(turn, conversation))


async def on_message(turn: Turn, conversation: Conversation) -> None:
    """Anything but a button while an announcement is being prepared: the text, at its step."""
    if not await _still_allowed(turn, conversation):
        return
    inbound = turn.inbound
    if inbound.kind is Kind.BUTTON:  # a button of something else (an old intake question)
        turn.say(texts.STALE_BUTTON)
        turn.say(await _ask(turn, conversation))
        return
    if inbound.kind is not Kind.TEXT:
        turn.say(texts.CANNOT_READ)
        turn.say(await _ask(turn, conversation))
        return
    if " ".join(inbound.text.lower().split()) in CANCEL_WORDS:
        await cancel(turn, conversation)
        return
    if conversation.step != TEXT:
        turn.say(texts.SIARAN_PRESS_A_BUTTON)
        turn.say(await _ask(turn, conversation))
        return
    if len(inbound.text) > MAX_TYPED:
        turn.say(texts.siaran_too_long(len(inbound.text), MAX_TEXT))
        return
    text, problem = clean_announcement(inbound.text)
    if problem is TextProblem.EMPTY:
        turn.say(texts.SIARAN_EMPTY)
        return
    if problem is TextProblem.TOO_LONG:
        turn.say(texts.siaran_too_long(len(text), MAX_TEXT))
        return
    await _goto(turn, conversation, PREVIEW, text=text)


# ------------------------------------------------------------------------------------------------ steps


async def _on_audience(turn: Turn, conversation: Conversation, value: str) -> None:
    try:
        audience = Audience(value)
    except ValueError:
        turn.say(texts.STALE_BUTTON)
        turn.say(await _ask(turn, conversation))
        return
    await _goto(turn, conversation, REGION, audience=audience.value, page=1)


async def _on_region(turn: Turn, conversation: Conversation, value: str) -> None:
    officer = turn.officer
    assert officer is not None and officer.id is not None
    if value.startswith(PAGE_PREFIX) and value[len(PAGE_PREFIX) :].isdigit():
        await _goto(turn, conversation, REGION, page=int(value[len(PAGE_PREFIX) :]))
        return
    region = region_of_value(value)
    kabupaten = turn.services.kabupaten
    if region is None or kabupaten.level_of(region) is None or not _may_address(turn, region):
        turn.say(texts.SIARAN_REGION_REFUSED)
        turn.say(await _ask(turn, conversation))
        return
    audience = Audience(conversation.data["audience"])
    found = await announcements.recipients_of(
        turn.session, audience=audience, region_code=region, sender_id=officer.id
    )
    if not found:
        turn.say(texts.siaran_nobody(audience.value, region_label(kabupaten, region)))
        turn.say(await _ask(turn, conversation))
        return
    await _goto(turn, conversation, TEXT, region=region)


async def _on_preview(turn: Turn, conversation: Conversation, value: str) -> None:
    if value == SEND:
        await _send(turn, conversation)
    elif value == EDIT:
        await _goto(turn, conversation, TEXT)
    elif value == CANCEL:
        await cancel(turn, conversation)
    else:
        turn.say(texts.STALE_BUTTON)
        turn.say(await _ask(turn, conversation))


async def _send(turn: Turn, conversation: Conversation) -> None:
    """Kirim: the announcement to every bound account of its recipients, through the outbox, once."""
    officer = turn.officer
    assert officer is not None and officer.id is not None
    data = dict(conversation.data)
    audience, region, text = Audience(data["audience"]), str(data["region"]), str(data["text"])
    token = conversation.token
    if not await announcements.claim_preview(
        turn.session, officer_id=officer.id, token=token, step=PREVIEW
    ):  # another press of Kirim took it first
        turn.say(texts.STALE_BUTTON)
        return
    turn.session.expunge(conversation)  # deleted by the statement above
    if await _said_running(turn, officer.id):
        return
    # The roster as it is now: someone deactivated since the preview gets nothing.
    found = await announcements.recipients_of(
        turn.session, audience=audience, region_code=region, sender_id=officer.id
    )
    by_officer = await store.accounts_of_officers(
        turn.session, officers=found, reach_unbound=turn.services.reach_unbound
    )  # one query, not one per recipient
    targets = [by_officer[o.id] for o in found if o.id in by_officer]
    if not targets:
        turn.say(texts.SIARAN_NOBODY_NOW)
        return
    announcement = await announcements.record(
        turn.session,
        officer=officer,
        audience=audience,
        region_code=region,
        text=text,
        recipients=len(targets),
        at=turn.services.clock(),
    )
    message_text = texts.siaran_message(officer.role, officer.name, text)
    messages = 0
    for accounts in targets:
        for account in accounts:
            queued = await store.queue_message(
                turn.session, account=account, text=message_text, buttons=[], purpose=Purpose.ANNOUNCEMENT
            )
            queued.announcement_id = announcement.id
            messages += 1
    turn.queued += messages
    turn.say(texts.siaran_sent(len(targets), messages))


# ---------------------------------------------------------------------------------------------- helpers


async def _said_running(turn: Turn, officer_id: int) -> bool:
    """Whether the sender's previous announcement is still being sent (then said, with its counts)."""
    running = await announcements.running(turn.session, officer_id=officer_id)
    if running is None:
        return False
    announcement, progress = running
    counts = texts.siaran_counts(progress.sent, progress.not_yet, progress.failed)
    turn.say(texts.siaran_running(turn.services.local_time(announcement.created_at), counts))
    return True


async def _still_allowed(turn: Turn, conversation: Conversation) -> bool:
    """Re-check on every answer that the sender may still announce to what they chose: a roster re-import
    can make a camat an operator or move them to another kecamatan mid-conversation."""
    officer = turn.officer
    assert officer is not None
    region = conversation.data.get("region")
    if may_announce(officer.role) and (region is None or _may_address(turn, str(region))):
        return True
    await turn.session.delete(conversation)
    turn.say(texts.SIARAN_NO_LONGER)
    return False


def _may_address(turn: Turn, region: str) -> bool:
    officer = turn.officer
    assert officer is not None
    kabupaten_code = turn.services.kabupaten.code
    return may_address(officer.role, officer.region_code, region, kabupaten_code=kabupaten_code)


async def _goto(turn: Turn, conversation: Conversation, step: str, **data: Any) -> None:
    """Move to ``step`` with ``data`` added, and ask its question."""
    conversation.step = step
    conversation.data = {**conversation.data, **data}  # a new dict: the JSON column sees the change
    turn.session.add(conversation)
    turn.say(await _ask(turn, conversation))


def region_label(kabupaten: Kabupaten, code: str) -> str:
    """A region in words: "Seluruh Kabupaten Samosir", "Kec. Simanindo", "Desa Tomok, Kec. Simanindo"."""
    if code == kabupaten.code:
        return f"Seluruh {kabupaten.name}"
    kecamatan = kabupaten.kecamatan_by_code(code)
    if kecamatan is not None:
        return f"Kec. {kecamatan.name}"
    desa = kabupaten.desa_by_code(code)
    return desa.label if desa is not None else code


def _regions(turn: Turn) -> list[tuple[str, str]]:
    """(code, button label) of the regions the sender may address, the widest first."""
    officer = turn.officer
    assert officer is not None
    kabupaten = turn.services.kabupaten
    if officer.region_code == kabupaten.code:  # the dinas (may_address holds the rule)
        choices = [(kabupaten.code, texts.SIARAN_WHOLE_KABUPATEN)]
        choices += [(k.code, f"Kec. {k.name}") for k in kabupaten.kecamatan]
    else:
        kecamatan = kabupaten.kecamatan_by_code(officer.region_code)
        if kecamatan is None:
            return []
        choices = [(kecamatan.code, f"Seluruh Kec. {kecamatan.name}")]
        choices += [(d.code, f"{d.kind.capitalize()} {d.name}") for d in kecamatan.desa]
    return [(code, label) for code, label in choices if _may_address(turn, code)]


def _button(conversation: Conversation, value: str, label: str) -> Button:
    # A press counts only for this conversation (its random token) and the step it was shown for.
    press = Press(buttons.Kind.SIARAN, action=value, token=conversation.token, step=conversation.step)
    return buttons.button(label, press)


def _prompt(turn: Turn, conversation: Conversation) -> Reply:
    """The question of the conversation's step, with its buttons."""
    b = lambda value, label: _button(conversation, value, label)  # noqa: E731
    data = conversation.data
    kabupaten = turn.services.kabupaten
    match conversation.step:
        case "audience":
            return Reply(
                texts.SIARAN_AUDIENCE,
                buttons=(tuple(b(a.value, texts.SIARAN_AUDIENCE_BUTTON[a.value]) for a in Audience),),
            )
        case "region":
            regions = _regions(turn)
            page = page_of(len(regions), int(data.get("page", 1)))
            rows: list[tuple[Button, ...]] = [
                (b(region_value(code), label),) for code, label in regions[page.start : page.end]
            ]
            if page.has_previous:
                rows.append((b(f"{PAGE_PREFIX}{page.number - 1}", texts.SIARAN_PREVIOUS),))
            if page.has_next:
                rows.append((b(f"{PAGE_PREFIX}{page.number + 1}", texts.SIARAN_NEXT),))
            pages = f" Halaman {page.number}/{page.pages}." if page.pages > 1 else ""
            return Reply(texts.SIARAN_REGION + pages, buttons=tuple(rows))
        case "text":
            label = region_label(kabupaten, str(data["region"]))
            return Reply(texts.siaran_text_prompt(str(data["audience"]), label))
        case _:  # the preview's buttons (its text needs the database: see _ask)
            return Reply(
                "",
                buttons=(
                    (b(SEND, texts.SIARAN_SEND), b(EDIT, texts.SIARAN_EDIT), b(CANCEL, texts.SIARAN_CANCEL)),
                ),
            )


async def _ask(turn: Turn, conversation: Conversation) -> Reply:
    """The question of the conversation's step; at the preview, the preview."""
    if conversation.step == PREVIEW:
        return await _preview(turn, conversation)
    return _prompt(turn, conversation)


async def _preview(turn: Turn, conversation: Conversation) -> Reply:
    """The text as it will be read, and how many officers it reaches on which channel."""
    officer = turn.officer
    assert officer is not None and officer.id is not None
    data = conversation.data
    audience, region = Audience(data["audience"]), str(data["region"])
    found = await announcements.recipients_of(
        turn.session, audience=audience, region_code=region, sender_id=officer.id
    )
    ids = [o.id for o in found if o.id is not None]
    bound = await store.accounts_of_officers(turn.session, officers=found)  # the bound accounts only
    channels = {officer_id: [a.channel for a in accounts] for officer_id, accounts in bound.items()}
    counted = reach(ids, channels, reach_unbound=turn.services.reach_unbound)
    line = texts.siaran_reach(
        counted.officers, counted.reached, counted.channels, counted.unbound, counted.reach_unbound
    )
    text = texts.siaran_preview(
        audience.value,
        region_label(turn.services.kabupaten, region),
        texts.siaran_message(officer.role, officer.name, str(data["text"])),
        line,
    )
    keyboard = _prompt(turn, conversation).buttons
    return Reply(text, buttons=keyboard)


async def _show_history(turn: Turn, officer: Officer) -> None:
    """The sender's latest announcements with their messages' counts (sent / waiting / failed)."""
    assert officer.id is not None
    sent = await announcements.sent_by(turn.session, officer_id=officer.id, limit=HISTORY)
    if not sent:
        return
    found = await announcements.progress(turn.session, announcement_ids=[a.id for a in sent if a.id])
    lines = []
    for announcement in sent:
        assert announcement.id is not None
        progress = found[announcement.id]
        lines.append(
            texts.siaran_history_line(
                turn.services.local_time(announcement.created_at),
                announcement.audience_role,
                region_label(turn.services.kabupaten, announcement.region_code),
                announcement.recipients,
                texts.siaran_counts(progress.sent, progress.not_yet, progress.failed),
            )
        )
    turn.say(texts.siaran_history(lines))
