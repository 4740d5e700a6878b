"""The intake conversation: an operator proposes one candidate worker, one answer at a time.

Every answer is written to the draft proposal and the conversation row in the same transaction as the
reply is decided, so a restart (or a switch of channel) continues exactly where the officer was.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable
from enum import Enum, StrEnum
from typing import Any

from handlers import buttons, cards, period, texts
from handlers.context import Services, Turn
from handlers.messages import Button, Kind, Reply
from models import store
from models.regions import Desa
from models.rules.candidate import (
    AgeLimits,
    ExistingProposal,
    Finding,
    FindingCode,
    blocks,
    nik_findings,
    stated_findings,
    warnings,
)
from models.rules.categories import CATEGORIES, Category
from models.rules.fields import (
    FieldError,
    clean_address,
    clean_description,
    clean_mobile,
    clean_name,
    parse_birth_date,
    parse_gender,
)
from models.rules.nik import Gender, NikReading, mask_nik, read_nik
from models.rules.registry import RegistryHit, name_match, registry_findings
from models.rules.status import Action, Role, Status, transition
from models.tables import Conversation, Proposal, format_number, utcnow

log = logging.getLogger(__name__)

FLOW = "intake"
FIX_FLOW = "fix"  # correcting a returned proposal: the same steps, only the fields to fix, prefilled
DEFAULT_DESIL_THRESHOLD = 4  # for a year whose figures do not set one (lanjutkan program set --desil)
MAX_ANSWER = 500  # longer than any answer we ask for; a pasted essay gets one short reply

# RegistryLookup.kind: a NIK's registry result (found, desil), a name compared with the registries' names
NIK_LOOKUP, NAME_LOOKUP = "nik", "name"
NIK_REGISTRY_CODES = {FindingCode.NOT_IN_REGISTRY, FindingCode.DESIL_ABOVE_THRESHOLD}
# Conversation.data keys: whether the officer was shown the NIK's registry result and the name comparison
# ("shown" or "hidden"), and the chat messages that carried a full NIK: [message ref, masked text or None
# for the officer's own message, deleted]. At most MAX_NIK_MESSAGES are kept (a NIK retyped many times).
# NIK_REPLIES: the recorded replies showing a full NIK whose message ids are not known yet (they are
# read at the next turn, from the process that sent them or the database).
REGISTRY, NAMES, NIK_MESSAGES, NIK_REPLIES = "registry", "names", "nik_messages", "nik_replies"
SHOWN, HIDDEN = "shown", "hidden"
MAX_NIK_MESSAGES = 40


class Step(StrEnum):
    NIK = "nik"
    NAME = "name"
    BIRTH = "birth"  # confirm the NIK's birth date and gender
    BIRTH_DATE = "birth_date"
    GENDER = "gender"
    CATEGORY = "category"
    CATEGORY_OTHER = "category_other"
    ADDRESS = "address"
    PHONE = "phone"
    SUMMARY = "summary"
    EDIT = "edit"  # choose the field to change


# The main path; sub-steps (birth date, gender, "lainnya") return into it.
ORDER = (Step.NIK, Step.NAME, Step.BIRTH, Step.CATEGORY, Step.ADDRESS, Step.PHONE, Step.SUMMARY)
EDITABLE = {
    "nik": Step.NIK,
    "name": Step.NAME,
    "birth": Step.BIRTH,
    "category": Step.CATEGORY,
    "address": Step.ADDRESS,
    "phone": Step.PHONE,
}


CANCEL_WORDS = {"batal", "/batal", "cancel"}
BACK_WORDS = {"kembali", "ringkasan", "back"}


class _Lookup(Enum):
    LOOK_UP = "look up"


# The default of the ``conversation`` parameters below: the caller has not looked up the officer's
# conversation (None means it has: there is none). The engine looks it up once per update and passes it.
LOOK_UP = _Lookup.LOOK_UP
Looked = Conversation | None | _Lookup


# ------------------------------------------------------------------------------------------ entry points


async def start(turn: Turn, conversation: Looked = LOOK_UP) -> None:
    """/daftar: open a draft for the operator's own desa, or resume the one in progress."""
    officer = turn.officer
    assert officer is not None and officer.id is not None
    if officer.role is not Role.OPERATOR:
        turn.say(texts.ONLY_OPERATORS_PROPOSE)
        return
    state = await open_conversation(turn, conversation)
    if state is not None:
        await _again(turn, *state, texts.RESUMING)
        return
    if await period.refuse_new(turn):  # outside the intake period: no new draft
        return
    desa = turn.services.kabupaten.desa_by_code(officer.region_code)
    if desa is None:  # the roster import refuses this; a later change of kabupaten could cause it
        turn.say(texts.ONLY_OPERATORS_PROPOSE)
        return
    proposal = Proposal(officer_id=officer.id, desa_code=desa.code, kecamatan_code=desa.kecamatan_code)
    turn.session.add(proposal)
    await turn.session.flush()
    assert proposal.id is not None
    opened = Conversation(officer_id=officer.id, flow=FLOW, step=Step.NIK, proposal_id=proposal.id)
    turn.session.add(opened)
    turn.say(texts.intake_start(desa.label))
    turn.say(prompt(turn, opened, proposal))


async def cancel(turn: Turn, conversation: Looked = LOOK_UP) -> None:
    """/batal or the Batal button: drop the draft (nothing was sent), or pause a correction."""
    state = await open_conversation(turn, conversation)
    if state is None:
        turn.say(texts.NOTHING_TO_CANCEL)
        return
    await _drop(turn, *state)
    said = texts.FIX_PAUSED if state[0].flow == FIX_FLOW else texts.CANCELLED
    turn.say(said + ("\n\n" + texts.NIK_CLEANED if state[0].data.get(NIK_MESSAGES) else ""))
    _clear_nik_messages(turn, state[0])


async def _drop(turn: Turn, conversation: Conversation, proposal: Proposal | None) -> None:
    """Delete a conversation and its draft (the conversation first: it points at the draft).

    A returned proposal being corrected is not a draft: it stays, returned, with what was fixed so far.
    """
    await turn.session.delete(conversation)
    await turn.session.flush()
    if proposal is not None and proposal.status is Status.DRAFT:
        await turn.session.delete(proposal)


async def open_conversation(
    turn: Turn, conversation: Looked = LOOK_UP
) -> tuple[Conversation, Proposal] | None:
    """The officer's intake (or correction) in progress, if any; ``conversation``: the officer's
    conversation as the caller looked it up in this turn (a decision's, an intake's or None)."""
    if turn.officer is None or turn.officer.id is None:
        return None
    if conversation is LOOK_UP:
        conversation = await store.conversation_of(turn.session, officer_id=turn.officer.id)
    if conversation is None or conversation.flow not in {FLOW, FIX_FLOW}:
        return None
    proposal = await _draft(turn, conversation)
    if proposal is None:  # its draft was sent or dropped: the conversation is over
        await _drop(turn, conversation, None)
        return None
    return conversation, proposal


async def remind(turn: Turn, conversation: Looked = LOOK_UP) -> None:
    """After a side command, show where the open intake stands."""
    state = await open_conversation(turn, conversation)
    if state is not None:
        await _again(turn, *state, texts.STILL_OPEN)


async def answer(turn: Turn, conversation: Conversation, proposal: Proposal) -> None:
    """Handle a typed answer, a button press or anything else while the intake is open."""
    inbound = turn.inbound
    step = Step(conversation.step)
    if not await _still_theirs(turn, conversation, proposal):
        return
    if inbound.kind is Kind.BUTTON:
        value = _button_value(inbound.data or "", conversation, step)
        if value is None:
            await _again(turn, conversation, proposal, texts.STALE_BUTTON)
        elif value == "back" and conversation.from_summary:
            await back_to_summary(turn, conversation, proposal)
        else:
            await BUTTONS[step](turn, conversation, proposal, value)
        return
    if inbound.kind is Kind.CONTACT and step is Step.PHONE:  # the worker's contact card, shared
        await on_phone(turn, conversation, proposal, inbound.contact_phone or "")
        return
    if inbound.kind is not Kind.TEXT:
        await _again(turn, conversation, proposal, texts.CANNOT_READ)
        return
    if len(inbound.text) > MAX_ANSWER:
        await _again(turn, conversation, proposal, texts.TOO_LONG)
        return
    word = " ".join(inbound.text.lower().split())
    if word in CANCEL_WORDS:
        await cancel(turn)
    elif word in BACK_WORDS and (conversation.from_summary or step is Step.EDIT):
        await back_to_summary(turn, conversation, proposal)
    else:
        await TYPED[step](turn, conversation, proposal, inbound.text)


async def _still_theirs(turn: Turn, conversation: Conversation, proposal: Proposal) -> bool:
    """Re-check on every answer that the officer may still propose for this desa.

    A roster re-import can move an officer to another desa or make them a camat mid-conversation.
    """
    officer = turn.officer
    assert officer is not None
    if officer.role is Role.OPERATOR and officer.region_code == proposal.desa_code:
        return True
    await _drop(turn, conversation, proposal)
    turn.say(texts.DRAFT_NO_LONGER_YOURS)
    return False


# ----------------------------------------------------------------------------------------------- prompts


def _button(conversation: Conversation, step: Step, value: str, label: str) -> Button:
    # A press counts only for the conversation and step it was shown for. The token is random per
    # /daftar, so a button of a cancelled draft never fits a new one.
    press = buttons.Press(buttons.Kind.INTAKE, action=value, token=conversation.token, step=step.value)
    return buttons.button(label, press)


def _button_value(data: str, conversation: Conversation, step: Step) -> str | None:
    """The answer a press gives to this conversation's question at ``step``, or None (stale, forged)."""
    press = buttons.decode(data)
    if press is None or press.kind is not buttons.Kind.INTAKE:
        return None
    return press.action if (press.token, press.step) == (conversation.token, step.value) else None


def prompt(turn: Turn, conversation: Conversation, proposal: Proposal) -> Reply:
    """The question of the current step, with its buttons."""
    reply = _question(turn, conversation, proposal)
    if conversation.from_summary and conversation.step not in {Step.SUMMARY, Step.EDIT}:
        back = (_button(conversation, Step(conversation.step), "back", texts.BACK_TO_SUMMARY),)
        return Reply(reply.text, buttons=(*reply.buttons, back))
    return reply


def _question(turn: Turn, conversation: Conversation, proposal: Proposal) -> Reply:
    step = Step(conversation.step)
    b = lambda value, label: _button(conversation, step, value, label)  # noqa: E731
    match step:
        case Step.NIK:
            return Reply(texts.ASK_NIK)
        case Step.NAME:
            return Reply(texts.ASK_NAME)
        case Step.BIRTH:
            assert proposal.birth_date and proposal.gender
            return Reply(
                texts.ask_birth(proposal.birth_date, proposal.gender),
                buttons=(
                    (b("ok", texts.BIRTH_OK),),
                    (b("date", texts.BIRTH_EDIT_DATE), b("gender", texts.BIRTH_EDIT_GENDER)),
                ),
            )
        case Step.BIRTH_DATE:
            return Reply(texts.ASK_BIRTH_DATE)
        case Step.GENDER:
            return Reply(texts.ASK_GENDER, buttons=((b("L", texts.GENDER_L), b("P", texts.GENDER_P)),))
        case Step.CATEGORY:
            buttons = [b(str(i), c.label.capitalize()) for i, c in enumerate(CATEGORIES)]
            rows = tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))
            return Reply(texts.ASK_CATEGORY, buttons=rows)
        case Step.CATEGORY_OTHER:
            return Reply(texts.ASK_CATEGORY_OTHER)
        case Step.ADDRESS:
            return Reply(texts.ASK_ADDRESS)
        case Step.PHONE:
            return Reply(texts.ASK_PHONE, buttons=((b("skip", texts.SKIP),),))
        case Step.SUMMARY:
            actions = ((b("send", texts.SEND),), (b("edit", texts.EDIT), b("cancel", texts.CANCEL)))
            if conversation.flow == FIX_FLOW:
                return Reply(_summary_text(turn, conversation, proposal, masked=True), buttons=actions)
            masked = _summary_text(turn, conversation, proposal, masked=True) + "\n\n" + texts.NIK_MASKED_NOTE
            return Reply(
                _summary_text(turn, conversation, proposal),
                buttons=actions,
                keep=_keep_note(turn, conversation, masked),
            )
        case Step.EDIT:
            fields = [b(key, label) for key, label in texts.FIELD_LABELS.items()]
            rows = tuple(tuple(fields[i : i + 2]) for i in range(0, len(fields), 2))
            last_row = (b("back", texts.BACK_TO_SUMMARY), b("cancel", texts.CANCEL))
            return Reply(texts.ASK_WHICH_FIELD, buttons=(*rows, last_row))


def _summary_text(turn: Turn, conversation: Conversation, proposal: Proposal, *, masked: bool = False) -> str:
    # The full NIK is shown here, right before Kirim, so the officer can compare it with the KTP. Not in a
    # correction: another operator of the desa may be fixing it, and a retyped NIK was read back in full.
    assert proposal.nik_encrypted and proposal.name and proposal.birth_date and proposal.address
    nik = turn.services.vault.decrypt(proposal.nik_encrypted)
    return texts.summary(
        nik=mask_nik(nik) if masked else nik,
        name=proposal.name,
        birth_date=proposal.birth_date,
        gender=proposal.gender or "",
        category=proposal.category_text,
        address=proposal.address,
        phone=proposal.phone,
        desa_label=_desa(turn, proposal).label,
        warnings=_officer_view(conversation, [Finding.from_json(f) for f in proposal.findings]),
    )


def _officer_view(conversation: Conversation, findings: list[Finding]) -> list[Finding]:
    """The warnings the officer may read: a registry's only if its result was shown to them."""
    # The approvers' cards carry every one: they are the point of the check.
    data = conversation.data
    return [
        f
        for f in findings
        if not (f.code in NIK_REGISTRY_CODES and data.get(REGISTRY) != SHOWN)
        and not (f.code is FindingCode.REGISTRY_NAME_DIFFERS and data.get(NAMES) != SHOWN)
    ]


def _desa(turn: Turn, proposal: Proposal) -> Desa:
    desa = turn.services.kabupaten.desa_by_code(proposal.desa_code)
    assert desa is not None
    return desa


async def _goto(turn: Turn, conversation: Conversation, proposal: Proposal, step: Step) -> None:
    conversation.step = step
    conversation.updated_at = utcnow()
    if step is Step.SUMMARY:
        conversation.from_summary = False
        if conversation.data.get("queue"):
            conversation.data = {**conversation.data, "queue": []}
    turn.session.add(conversation)
    turn.say(prompt(turn, conversation, proposal))


async def _next(turn: Turn, conversation: Conversation, proposal: Proposal, done: Step) -> None:
    """Move on after a main step: to the next field to fix in a correction, to the summary when editing
    one field, else to the next step."""
    queue = list(conversation.data.get("queue", []))
    if conversation.from_summary and queue:
        conversation.data = {**conversation.data, "queue": queue[1:]}
        await _goto(turn, conversation, proposal, EDITABLE[queue[0]])
    elif conversation.from_summary:
        await _goto(turn, conversation, proposal, Step.SUMMARY)
    else:
        await _goto(turn, conversation, proposal, ORDER[ORDER.index(done) + 1])


async def _again(turn: Turn, conversation: Conversation, proposal: Proposal, message: str) -> None:
    turn.say(message)
    turn.say(prompt(turn, conversation, proposal))


# ------------------------------------------------------------------------------------------------- rules


async def _assess(
    turn: Turn,
    proposal: Proposal,
    reading: NikReading,
    registries: tuple[list[RegistryHit], list[str]] | None = None,
) -> list[Finding]:
    """Every block and warning for this draft as it stands (the stated birth date/gender included);
    ``registries``: what :func:`_registries` found for this NIK in this turn, if the caller has it."""
    services = turn.services
    # Every hash of the NIK: during a secret rotation a row may still carry the old secret's.
    nik_hashes = services.vault.hashes(reading.nik)
    other = await store.live_proposal_with_nik(turn.session, nik_hash=nik_hashes, exclude_id=proposal.id)
    existing = None
    if other is not None:
        other_desa = services.kabupaten.desa_by_code(other.desa_code)
        existing = ExistingProposal(
            desa_name=other_desa.name if other_desa else other.desa_code,
            kecamatan_name=other_desa.kecamatan_name if other_desa else other.kecamatan_code,
            status=other.status.value,
            number=other.number,
        )
    desa = _desa(turn, proposal)
    # The year's figures (lanjutkan program set) decide the ages and the desil limit; the settings stand in.
    figures = await store.intake_figures(turn.session, year=services.today().year)
    found = nik_findings(
        reading,
        kabupaten_code=services.kabupaten.code,
        kabupaten_name=services.kabupaten.name,
        desa_kecamatan_code=desa.kecamatan_code,
        desa_kecamatan_name=desa.kecamatan_name,
        coverage_start=services.effective_coverage_start(),
        ages=_ages(services, figures),
        existing=existing,
        active_participant=await store.is_active_participant(turn.session, nik_hash=nik_hashes),
        stated_birth_date=proposal.birth_date,
    )
    if proposal.birth_date and proposal.gender:
        found += stated_findings(reading, birth_date=proposal.birth_date, gender=Gender(proposal.gender))
    hits, imported = registries if registries is not None else await _registries(turn, nik_hashes)
    threshold = figures.desil_threshold if figures.desil_threshold is not None else DEFAULT_DESIL_THRESHOLD
    found += registry_findings(hits, imported=imported, stated_name=proposal.name, desil_threshold=threshold)
    return found


async def _registries(turn: Turn, nik_hashes: list[str]) -> tuple[list[RegistryHit], list[str]]:
    """The imported registries' rows for a NIK (its hashes), and which registries are imported."""
    key_ids = turn.services.vault.key_ids
    imported = list(await store.imported_registries(turn.session, key_ids=key_ids))
    if not imported:  # one query, not two, until the dinas imports a registry
        return [], []
    matches = await store.registry_matches(turn.session, nik_hash=nik_hashes)
    return [RegistryHit(m.source, m.name, m.desil) for m in matches], imported


def _nik_hashes(turn: Turn, proposal: Proposal) -> list[str]:
    """The draft's NIK hashes to look up: its stored one, or while rotating every hash of the NIK (the
    registries may be under either secret); the decryption is paid only then."""
    vault = turn.services.vault
    if not vault.rotating or proposal.nik_encrypted is None:
        return [proposal.nik_hash or ""]
    return vault.hashes(vault.decrypt(proposal.nik_encrypted))


def _ages(services: Services, figures: store.IntakeFigures) -> AgeLimits:
    """The year's age limits when set with `lanjutkan program set`, else the settings'."""
    if figures.age_min is None or figures.age_max is None:
        return services.ages
    return AgeLimits(minimum=figures.age_min, maximum=figures.age_max)


def _reading(turn: Turn, proposal: Proposal) -> NikReading:
    assert proposal.nik_encrypted is not None
    check = read_nik(turn.services.vault.decrypt(proposal.nik_encrypted), today=turn.services.today())
    assert check.reading is not None
    return check.reading


# ------------------------------------------------------------------------------------------ typed answers


async def on_nik(turn: Turn, conversation: Conversation, proposal: Proposal, text: str) -> None:
    if turn.inbound.message_ref is not None:  # whatever it holds, a NIK or nearly: removed at Kirim/Batal
        _remember_message(conversation, turn.inbound.message_ref, None)
    check = read_nik(text, today=turn.services.today())
    if check.reading is None:
        await _again(turn, conversation, proposal, texts.nik_refused([e.code for e in check.errors]))
        return
    reading = check.reading
    # A new NIK brings its own birth date and gender; the officer confirms them again.
    previous = proposal.birth_date, proposal.gender
    proposal.birth_date, proposal.gender = reading.birth_date, reading.gender.value
    with turn.session.no_autoflush:  # the lookups must not write the half-changed draft first
        registries = await _registries(turn, turn.services.vault.hashes(reading.nik))
        found = await _assess(turn, proposal, reading, registries)
    if blocks(found):
        proposal.birth_date, proposal.gender = previous
        turn.say(texts.blocked(blocks(found)))
        turn.say(texts.ASK_NIK_AGAIN)
        return
    vault = turn.services.vault
    proposal.nik_encrypted = vault.encrypt(reading.nik)
    proposal.nik_hash = vault.hash(reading.nik)
    proposal.nik_birth_date, proposal.nik_gender = reading.birth_date, reading.gender.value
    proposal.findings = [f.to_json() for f in warnings(found)]
    hits, imported = registries
    registry_line = None
    if imported:  # found or not in each registry, with its desil; never the registered name (a lookup tool)
        why = await _lookup(turn, conversation, proposal, reading, NIK_LOOKUP)
        registry_line = texts.registry_status(hits, imported) if why is None else why
        data = {**conversation.data, REGISTRY: SHOWN if why is None else HIDDEN}
        data.pop(NAMES, None)
        if hits and proposal.name:  # editing the NIK of a named draft compares the name too, unshown
            await _record_lookup(turn, reading.nik, NAME_LOOKUP, shown=False)
            data[NAMES] = HIDDEN
        conversation.data = data
    # The full NIK is read back once, right after the officer typed it, to catch a slip of the finger; the
    # message is masked at Kirim or Batal.
    seen = _officer_view(conversation, warnings(found))

    def read_back(nik: str) -> str:
        text = texts.nik_read_back(
            nik, reading.birth_date, reading.gender.value, reading.district_name, reading.regency_name
        )
        if registry_line is not None:
            text += "\n" + registry_line
        return text + ("\n\n" + texts.warnings_block(seen) if seen else "")

    masked = read_back(mask_nik(reading.nik)) + "\n\n" + texts.NIK_MASKED_NOTE
    turn.say(Reply(read_back(reading.nik), keep=_keep_note(turn, conversation, masked)))
    # Editing the NIK from the summary still passes through the birth-date check it may have changed.
    await _goto(turn, conversation, proposal, Step.NAME if not conversation.from_summary else Step.BIRTH)


async def _accept(
    turn: Turn,
    conversation: Conversation,
    proposal: Proposal,
    field: str,
    clean: Callable[[str], object],
    text: str,
) -> bool:
    """Store a cleaned answer in the draft, or say what is wrong and ask again."""
    try:
        setattr(proposal, field, clean(text))
    except FieldError as error:
        await _again(turn, conversation, proposal, texts.FIELD_ERRORS[error.code])
        return False
    return True


async def on_name(turn: Turn, conversation: Conversation, proposal: Proposal, text: str) -> None:
    if not await _accept(turn, conversation, proposal, "name", clean_name, text):
        return
    registries = await _registries(turn, _nik_hashes(turn, proposal))
    hits = registries[0]
    if hits and proposal.name:
        reading = _reading(turn, proposal)
        why = await _lookup(turn, conversation, proposal, reading, NAME_LOOKUP)
        if why is None:
            turn.say(texts.registry_names([(h.source, name_match(proposal.name, h.name)) for h in hits]))
        elif why:
            turn.say(why)
        conversation.data = {**conversation.data, NAMES: SHOWN if why is None else HIDDEN}
        # The name can change the registry warnings: keep the draft's (and the summary's) up to date.
        found = await _assess(turn, proposal, reading, registries)
        proposal.findings = [f.to_json() for f in warnings(found)]
    await _next(turn, conversation, proposal, Step.NAME)


# ------------------------------------------------------------------------------- registry lookup limits


async def _lookup(
    turn: Turn, conversation: Conversation, proposal: Proposal, reading: NikReading, kind: str
) -> str | None:
    """Record one registry lookup: None if the officer may see its result, else the line saying why not."""
    # Only for a NIK of their own kecamatan (whose people they know) and up to the day's limit: intake must
    # not serve to look up who is in a registry, or to try names until one matches. "" when the NIK's line
    # already said why.
    services = turn.services
    officer = turn.officer
    assert officer is not None and officer.id is not None
    why: str | None
    if kind == NAME_LOOKUP and conversation.data.get(REGISTRY) == HIDDEN:
        why = ""  # the name's result would tell what the NIK's withheld
    elif reading.district_code != _desa(turn, proposal).kecamatan_code:
        why = texts.REGISTRY_OTHER_KECAMATAN
    else:
        nik = kind == NIK_LOOKUP
        limit = services.registry_lookups_per_day if nik else services.name_checks_per_day
        used = await store.registry_lookups_shown(
            turn.session, officer_id=officer.id, kind=kind, since=services.day_start()
        )
        if used < limit:
            why = None
        else:
            why = texts.registry_limit_reached(limit) if nik else texts.name_checks_reached(limit)
    await _record_lookup(turn, reading.nik, kind, shown=why is None)
    return why


async def _record_lookup(turn: Turn, nik: str, kind: str, *, shown: bool) -> None:
    assert turn.officer is not None and turn.officer.id is not None
    services = turn.services
    await store.record_registry_lookup(
        turn.session,
        officer_id=turn.officer.id,
        kind=kind,
        nik_hash=services.vault.hash(nik),
        shown=shown,
        at=services.clock(),
    )


# ----------------------------------------------------------------------------- the full NIK in the chat


def _keep_note(turn: Turn, conversation: Conversation, masked: str) -> str:
    """For a message showing a full NIK: its conversation and the text it gets at Kirim or Batal. Once the
    turn's reply is recorded, the conversation awaits the ids of its messages."""

    def await_ids(reply_id: int) -> None:
        awaited = conversation.data.get(NIK_REPLIES, [])
        if reply_id not in awaited:
            conversation.data = {**conversation.data, NIK_REPLIES: [*awaited, reply_id][-MAX_NIK_MESSAGES:]}

    turn.recorded.append(await_ids)
    return json.dumps([conversation.officer_id, conversation.token, masked], ensure_ascii=False)


def _remember_message(conversation: Conversation, ref: str, masked: str | None) -> None:
    conversation.data = _with_message(conversation.data, ref, masked)


def _with_message(data: dict[str, Any], ref: str, masked: str | None) -> dict[str, Any]:
    kept = [*data.get(NIK_MESSAGES, []), [ref, masked]][-MAX_NIK_MESSAGES:]
    return {**data, NIK_MESSAGES: kept}


def awaited_replies(conversation: Conversation) -> list[int]:
    """The recorded replies showing a full NIK whose message ids the conversation has not received."""
    return list(conversation.data.get(NIK_REPLIES, []))


def receive_sent(conversation: Conversation, kept: dict[int, str | None]) -> None:
    """Note the message ids of awaited replies (JSON of (note, id) pairs; None: never known, as for a
    reply the outbox sent after a failure) and stop awaiting them."""
    for kept_json in kept.values():
        if kept_json:
            remember_sent(conversation, tuple((note, ref) for note, ref in json.loads(kept_json)))
    awaited = [reply_id for reply_id in awaited_replies(conversation) if reply_id not in kept]
    conversation.data = {key: value for key, value in conversation.data.items() if key != NIK_REPLIES} | (
        {NIK_REPLIES: awaited} if awaited else {}
    )


def remember_sent(conversation: Conversation | None, sent: tuple[tuple[str, str], ...]) -> None:
    """Note in the open conversation the messages with a full NIK the channel sent it as ``sent``."""
    for note, ref in sent:
        officer_id, token, masked = json.loads(note)
        if conversation is not None and (conversation.officer_id, conversation.token) == (officer_id, token):
            _remember_message(conversation, ref, masked)


def _clear_nik_messages(turn: Turn, conversation: Conversation) -> None:
    """At Kirim or Batal: delete the officer's messages that carried a NIK, mask the bot's."""
    # The channel does what it can: Telegram both (deletion within 48 hours), WhatsApp neither.
    for ref, masked in conversation.data.get(NIK_MESSAGES, []):
        turn.say(
            Reply("", target=ref, delete=True) if masked is None else Reply(masked, target=ref, edit=True)
        )


async def on_birth_date(turn: Turn, conversation: Conversation, proposal: Proposal, text: str) -> None:
    today = turn.services.today()
    if await _accept(
        turn, conversation, proposal, "birth_date", lambda t: parse_birth_date(t, today=today), text
    ):
        await _goto(turn, conversation, proposal, Step.BIRTH)


async def on_description(turn: Turn, conversation: Conversation, proposal: Proposal, text: str) -> None:
    if await _accept(turn, conversation, proposal, "category_description", clean_description, text):
        proposal.category = Category.LAINNYA.value
        await _next(turn, conversation, proposal, Step.CATEGORY)


async def on_address(turn: Turn, conversation: Conversation, proposal: Proposal, text: str) -> None:
    if await _accept(turn, conversation, proposal, "address", clean_address, text):
        await _next(turn, conversation, proposal, Step.ADDRESS)


async def on_phone(turn: Turn, conversation: Conversation, proposal: Proposal, text: str) -> None:
    if text.strip().lower() in {"lewati", "skip", "-", "tidak ada"}:
        await on_phone_button(turn, conversation, proposal, "skip")
    elif await _accept(turn, conversation, proposal, "phone", clean_mobile, text):
        await _next(turn, conversation, proposal, Step.PHONE)


async def on_typed_choice(turn: Turn, conversation: Conversation, proposal: Proposal, text: str) -> None:
    """Typed text where a button is expected: accept the obvious words, else point at the buttons."""
    word = " ".join(text.lower().split())
    step = Step(conversation.step)
    if step in {Step.BIRTH, Step.GENDER} and await _typed_birth_or_gender(turn, conversation, proposal, text):
        return
    typed = {
        Step.BIRTH: {
            "ya": "ok",
            "benar": "ok",
            "ok": "ok",
            "betul": "ok",
            "sudah": "ok",
            "sudah benar": "ok",
        },
        Step.CATEGORY: {c.label: str(i) for i, c in enumerate(CATEGORIES)}
        | {str(i + 1): str(i) for i in range(len(CATEGORIES))},
        Step.SUMMARY: {"kirim": "send", "ubah": "edit", "batal": "cancel"},
        Step.EDIT: {label.lower(): key for key, label in texts.FIELD_LABELS.items()}
        | {"tanggal lahir": "birth", "jenis kelamin": "birth", "hp": "phone", "nomor hp": "phone"},
    }.get(step, {})
    if word in typed:
        await BUTTONS[step](turn, conversation, proposal, typed[word])
        return
    await _again(turn, conversation, proposal, texts.PRESS_A_BUTTON)


async def _typed_birth_or_gender(
    turn: Turn, conversation: Conversation, proposal: Proposal, text: str
) -> bool:
    """At the birth-date question, a typed date or gender is taken as the correction it obviously is."""
    try:
        proposal.gender = parse_gender(text).value
    except FieldError:
        try:
            proposal.birth_date = parse_birth_date(text, today=turn.services.today())
        except FieldError:
            if " ".join(text.lower().split()) in {"tidak", "salah", "bukan", "ubah"}:
                await _again(turn, conversation, proposal, texts.WHAT_TO_CORRECT)
                return True
            return False
    await _goto(turn, conversation, proposal, Step.BIRTH)
    return True


# ------------------------------------------------------------------------------------------ button steps


async def on_birth_button(turn: Turn, conversation: Conversation, proposal: Proposal, value: str) -> None:
    if value == "date":
        await _goto(turn, conversation, proposal, Step.BIRTH_DATE)
    elif value == "gender":
        await _goto(turn, conversation, proposal, Step.GENDER)
    elif value == "ok":
        found = await _assess(turn, proposal, _reading(turn, proposal))
        if blocks(found):  # the corrected birth date can put the age out of range
            await _again(turn, conversation, proposal, texts.blocked(blocks(found)))
            return
        proposal.findings = [f.to_json() for f in warnings(found)]
        stated = [f for f in warnings(found) if f.code in {"birth_date_differs", "gender_differs"}]
        if stated:
            turn.say(texts.warnings_block(stated))
        await _next(turn, conversation, proposal, Step.BIRTH)
    else:
        await _again(turn, conversation, proposal, texts.STALE_BUTTON)


async def on_gender_button(turn: Turn, conversation: Conversation, proposal: Proposal, value: str) -> None:
    if value not in {"L", "P"}:
        await _again(turn, conversation, proposal, texts.STALE_BUTTON)
        return
    proposal.gender = value
    await _goto(turn, conversation, proposal, Step.BIRTH)


async def on_category_button(turn: Turn, conversation: Conversation, proposal: Proposal, value: str) -> None:
    if not (value.isascii() and value.isdigit()) or int(value) >= len(CATEGORIES):
        await _again(turn, conversation, proposal, texts.STALE_BUTTON)
        return
    category = CATEGORIES[int(value)]
    if category.needs_description:
        await _goto(turn, conversation, proposal, Step.CATEGORY_OTHER)
        return
    proposal.category, proposal.category_description = category.value, None
    await _next(turn, conversation, proposal, Step.CATEGORY)


async def on_phone_button(turn: Turn, conversation: Conversation, proposal: Proposal, value: str) -> None:
    if value != "skip":
        await _again(turn, conversation, proposal, texts.STALE_BUTTON)
        return
    proposal.phone = None
    await _next(turn, conversation, proposal, Step.PHONE)


async def on_summary_button(turn: Turn, conversation: Conversation, proposal: Proposal, value: str) -> None:
    if value == "send":
        await submit(turn, conversation, proposal)
    elif value == "edit":
        await _goto(turn, conversation, proposal, Step.EDIT)
    elif value == "cancel":
        await cancel(turn)
    else:
        await _again(turn, conversation, proposal, texts.STALE_BUTTON)


async def back_to_summary(turn: Turn, conversation: Conversation, proposal: Proposal) -> None:
    """Leave a field unchanged and return to the summary (birth date/gender changes are re-checked)."""
    if Step(conversation.step) in {Step.BIRTH, Step.BIRTH_DATE, Step.GENDER}:
        conversation.step = Step.BIRTH
        await on_birth_button(turn, conversation, proposal, "ok")
        return
    await _goto(turn, conversation, proposal, Step.SUMMARY)


async def on_edit_button(turn: Turn, conversation: Conversation, proposal: Proposal, value: str) -> None:
    if value == "back":
        await _goto(turn, conversation, proposal, Step.SUMMARY)
        return
    if value == "cancel":
        await cancel(turn)
        return
    step = EDITABLE.get(value)
    if step is None:
        await _again(turn, conversation, proposal, texts.STALE_BUTTON)
        return
    conversation.from_summary = True
    await _goto(turn, conversation, proposal, step)


async def submit(turn: Turn, conversation: Conversation, proposal: Proposal) -> None:
    """Kirim: check once more (someone may have proposed the NIK meanwhile), then send to the camat."""
    assert turn.officer is not None and turn.officer.id is not None and proposal.id is not None
    # Outside the period nothing is sent, and nothing is lost: the draft or correction stays open.
    closed = period.refuse_fix if proposal.status is Status.DIKEMBALIKAN else period.refuse_kirim
    if await closed(turn):
        return
    reading = _reading(turn, proposal)
    found = await _assess(turn, proposal, reading)
    if blocks(found):
        await _blocked_at_kirim(turn, conversation, proposal, blocks(found))
        return
    before = proposal.status
    resubmitted = before is Status.DIKEMBALIKAN
    action = Action.RESUBMIT if resubmitted else Action.SUBMIT
    after = transition(before, action, turn.officer.role)
    # Compare and set: two Kirim of one correction (two phones, two operators) send it once.
    if resubmitted and not await store.change_status(
        turn.session, proposal=proposal, to_status=after, at=utcnow(), decision=False
    ):
        await _drop(turn, conversation, proposal)
        turn.say(texts.FIX_NOT_RETURNED)
        return
    proposal.status = after
    proposal.findings = [f.to_json() for f in warnings(found)]
    if resubmitted:
        proposal.changes = _changes(turn, proposal)
        proposal.resubmissions += 1
        proposal.fix_fields, proposal.returned_values = [], None
    proposal.submitted_at = utcnow()
    turn.session.add(proposal)
    await store.record_audit(
        turn.session,
        proposal_id=proposal.id,
        actor=turn.officer,
        action=action.value,
        from_status=before,
        to_status=proposal.status,
    )
    await turn.session.delete(conversation)
    await store.flush_proposal_changes(turn.session)  # DuplicateLiveNik when another officer won the race
    verb = "resubmitted" if resubmitted else "submitted"
    log.info("proposal %s %s by officer %s", format_number(proposal.id), verb, turn.officer.id)
    reached = await cards.send_for_decision(turn, proposal)
    desa = _desa(turn, proposal)
    masked = mask_nik(reading.nik)
    text = texts.submitted(
        format_number(proposal.id),
        proposal.name or "",
        masked,
        desa.kecamatan_name,
        len(warnings(found)),
        resubmitted=resubmitted,
    )
    if not reached:
        text += "\n\n" + texts.no_camat_bound(desa.kecamatan_name)
    if conversation.data.get(NIK_MESSAGES):
        text += "\n\n" + texts.NIK_CLEANED
    turn.say(Reply(text, menu=texts.MENU_OPERATOR))
    _clear_nik_messages(turn, conversation)


def _changes(turn: Turn, proposal: Proposal) -> list[dict[str, str]]:
    """What a correction changed since the proposal was returned, NIKs masked."""
    before = proposal.returned_values or {}
    now = cards.snapshot(proposal)
    changed = []
    for key, value in now.items():
        if key not in before or before[key] == value:
            continue
        if key == "nik":
            shown_before, shown_after = "(lama)", mask_nik(_reading(turn, proposal).nik)
        elif key == "birth":
            shown_before, shown_after = _birth_words(before[key]), _birth_words(value)
        else:
            shown_before, shown_after = before[key] or "-", value or "-"
        changed.append({"field": key, "before": shown_before, "after": shown_after})
    return changed


def _birth_words(value: str | None) -> str:
    day, _, gender = (value or "").partition(" ")
    if not day:
        return "-"
    return f"{texts.tanggal(dt.date.fromisoformat(day))}, {texts.kelamin(gender)}"


async def start_fix(turn: Turn, proposal_id: int) -> None:
    """Perbaiki: correct a returned proposal, asking only the fields the camat named, then send again."""
    officer = turn.officer
    assert officer is not None and officer.id is not None
    proposal = await turn.session.get(Proposal, proposal_id)
    if proposal is None or officer.role is not Role.OPERATOR or proposal.desa_code != officer.region_code:
        turn.say(texts.NOT_YOURS)
        return
    if proposal.status is not Status.DIKEMBALIKAN:
        turn.say(texts.FIX_NOT_RETURNED)
        return
    if await period.refuse_fix(turn):
        return
    state = await open_conversation(turn)
    if state is not None and state[1].id != proposal.id:
        if state[0].flow == FLOW:
            await _again(turn, *state, texts.FINISH_DRAFT_FIRST)
            return
        await _drop(turn, *state)  # another correction: paused, this one starts
    elif state is not None:
        await _again(turn, *state, texts.RESUMING)
        return
    fields = [f for f in proposal.fix_fields if f in EDITABLE] or ["name"]
    conversation = await store.conversation_of(turn.session, officer_id=officer.id)
    if conversation is not None:  # a decision flow cannot be open for an operator; a stale row can
        await turn.session.delete(conversation)
        await turn.session.flush()
    conversation = Conversation(
        officer_id=officer.id,
        flow=FIX_FLOW,
        step=EDITABLE[fields[0]],
        proposal_id=proposal.id,
        from_summary=True,
        data={"queue": fields[1:]},
    )
    turn.session.add(conversation)
    note = await _return_note(turn, proposal)
    turn.say(texts.fix_start(proposal.number, fields, note))
    turn.say(prompt(turn, conversation, proposal))


async def _return_note(turn: Turn, proposal: Proposal) -> str | None:
    assert proposal.id is not None
    notes = [
        e.reason
        for e, _ in await store.history(turn.session, proposal_id=proposal.id)
        if e.action == "return"
    ]
    return notes[-1] if notes else None


async def _blocked_at_kirim(
    turn: Turn, conversation: Conversation, proposal: Proposal, found: list[Finding]
) -> None:
    turn.say(texts.blocked(found))
    conversation.from_summary = True
    await _goto(turn, conversation, proposal, Step.EDIT)


async def after_lost_race(turn: Turn) -> None:
    """Kirim lost to another officer's Kirim of the same NIK (rolled back): explain, offer to change."""
    state = await open_conversation(turn)
    if state is None:
        return
    conversation, proposal = state
    found = blocks(await _assess(turn, proposal, _reading(turn, proposal)))
    if found:
        await _blocked_at_kirim(turn, conversation, proposal, found)
    else:  # the winner was rejected in the meantime: the officer may simply send again
        turn.say(prompt(turn, conversation, proposal))


async def _draft(turn: Turn, conversation: Conversation) -> Proposal | None:
    if conversation.proposal_id is None:
        return None
    proposal = await turn.session.get(Proposal, conversation.proposal_id)
    editable = Status.DIKEMBALIKAN if conversation.flow == FIX_FLOW else Status.DRAFT
    if proposal is None or proposal.status is not editable:
        return None
    return proposal


Handler = Callable[[Turn, Conversation, Proposal, str], Awaitable[None]]

TYPED: dict[Step, Handler] = {
    Step.NIK: on_nik,
    Step.NAME: on_name,
    Step.BIRTH: on_typed_choice,
    Step.BIRTH_DATE: on_birth_date,
    Step.GENDER: on_typed_choice,
    Step.CATEGORY: on_typed_choice,
    Step.CATEGORY_OTHER: on_description,
    Step.ADDRESS: on_address,
    Step.PHONE: on_phone,
    Step.SUMMARY: on_typed_choice,
    Step.EDIT: on_typed_choice,
}


async def _no_buttons(turn: Turn, conversation: Conversation, proposal: Proposal, value: str) -> None:
    await _again(turn, conversation, proposal, texts.STALE_BUTTON)


BUTTONS: dict[Step, Handler] = {
    Step.NIK: _no_buttons,
    Step.NAME: _no_buttons,
    Step.BIRTH: on_birth_button,
    Step.BIRTH_DATE: _no_buttons,
    Step.GENDER: on_gender_button,
    Step.CATEGORY: on_category_button,
    Step.CATEGORY_OTHER: _no_buttons,
    Step.ADDRESS: _no_buttons,
    Step.PHONE: on_phone_button,
    Step.SUMMARY: on_summary_button,
    Step.EDIT: on_edit_button,
}
