"""The one table of status transitions, checked over every (status, action, role)."""

from __future__ import annotations

import itertools

import pytest

from models.rules.status import (
    LIVE_STATUSES,
    Action,
    OutsideRegion,
    Role,
    Status,
    TransitionRefused,
    acts_on,
    authorize,
    covers,
    transition,
)

S, A, R = Status, Action, Role

# Written out from the program rules in the README, independently of the product's table.
ALLOWED: dict[tuple[Status, Action, Role], Status] = {
    (S.DRAFT, A.SUBMIT, R.OPERATOR): S.MENUNGGU_CAMAT,
    (S.MENUNGGU_CAMAT, A.APPROVE, R.CAMAT): S.MENUNGGU_DINAS,
    (S.MENUNGGU_CAMAT, A.REJECT, R.CAMAT): S.DITOLAK,
    (S.MENUNGGU_CAMAT, A.RETURN, R.CAMAT): S.DIKEMBALIKAN,
    (S.MENUNGGU_DINAS, A.ESTABLISH, R.DINAS): S.DITETAPKAN,
    (S.MENUNGGU_DINAS, A.REJECT, R.DINAS): S.DITOLAK,
    (S.DIKEMBALIKAN, A.RESUBMIT, R.OPERATOR): S.MENUNGGU_CAMAT,
}

EVERY = list(itertools.product(Status, Action, Role))
REFUSED = [combination for combination in EVERY if combination not in ALLOWED]


def ident(combination: tuple[Status, Action, Role]) -> str:
    return "-".join(part.value for part in combination)


def test_the_statuses_are_the_designs_lowercase_words():
    assert [s.value for s in Status] == [
        "draft",
        "menunggu_camat",
        "menunggu_dinas",
        "ditetapkan",
        "ditolak",
        "dikembalikan",
    ]


@pytest.mark.parametrize(("status", "action", "role"), list(ALLOWED), ids=[ident(c) for c in ALLOWED])
def test_allowed_transitions(status, action, role):
    assert transition(status, action, role) is ALLOWED[status, action, role]


@pytest.mark.parametrize(("status", "action", "role"), REFUSED, ids=[ident(c) for c in REFUSED])
def test_every_other_combination_is_refused(status, action, role):
    with pytest.raises(TransitionRefused) as refused:
        transition(status, action, role)

    assert (refused.value.status, refused.value.action, refused.value.role) == (status, action, role)


def test_the_product_covers_every_combination():
    assert len(EVERY) == 6 * 6 * 3
    assert len(REFUSED) == len(EVERY) - 7


@pytest.mark.parametrize("final", [Status.DITETAPKAN, Status.DITOLAK])
def test_final_statuses_have_no_way_out(final):
    for action, role in itertools.product(Action, Role):
        with pytest.raises(TransitionRefused):
            transition(final, action, role)


def test_refusal_message_names_role_action_and_status():
    with pytest.raises(
        TransitionRefused, match="operator cannot approve a proposal in status menunggu_camat"
    ):
        transition(Status.MENUNGGU_CAMAT, Action.APPROVE, Role.OPERATOR)


def test_live_statuses_are_those_that_block_a_new_proposal():
    live = {"menunggu_camat", "menunggu_dinas", "ditetapkan", "dikembalikan"}

    assert {s.value for s in LIVE_STATUSES} == live


# ------------------------------------------------------------------------------------- region and actor

TOMOK, SIMANINDO, PANGURURAN_DESA, PANGURURAN = "12.17.01.2001", "12.17.01", "12.17.08.2001", "12.17.08"


@pytest.mark.parametrize(
    ("role", "region", "desa", "kecamatan", "covered"),
    [
        (Role.OPERATOR, TOMOK, TOMOK, SIMANINDO, True),
        (Role.OPERATOR, TOMOK, PANGURURAN_DESA, PANGURURAN, False),
        (Role.CAMAT, SIMANINDO, TOMOK, SIMANINDO, True),
        (Role.CAMAT, PANGURURAN, TOMOK, SIMANINDO, False),
        (Role.DINAS, "12.17", TOMOK, SIMANINDO, True),
        (Role.DINAS, "12.16", TOMOK, SIMANINDO, False),  # another kabupaten's dinas
        (Role.DINAS, "12.1", "12.17.01.2001", SIMANINDO, False),  # a prefix is not a region
    ],
)
def test_covers_own_region_only(role, region, desa, kecamatan, covered):
    """Operators cover their desa, camats their kecamatan, the dinas its kabupaten, nobody else's."""
    assert covers(role, region, desa_code=desa, kecamatan_code=kecamatan) is covered


def test_authorize_checks_the_region_before_the_table():
    """A camat of another kecamatan is refused as outside the region even where the table allows camats."""
    with pytest.raises(OutsideRegion):
        authorize(Role.CAMAT, PANGURURAN, Action.APPROVE, Status.MENUNGGU_CAMAT, desa_code=TOMOK,
                  kecamatan_code=SIMANINDO)  # fmt: skip
    assert (
        authorize(
            Role.CAMAT,
            SIMANINDO,
            Action.APPROVE,
            Status.MENUNGGU_CAMAT,
            desa_code=TOMOK,
            kecamatan_code=SIMANINDO,
        )
        is Status.MENUNGGU_DINAS
    )
    with pytest.raises(TransitionRefused):
        authorize(Role.CAMAT, SIMANINDO, Action.APPROVE, Status.MENUNGGU_DINAS, desa_code=TOMOK,
                  kecamatan_code=SIMANINDO)  # fmt: skip


def test_acts_on_says_which_role_takes_which_action():
    """Used to tell "already decided" (your action, another status) from "not yours"."""
    assert acts_on(Role.CAMAT, Action.APPROVE)
    assert acts_on(Role.DINAS, Action.REJECT)
    assert acts_on(Role.CAMAT, Action.REJECT)
    assert not acts_on(Role.CAMAT, Action.ESTABLISH)
    assert not acts_on(Role.OPERATOR, Action.APPROVE)
    assert not acts_on(Role.DINAS, Action.RETURN)
