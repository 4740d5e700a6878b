"""The one table of status transitions (DESIGN §2), checked over every (status, action, role)."""

from __future__ import annotations

import itertools

import pytest

from models.rules.status import LIVE_STATUSES, Action, Role, Status, TransitionRefused, transition

S, A, R = Status, Action, Role

# Written out from DESIGN §1/§2, independently of the product's table.
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
