"""The console's pure parts: sealed sessions, the evidence form, how figures read."""

import time

import pytest
from cryptography.fernet import Fernet

from services.console.pages.evidence_form import FormError, evidence_from
from services.console.pages.formatting import money, percent, shown, why
from services.console.sessions import Sessions

pytestmark = pytest.mark.unit


def test_a_session_opens_only_with_its_key_untampered_and_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    sessions = Sessions(Fernet.generate_key(), ttl_s=3600)
    session, cookie = sessions.seal("ana.sdr", "the-token-0123456789", frozenset({"leads:read"}))
    assert "the-token" not in cookie and "ana" not in cookie  # sealed, not only signed
    assert sessions.open(cookie) == session
    assert session.may("leads:read") and not session.may("admin")
    assert session.form_is_ours(session.csrf) and not session.form_is_ours("guess") and not session.form_is_ours(None)
    assert sessions.open(cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")) is None
    assert Sessions(Fernet.generate_key(), ttl_s=3600).open(cookie) is None  # another deployment's key
    assert sessions.open(None) is None and sessions.open("not a cookie") is None
    later = time.time() + 3601
    monkeypatch.setattr(time, "time", lambda: later)
    assert sessions.open(cookie) is None  # expired


def test_the_evidence_form_reads_numbers_and_yes_no_and_refuses_half_rows() -> None:
    assert evidence_from(["budget", "authority", "", "pain"], ["60,000", "yes", "", "slow quotes"]) == {
        "budget": 60000,
        "authority": True,
        "pain": "slow quotes",
    }
    assert evidence_from(["employees", "compatible_stack"], ["12.5", "No"]) == {
        "employees": 12.5,
        "compatible_stack": False,
    }
    with pytest.raises(FormError, match=r"row 1 \(budget\) has no value"):
        evidence_from(["budget"], [""])
    with pytest.raises(FormError, match="row 2 has a value but no key"):
        evidence_from(["pain", ""], ["x", "orphan"])
    with pytest.raises(FormError, match="at least one"):
        evidence_from(["", ""], ["", ""])


def test_figures_read_as_people_write_them() -> None:
    assert (percent(0.4213), percent(None)) == ("42 %", "—")
    assert (money("48000.00"), money("1234.5"), money("n/a")) == ("48,000", "1,234.50", "n/a")
    assert (shown(True), shown(250.0), shown(12.5), shown("x")) == ("yes", "250", "12.5", "x")
    factors = [
        {"name": "a", "points": 5, "reason": "small"},
        {"name": "b", "points": -40, "reason": "student"},
        {"name": "c", "points": 45, "reason": "demo requested"},
        {"name": "d", "points": 20, "reason": "webinar"},
    ]
    assert why(factors) == "demo requested; student; webinar"
