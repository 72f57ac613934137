"""Who a submission is: the keys a person is matched by, and which lead those keys point to.

A lead's id is derived from its email's match key (or, for a lead a source knows only by its own id, from that
id), so every replica derives the same id without asking. Two things bend that: mailbox providers that ignore
dots or `+tags` (the same inbox, several spellings), and links: a key that now points at another lead because a
person was first known by a source's id and later by email, or because two leads were merged.
"""

from dataclasses import dataclass
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.ids import keyed_lead_id, lead_id_for, lead_id_for_external, normalise_email


class MatchRules(BaseModel):
    """The `intake.identity` section of the rules file: which spellings of an address are one mailbox.

    Gmail ignores dots in the local part and everything after a `+` (Google's "Gmail ignores dots" and
    "+ aliases" help pages); Outlook.com, Fastmail and Proton deliver `name+tag@` to `name@`. A domain listed
    here is matched that way; `"*"` in `plus_addressing` treats every domain so (most company mail servers do).
    Changing these lists changes which lead an address matches from then on; leads already captured keep their
    id (merge them with `POST /v1/leads/{id}/merge` where needed).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    plus_addressing: frozenset[str] = Field(
        default=frozenset(
            {
                "gmail.com",
                "googlemail.com",
                "outlook.com",
                "hotmail.com",
                "live.com",
                "fastmail.com",
                "protonmail.com",
                "proton.me",
            }
        )
    )
    dots_ignored: frozenset[str] = Field(default=frozenset({"gmail.com", "googlemail.com"}))
    same_domains: dict[str, str] = Field(default_factory=lambda: {"googlemail.com": "gmail.com"})


DEFAULT_MATCH = MatchRules()
_configured: list[MatchRules] = [DEFAULT_MATCH]
_secret: list[bytes | None] = [None]


def configure(rules: MatchRules) -> None:
    """Set the rules this intake process matches by (at start, from the rules file's intake.identity): every
    replica reads the same file, so every replica derives the same lead for an address."""
    _configured[0] = rules


def use_keyed_ids(secret: bytes | None) -> None:
    """Derive lead ids under this installation secret from now on (None: the public UUIDv5 derivation). Set by
    intake once the leads made before are linked to their ids (services/intake/commands/lead_ids.py)."""
    _secret[0] = secret


def configured() -> MatchRules:
    """The rules this process matches by."""
    return _configured[0]


def match_key(email: str, rules: MatchRules = DEFAULT_MATCH) -> str:
    """The spelling all of a mailbox's spellings share: `Jane.Doe+webinar@GoogleMail.com` → `janedoe@gmail.com`."""
    address = normalise_email(email)
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    domain = rules.same_domains.get(domain, domain)
    if "*" in rules.plus_addressing or domain in rules.plus_addressing:
        local = local.partition("+")[0] or local
    if domain in rules.dots_ignored:
        local = local.replace(".", "") or local
    return f"{local}@{domain}"


def email_key(email: str, rules: MatchRules = DEFAULT_MATCH) -> str:
    """The identity key of an address."""
    return f"email:{match_key(email, rules)}"


def external_key(provider: str, external_id: str) -> str:
    """The identity key of a source's own id for a person."""
    return f"external:{provider.strip().lower()}:{external_id.strip()}"


def derived_id(key: str) -> UUID:
    """The lead id a key gives when nothing links it elsewhere."""
    if _secret[0] is not None:
        return keyed_lead_id(_secret[0], key)
    kind, _, rest = key.partition(":")
    if kind == "email":
        return lead_id_for(rest)
    provider, _, external_id = rest.partition(":")
    return lead_id_for_external(provider, external_id)


@dataclass(frozen=True)
class Resolution:
    """Which lead a submission belongs to, the links its keys need, and a lead it shows to be the same person."""

    lead_id: UUID
    links: dict[str, UUID]  # key -> lead, to store
    joins: UUID | None = None  # another existing lead of the same person, to merge into `lead_id`


def resolve(
    email: str | None, external: str | None, links: dict[str, UUID], exists: set[UUID], rules: MatchRules
) -> Resolution:
    """Decide a submission's lead from its keys (`external` is an `external_key`), the stored links of those
    keys and which candidate leads exist. The email's lead wins: it is the one people and forms will reach."""
    by_email = email_key(email, rules) if email else None
    email_lead = links.get(by_email, derived_id(by_email)) if by_email else None
    external_lead = links.get(external, derived_id(external)) if external else None
    if email_lead is None:
        assert external_lead is not None, "a submission has an email or an external id"
        return Resolution(external_lead, {})
    if external_lead is None or external_lead == email_lead:
        return Resolution(email_lead, {})
    assert by_email is not None and external is not None
    if external_lead in exists and email_lead not in exists:
        # Known so far only by the source's id: the address joins that lead.
        return Resolution(external_lead, {by_email: external_lead})
    joins = external_lead if external_lead in exists else None
    return Resolution(email_lead, {external: email_lead}, joins)
