"""Which spellings are one mailbox, and which lead a submission's keys decide."""

from datetime import UTC, datetime

import pytest

from services.intake.domain.capture import Submission
from services.intake.domain.identity import (
    DEFAULT_MATCH,
    MatchRules,
    derived_id,
    email_key,
    external_key,
    match_key,
    resolve,
)
from shared.ids import lead_id_for, lead_id_for_external

NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("spelling", "mailbox"),
    [
        ("Jane.Doe+webinar@GMAIL.com", "janedoe@gmail.com"),
        ("jane.doe@googlemail.com", "janedoe@gmail.com"),
        ("jane+q4@outlook.com", "jane@outlook.com"),
        ("jane.doe+q4@outlook.com", "jane.doe@outlook.com"),  # Outlook keeps dots
        ("jane.doe+q4@acme-industries.com", "jane.doe+q4@acme-industries.com"),  # a company's server: unknown
        ("  Jane@Acme.COM ", "jane@acme.com"),
        ("+tag@gmail.com", "+tag@gmail.com"),  # nothing before the tag: left as it is, not emptied
    ],
)
def test_spellings_of_one_mailbox_share_a_match_key(spelling: str, mailbox: str) -> None:
    assert match_key(spelling) == mailbox


def test_plus_addressing_everywhere_is_a_setting() -> None:
    rules = MatchRules(plus_addressing=frozenset({"*"}))
    assert match_key("jane.doe+q4@acme-industries.com", rules) == "jane.doe@acme-industries.com"
    assert match_key("jane.doe+q4@acme-industries.com", DEFAULT_MATCH) == "jane.doe+q4@acme-industries.com"


def test_a_submission_derives_its_lead_from_the_match_key() -> None:
    a = Submission(provider="typeform", occurred_at=NOW, email="Jane.Doe+Webinar@gmail.com")
    b = Submission(provider="zoom", occurred_at=NOW, email="janedoe@gmail.com")
    assert a.lead_id == b.lead_id == lead_id_for("janedoe@gmail.com")
    assert a.email == "jane.doe+webinar@gmail.com"  # the address as given is what a rep writes to


def test_keys_derive_the_ids_they_always_did() -> None:
    assert derived_id(email_key("ann@acme.com")) == lead_id_for("ann@acme.com")
    assert derived_id(external_key("xeducation", "7f3a")) == lead_id_for_external("xeducation", "7f3a")


EMAIL, EXTERNAL = "ann@acme.com", external_key("crm", "42")
BY_EMAIL, BY_EXTERNAL = lead_id_for(EMAIL), lead_id_for_external("crm", "42")


def test_an_address_alone_or_an_id_alone_is_its_lead() -> None:
    assert resolve(EMAIL, None, {}, set(), DEFAULT_MATCH).lead_id == BY_EMAIL
    assert resolve(None, EXTERNAL, {}, set(), DEFAULT_MATCH).lead_id == BY_EXTERNAL


def test_a_link_redirects_a_key() -> None:
    elsewhere = lead_id_for("someone@else.com")
    assert resolve(EMAIL, None, {email_key(EMAIL): elsewhere}, set(), DEFAULT_MATCH).lead_id == elsewhere


def test_an_address_joins_the_lead_known_only_by_the_sources_id() -> None:
    decided = resolve(EMAIL, EXTERNAL, {}, {BY_EXTERNAL}, DEFAULT_MATCH)
    assert decided.lead_id == BY_EXTERNAL
    assert decided.links == {email_key(EMAIL): BY_EXTERNAL} and decided.joins is None


def test_when_both_leads_exist_the_sources_one_is_merged_into_the_addresses() -> None:
    decided = resolve(EMAIL, EXTERNAL, {}, {BY_EXTERNAL, BY_EMAIL}, DEFAULT_MATCH)
    assert decided.lead_id == BY_EMAIL
    assert decided.links == {EXTERNAL: BY_EMAIL} and decided.joins == BY_EXTERNAL


def test_a_new_person_with_both_keys_is_the_addresses_lead_and_links_the_id() -> None:
    decided = resolve(EMAIL, EXTERNAL, {}, set(), DEFAULT_MATCH)
    assert (decided.lead_id, decided.links, decided.joins) == (BY_EMAIL, {EXTERNAL: BY_EMAIL}, None)


def test_keys_already_linked_together_need_nothing() -> None:
    decided = resolve(EMAIL, EXTERNAL, {EXTERNAL: BY_EMAIL}, {BY_EMAIL}, DEFAULT_MATCH)
    assert (decided.lead_id, decided.links, decided.joins) == (BY_EMAIL, {}, None)
