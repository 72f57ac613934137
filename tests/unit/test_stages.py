import pytest

from services.qualifier.domain.stages import ALLOWED, IllegalTransition, check_transition
from shared.events.vocabulary import LeadStage as S


def test_every_stage_has_rules() -> None:
    assert set(ALLOWED) == set(S)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.LEAD, S.MQL),
        (S.MQL, S.PROSPECT),
        (S.PROSPECT, S.OPPORTUNITY),
        (S.OPPORTUNITY, S.CUSTOMER),
        (S.OPPORTUNITY, S.CLOSED_LOST),
        (S.MQL, S.NURTURE),
        (S.NURTURE, S.MQL),
    ],
)
def test_forward_and_nurture_moves_are_legal(current: S, target: S) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(("current", "target"), [(S.LEAD, S.CUSTOMER), (S.CUSTOMER, S.LEAD), (S.LEAD, S.CLOSED_LOST)])
def test_skipping_to_the_end_is_illegal(current: S, target: S) -> None:
    with pytest.raises(IllegalTransition, match=f"from {current.value} to {target.value}"):
        check_transition(current, target)


def test_closed_lost_only_from_opportunity() -> None:
    sources = {s for s, targets in ALLOWED.items() if S.CLOSED_LOST in targets}
    assert sources == {S.OPPORTUNITY}
