"""The grade grid: fit A-D × engagement 1-4, each axis with its own thresholds."""

import pytest

from services.rules import DEFAULT_RULES
from services.scorer.domain.rules import Grades, ScoringRules
from services.scorer.domain.scoring import grade_for
from shared.rules import load_rules_section as load

pytestmark = pytest.mark.unit

RULES, _ = load(DEFAULT_RULES, "scoring", ScoringRules)


@pytest.mark.parametrize(
    ("fit", "engagement", "grade"),
    [(90, 80, "A1"), (75, 75, "A1"), (74.9, 75, "B1"), (50, 10, "B4"), (30, 60, "C2"), (0, 24.9, "D4"), (100, 0, "A4")],
)
def test_each_axis_grades_on_its_own_thresholds(fit: float, engagement: float, grade: str) -> None:
    assert grade_for(fit, engagement, RULES) == grade


def test_thresholds_must_name_every_grade_and_fall() -> None:
    with pytest.raises(ValueError, match="each of"):
        Grades(fit={"A": 80, "B": 50})
    with pytest.raises(ValueError, match="must fall"):
        Grades(engagement={"1": 20, "2": 50, "3": 10})
    stricter = RULES.model_copy(update={"grades": Grades(fit={"A": 95, "B": 90, "C": 85})})
    assert grade_for(90, 80, stricter) == "B1"
