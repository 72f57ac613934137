"""The criterion engine: checks over a lead's facts that say pass, fail or unknown, and why.

Frameworks are data (rules YAML); this module is the only code they need, so CHAMP or MEDDIC are a matter of
configuration: every criterion is a check on a fact, or any/all of other checks.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from shared.events.vocabulary import CriterionOutcome as Outcome

Facts = Mapping[str, Any]


class Check(BaseModel):
    """One test on one fact (`fact` + exactly one operator), or a combination.

    `any_of` passes when one passes; `all_of` fails when one fails; `first_known` takes the first verdict that
    is not unknown, so a rep's evidence listed first outranks what a form said.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    fact: str | None = None
    present: bool | None = None
    truthy: bool | None = None
    in_: list[Any] | None = Field(None, alias="in")
    not_in: list[Any] | None = None
    gte: float | None = None
    lte: float | None = None
    matches: str | None = None
    any_of: list["Check"] | None = None
    all_of: list["Check"] | None = None
    first_known: list["Check"] | None = None
    label: str | None = None
    # Made once when the rules are loaded, not on every evaluation of every lead.
    _members: frozenset[Any] = PrivateAttr(default=frozenset())
    _shown: str = PrivateAttr(default="")
    _pattern: re.Pattern[str] | None = PrivateAttr(default=None)

    @field_validator("in_", "not_in")
    @classmethod
    def _plain_values(cls, values: list[Any] | None) -> list[Any] | None:
        if values is not None and not all(v is None or isinstance(v, str | int | float | bool) for v in values):
            raise ValueError("list only strings, numbers or booleans")
        return values

    @field_validator("matches")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _one_shape(self) -> "Check":
        operators = [n for n in ("present", "truthy", "in_", "not_in", "matches") if getattr(self, n) is not None]
        ranged = self.gte is not None or self.lte is not None
        combined = [n for n in ("any_of", "all_of", "first_known") if getattr(self, n) is not None]
        if combined:
            if self.fact or operators or ranged or len(combined) > 1:
                raise ValueError("any_of / all_of / first_known stand alone, without fact or operators")
            return self
        if not self.fact:
            raise ValueError("a check needs a fact (or any_of / all_of / first_known)")
        if len(operators) + int(ranged) != 1:
            raise ValueError("a check needs exactly one of: present, truthy, in, not_in, gte/lte, matches")
        listed = self.in_ if self.in_ is not None else self.not_in
        if listed is not None:
            self._members = frozenset(_normal(v) for v in listed)
            self._shown = "{" + ", ".join(str(v) for v in listed[:6]) + (", …" if len(listed) > 6 else "") + "}"
        if self.matches is not None:
            self._pattern = re.compile(self.matches, flags=re.IGNORECASE)
        return self


@dataclass(slots=True)
class Verdict:
    """A check's outcome and the evidence it used, in words."""

    outcome: Outcome
    evidence: str


def evaluate(check: Check, facts: Facts) -> Verdict:
    """Pass, fail or unknown (the fact is missing), with evidence."""
    if check.any_of is not None:
        return _combine([evaluate(c, facts) for c in check.any_of], any_mode=True)
    if check.all_of is not None:
        return _combine([evaluate(c, facts) for c in check.all_of], any_mode=False)
    if check.first_known is not None:
        verdicts = [evaluate(c, facts) for c in check.first_known]
        known = next((v for v in verdicts if v.outcome is not Outcome.UNKNOWN), None)
        return known or Verdict(Outcome.UNKNOWN, "; ".join(v.evidence for v in verdicts))
    assert check.fact is not None
    name = check.label or check.fact
    value = facts.get(check.fact)
    if check.present is not None:
        # Nobody having said it yet is not the same as it being false: missing stays unknown.
        if _missing(value):
            return Verdict(Outcome.PASS if not check.present else Outcome.UNKNOWN, f"no {name} yet")
        return Verdict(Outcome.PASS if check.present else Outcome.FAIL, f"{name} = {_show(value)}")
    if _missing(value):
        return Verdict(Outcome.UNKNOWN, f"{name} not known")
    if check.truthy is not None:
        ok = _truthy(value) == check.truthy
        return Verdict(Outcome.PASS if ok else Outcome.FAIL, f"{name} = {_show(value)}")
    if check.in_ is not None or check.not_in is not None:
        hit = _is_member(value, check._members)
        ok = hit if check.in_ is not None else not hit
        return Verdict(_pass(ok), f"{name} = {_show(value)} {'∈' if hit else '∉'} {check._shown}")
    if check._pattern is not None:
        ok = check._pattern.search(str(value)) is not None
        return Verdict(_pass(ok), f"{name} = {_show(value)} {'matches' if ok else 'does not match'} /{check.matches}/")
    if isinstance(value, list | tuple) and len(value) == 2:
        return _band(check, name, value)
    number = _number(value)
    if number is None:
        return Verdict(Outcome.UNKNOWN, f"{name} = {_show(value)} is not a number")
    low_ok = check.gte is None or number >= check.gte
    high_ok = check.lte is None or number <= check.lte
    bounds = _bounds(check)
    return Verdict(_pass(low_ok and high_ok), f"{name} = {number:g} {'' if low_ok and high_ok else 'not '}{bounds}")


def _bounds(check: Check) -> str:
    return " and ".join(
        part
        for part in (
            f"≥ {check.gte:g}" if check.gte is not None else "",
            f"≤ {check.lte:g}" if check.lte is not None else "",
        )
        if part
    )


def _band(check: Check, name: str, value: Sequence[Any]) -> Verdict:
    """A band [at least, at most] (a form's "51-200"): inside the bounds passes, outside fails, and a band that
    straddles a bound cannot say yet (a rep's count decides)."""
    low, high = _number(value[0]), _number(value[1]) if value[1] is not None else None
    if low is None:
        return Verdict(Outcome.UNKNOWN, f"{name} = {_show(value)} is not a range of numbers")
    shown = f"{low:g}–{high:g}" if high is not None else f"{low:g}+"
    fails = (check.gte is not None and high is not None and high < check.gte) or (
        check.lte is not None and low > check.lte
    )
    passes = (check.gte is None or low >= check.gte) and (check.lte is None or (high is not None and high <= check.lte))
    bounds = _bounds(check)
    if fails:
        return Verdict(Outcome.FAIL, f"{name} = {shown}, not {bounds}")
    if passes:
        return Verdict(Outcome.PASS, f"{name} = {shown}, {bounds}")
    return Verdict(Outcome.UNKNOWN, f"{name} = {shown} may or may not be {bounds}")


def _combine(verdicts: list[Verdict], *, any_mode: bool) -> Verdict:
    outcomes = [v.outcome for v in verdicts]
    decisive = Outcome.PASS if any_mode else Outcome.FAIL
    if decisive in outcomes:
        outcome = decisive
        used = [v for v in verdicts if v.outcome is decisive]
    elif Outcome.UNKNOWN in outcomes:
        outcome, used = Outcome.UNKNOWN, verdicts
    else:
        outcome, used = (Outcome.FAIL if any_mode else Outcome.PASS), verdicts
    return Verdict(outcome, "; ".join(v.evidence for v in used))


def _pass(ok: bool) -> Outcome:
    return Outcome.PASS if ok else Outcome.FAIL


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value in ([], {})


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in {"", "no", "false", "0", "n", "none"}
    return bool(value)


def _normal(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).replace(",", "").replace("_", "").strip())
    except ValueError:
        return None


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "…'"


def _is_member(value: Any, members: frozenset[Any]) -> bool:
    try:
        return _normal(value) in members
    except TypeError:  # a fact that is a list or a mapping is never one of a rule's plain values
        return False
