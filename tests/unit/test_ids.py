import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.ids import lead_id_for, lead_id_for_external


def test_lead_id_ignores_case_and_surrounding_space() -> None:
    assert lead_id_for("  Maria.Gonzalez@Example.COM ") == lead_id_for("maria.gonzalez@example.com")


def test_lead_id_is_a_uuid5() -> None:
    assert lead_id_for("a@b.co").version == 5


def test_different_people_get_different_ids() -> None:
    assert lead_id_for("a@b.co") != lead_id_for("c@b.co")


def test_empty_email_is_refused() -> None:
    with pytest.raises(ValueError, match="email is required"):
        lead_id_for("   ")


def test_external_ids_do_not_collide_with_emails() -> None:
    assert lead_id_for_external("xeducation", "a@b.co") != lead_id_for("a@b.co")


@given(st.emails())
def test_lead_id_is_stable_for_any_email(email: str) -> None:
    assert lead_id_for(email) == lead_id_for(email.upper()) == uuid.UUID(str(lead_id_for(email)))


def test_a_lead_id_is_the_canonical_text_of_its_uuid_however_it_arrives() -> None:
    import uuid

    from shared.ids import as_lead_id

    value = uuid.UUID("6F1C1D2E-93A4-5B8E-9A51-4C1E0B7F2A10")
    assert as_lead_id(value) == as_lead_id(str(value).upper()) == "6f1c1d2e-93a4-5b8e-9a51-4c1e0b7f2a10"
    with pytest.raises(ValueError):
        as_lead_id("not-a-lead")
