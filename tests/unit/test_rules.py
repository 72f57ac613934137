from pathlib import Path

import pytest

from services.qualifier.domain.rules import OpportunityRules
from services.rules import DEFAULT_RULES
from services.scorer.domain.rules import ScoringRules
from shared.rules import RulesError, load_rules_section


def test_default_rules_are_valid() -> None:
    scoring, version = load_rules_section(DEFAULT_RULES, "scoring", ScoringRules)
    opportunities, _ = load_rules_section(DEFAULT_RULES, "opportunities", OpportunityRules)
    assert scoring.mql_threshold > scoring.segments.warm
    assert opportunities.default_stage in opportunities.stages
    assert version.startswith("2026.12-default+")


def test_error_names_file_key_and_problem(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text(DEFAULT_RULES.read_text().replace("hot: 65", "hot: 165"))
    with pytest.raises(RulesError) as err:
        load_rules_section(bad, "scoring", ScoringRules)
    assert str(bad) in str(err.value)
    assert "scoring.segments.hot" in str(err.value)
    assert "less than or equal to 100" in str(err.value)


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text(DEFAULT_RULES.read_text().replace("mql_threshold: 55", "mql_treshold: 55"))
    with pytest.raises(RulesError, match=r"scoring\.mql_treshold"):
        load_rules_section(bad, "scoring", ScoringRules)


def test_bad_regex_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text(DEFAULT_RULES.read_text().replace(r"'\bdirector\b'", "'(director'"))
    with pytest.raises(RulesError, match=r"scoring.fit.seniority.2.pattern.*regular expression"):
        load_rules_section(bad, "scoring", ScoringRules)


def test_missing_section_and_file_and_yaml_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("version: 1\n")
    with pytest.raises(RulesError, match="scoring: section missing"):
        load_rules_section(empty, "scoring", ScoringRules)
    with pytest.raises(RulesError, match="cannot read"):
        load_rules_section(tmp_path / "nope.yaml", "scoring", ScoringRules)
    broken = tmp_path / "broken.yaml"
    broken.write_text("scoring: [unclosed\n")
    with pytest.raises(RulesError, match="not valid YAML"):
        load_rules_section(broken, "scoring", ScoringRules)


def test_version_changes_with_content(tmp_path: Path) -> None:
    changed = tmp_path / "rules.yaml"
    changed.write_text(DEFAULT_RULES.read_text().replace("mql_threshold: 55", "mql_threshold: 60"))
    _, default_version = load_rules_section(DEFAULT_RULES, "scoring", ScoringRules)
    _, changed_version = load_rules_section(changed, "scoring", ScoringRules)
    assert default_version != changed_version
