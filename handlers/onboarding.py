"""Onboarding: an unknown chat account proves it is an officer on the roster by sharing its own number."""

from __future__ import annotations

from lokal import parse_phone

from handlers import approval, texts
from handlers.context import Turn
from handlers.messages import Inbound, Kind, Reply
from models import store
from models.regions import Kabupaten
from models.rules.status import Role
from models.tables import Officer


def menu_for(role: Role) -> tuple[tuple[str, ...], ...]:
    return texts.MENU_OPERATOR if role is Role.OPERATOR else texts.MENU_APPROVER


def region_label(kabupaten: Kabupaten, officer: Officer) -> str:
    """Where an officer works, in words: "Desa Tomok, Kec. Simanindo"."""
    if officer.role is Role.OPERATOR:
        desa = kabupaten.desa_by_code(officer.region_code)
        return desa.label if desa else officer.region_code
    if officer.role is Role.CAMAT:
        kecamatan = kabupaten.kecamatan_by_code(officer.region_code)
        return f"Kec. {kecamatan.name}" if kecamatan else officer.region_code
    return kabupaten.name


def limited_answer(inbound: Inbound) -> str | None:
    """Which answer, limited to one per interval, a message of an unbound account gets; None: always
    answered (their own contact: the step that binds them, or says why it cannot)."""
    if inbound.phone_hidden:
        return "phone_hidden"
    if inbound.verified_phone is not None:
        return None  # the number itself: binds them, or says whom to ask (limited below when refused)
    if inbound.kind is Kind.CONTACT:
        own = inbound.contact_user_id is not None and inbound.contact_user_id == inbound.user_id
        return None if own else "not_own"
    if inbound.kind is Kind.COMMAND and inbound.command == "start":
        return "welcome"
    return "only_contact"


async def handle_unbound(turn: Turn) -> None:
    """Ask an unknown user for their phone number, and bind them when it is on the roster."""
    inbound = turn.inbound
    limited = limited_answer(inbound)
    if limited is not None and not _within_limit(turn, limited):
        return
    if limited == "phone_hidden":
        turn.say(texts.phone_hidden(turn.services.admin_contact))
        return
    if inbound.verified_phone is not None:
        await _bind_verified(turn, inbound.verified_phone)
        return
    if inbound.kind is not Kind.CONTACT:
        text = texts.WELCOME_UNKNOWN if limited == "welcome" else texts.UNBOUND_ONLY_CONTACT
        turn.say(Reply(text, ask_contact=True))
        return
    # Only the sender's own contact proves anything: a forwarded card could be anyone's.
    if limited == "not_own":
        turn.say(Reply(texts.CONTACT_NOT_OWN, ask_contact=True))
        return
    phone = parse_phone(inbound.contact_phone or "")
    if not phone.valid or phone.e164 is None:
        turn.say(Reply(texts.CONTACT_BAD_NUMBER, ask_contact=True))
        return
    officer = await store.officer_by_phone(turn.session, phone=phone.e164)
    if officer is None or not officer.active:  # taken off the roster: as if never on it
        number = phone.national or phone.e164
        turn.say(Reply(texts.contact_not_on_roster(number, turn.services.admin_contact), ask_contact=True))
        return
    await _bind(turn, officer)


def _within_limit(turn: Turn, answer: str) -> bool:
    """Whether this kind of answer may go to this unbound account now (counted once the turn commits).

    Strangers writing in a loop would otherwise spend the send budget the officers' answers need; a
    newcomer still gets the welcome, the request for their number, and why it was refused."""
    inbound, services = turn.inbound, turn.services
    limit, interval, now = services.unbound_replies, services.unbound_reply_interval, services.clock()
    key = (inbound.channel, inbound.user_id, answer)
    if not limit.allows(key, now, interval):
        return False
    turn.after_commit.append(lambda: limit.count(key, now, interval))
    return True


async def _bind_verified(turn: Turn, verified_phone: str) -> None:
    """Bind the sender whose number the chat app vouches for, when it is on the roster."""
    phone = parse_phone(verified_phone)
    officer = await store.officer_by_phone(turn.session, phone=phone.e164) if phone.e164 else None
    if officer is None or not officer.active:  # taken off the roster: as if never on it
        if _within_limit(turn, "not_on_roster"):
            number = phone.national or phone.e164 or verified_phone
            turn.say(texts.number_not_on_roster(number, turn.services.admin_contact))
        return
    await _bind(turn, officer)


async def _bind(turn: Turn, officer: Officer) -> None:
    """Bind the sender's account to ``officer`` and welcome them with their menu."""
    inbound = turn.inbound
    await store.bind_account(
        turn.session,
        channel=inbound.channel,
        external_id=inbound.user_id,
        chat_id=inbound.chat_id,
        officer=officer,
    )
    label = region_label(turn.services.kabupaten, officer)
    turn.say(Reply(texts.bound_welcome(officer.name, officer.role, label), menu=menu_for(officer.role)))
    turn.officer = officer
    await approval.waiting_note(turn)
