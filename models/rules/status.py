"""Proposal statuses and the one table of allowed transitions.

Every change of status goes through :func:`authorize` (region, then :func:`transition`, which checks the
actor's role against this table). The caller re-reads the actor and the proposal from the database on
every request and writes the change with a compare-and-set on the status it read.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    DRAFT = "draft"
    MENUNGGU_CAMAT = "menunggu_camat"
    MENUNGGU_DINAS = "menunggu_dinas"
    DITETAPKAN = "ditetapkan"
    DITOLAK = "ditolak"
    DIKEMBALIKAN = "dikembalikan"


class Role(StrEnum):
    OPERATOR = "operator"
    CAMAT = "camat"
    DINAS = "dinas"


class Action(StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    RETURN = "return"
    ESTABLISH = "establish"  # ditetapkan by the dinas
    RESUBMIT = "resubmit"


# (from status, action) -> (role allowed to act, new status)
TRANSITIONS: dict[tuple[Status, Action], tuple[Role, Status]] = {
    (Status.DRAFT, Action.SUBMIT): (Role.OPERATOR, Status.MENUNGGU_CAMAT),
    (Status.MENUNGGU_CAMAT, Action.APPROVE): (Role.CAMAT, Status.MENUNGGU_DINAS),
    (Status.MENUNGGU_CAMAT, Action.REJECT): (Role.CAMAT, Status.DITOLAK),
    (Status.MENUNGGU_CAMAT, Action.RETURN): (Role.CAMAT, Status.DIKEMBALIKAN),
    (Status.MENUNGGU_DINAS, Action.ESTABLISH): (Role.DINAS, Status.DITETAPKAN),
    (Status.MENUNGGU_DINAS, Action.REJECT): (Role.DINAS, Status.DITOLAK),
    (Status.DIKEMBALIKAN, Action.RESUBMIT): (Role.OPERATOR, Status.MENUNGGU_CAMAT),
}

# A NIK with a proposal in one of these statuses cannot be proposed again.
LIVE_STATUSES: frozenset[Status] = frozenset(
    {Status.MENUNGGU_CAMAT, Status.MENUNGGU_DINAS, Status.DITETAPKAN, Status.DIKEMBALIKAN}
)


class TransitionRefused(Exception):
    """The actor may not take this action on a proposal in this status."""

    def __init__(self, status: Status, action: Action, role: Role) -> None:
        super().__init__(f"{role} cannot {action} a proposal in status {status}")
        self.status, self.action, self.role = status, action, role


def transition(status: Status, action: Action, role: Role) -> Status:
    """The status after ``role`` takes ``action``, or :class:`TransitionRefused`."""
    rule = TRANSITIONS.get((status, action))
    if rule is None or rule[0] is not role:
        raise TransitionRefused(status, action, role)
    return rule[1]


class OutsideRegion(Exception):
    """The actor's region does not cover the proposal (another desa or kecamatan)."""


def covers(role: Role, region_code: str, *, desa_code: str, kecamatan_code: str) -> bool:
    """Operators act for their desa, camats for their kecamatan, the dinas for the whole kabupaten."""
    match role:
        case Role.OPERATOR:
            return desa_code == region_code
        case Role.CAMAT:
            return kecamatan_code == region_code
        case Role.DINAS:
            return desa_code.startswith(region_code + ".")


def authorize(
    role: Role, region_code: str, action: Action, status: Status, *, desa_code: str, kecamatan_code: str
) -> Status:
    """The status after the actor's action, checked against region and the transition table.

    Raises :class:`OutsideRegion` or :class:`TransitionRefused`; any user can press any button.
    """
    if not covers(role, region_code, desa_code=desa_code, kecamatan_code=kecamatan_code):
        raise OutsideRegion(f"{role} of {region_code} does not cover desa {desa_code}")
    return transition(status, action, role)


def acts_on(role: Role, action: Action) -> bool:
    """Whether the role takes this action at some status (a refusal then means: decided already)."""
    return any(action is a and role is r for (_, a), (r, _) in TRANSITIONS.items())
