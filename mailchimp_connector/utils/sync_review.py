"""What a sync's initial run would do, counted before it starts (the setup's
*Review*): the run's own rules applied to what both sides hold now, free of any
database.

The run reads Mailchimp first (the pull), then sends Odoo's segment (the push);
``review`` goes through the same two steps with the same rules:

- pull: a member is linked to the contact with its address (``pick_winners``
  among the company's contacts, as the pull picks them), merged field by field
  (``resolve_fields``: the conflicts), or becomes a new contact when
  ``creation_refused`` says so, else stays unlinked with the reason;
- push: the segment's contacts with an address that is not one are invalid, the
  others are grouped by address (``pick_winners``, the linked one first): the
  losers are duplicates, a winner already linked is in the audience, the others
  are added with ``new_member_status`` (an Odoo opt-out: ``new_member_opt_out``);
- the company's own contacts and the internal users' are counted apart: in the
  segment (a warning) or left out of it.

Nothing here reads or writes anything: the caller passes plain data, and an
object that converts a contact's mapped values as the run does (``odoo_values``).
"""

from collections import Counter
from dataclasses import dataclass, field

from .consent import new_member_opt_out
from .merge_values import normalize_email
from .sync_rules import (
    creation_refused,
    new_member_status,
    pick_winners,
    resolve_fields,
)

SAMPLE_SIZE = 10


@dataclass(frozen=True)
class Member:
    """A member as Mailchimp lists it: its subscriber hash, address and status,
    and its merge values in the form the sync compares (``FieldMapPlan.normalize``)."""

    id: str
    email: str
    status: str
    values: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Contact:
    """An Odoo contact as the run would see it.

    ``email_normalized`` is Odoo's (False when Odoo found no address in
    ``email``); ``in_segment``: the sync's segment takes it; ``candidate``: the
    pull may link it (an active contact of the sync's companies, not forgotten);
    ``active``: not archived; ``blacklisted``: on Odoo's email blacklist;
    ``internal``: "company" or "user" for your own companies' and internal users'
    contacts; ``create_date`` picks the oldest of a duplicate address.
    """

    id: int
    name: str = ""
    email: object = False
    email_normalized: object = False
    create_date: object = None
    in_segment: bool = False
    candidate: bool = True
    active: bool = True
    blacklisted: bool = False
    internal: str | None = None


@dataclass(frozen=True)
class Options:
    """The sync's settings the run follows."""

    direction: str = "both"
    create_missing: bool = False
    create_unsubscribed: bool = False
    create_cleaned: bool = False
    double_opt_in: bool = False
    optout_policy: str = "unsubscribed"
    conflict_winner: str = "odoo"
    push_only: tuple = ()

    @property
    def pushes(self):
        return self.direction != "mailchimp2odoo"


@dataclass
class Sample:
    """One line of a sample: a contact and/or a member, the status it has or
    gets, and why (a code, with its ``args``, for the caller to put in words)."""

    contact_id: int | None
    name: str
    email: str
    status: str | None
    reason: str
    args: dict = field(default_factory=dict)


@dataclass
class Review:
    """Counts by key, and up to ``sample_size`` samples for each key.

    Keys: ``members`` and ``members_<status>`` (read); ``link`` (members linked to
    an existing contact, ``link_archived`` of them archived in Mailchimp);
    ``create_<status>`` (new contacts); ``skip_<reason>`` (members left unlinked:
    ``off``, ``archived``, ``unsubscribed``, ``cleaned``, ``forgotten``);
    ``conflict`` (contacts) and ``conflict_fields``; ``segment``;
    ``add_<status>`` (new members: subscribed, pending, unsubscribed);
    ``optout_skipped``; ``in_audience``; ``duplicate``; ``invalid``;
    ``value_error``; ``internal_in_segment``; ``internal_left_out``.
    """

    sample_size: int = SAMPLE_SIZE
    counts: Counter = field(default_factory=Counter)
    samples: dict = field(default_factory=dict)

    def add(self, key, sample=None):
        self.counts[key] += 1
        if sample is not None:
            kept = self.samples.setdefault(key, [])
            if len(kept) < self.sample_size:
                kept.append(sample)

    @property
    def created(self):
        """New contacts in Odoo, every status."""
        return sum(n for key, n in self.counts.items() if key.startswith("create_"))

    @property
    def added(self):
        """New members in Mailchimp, every status."""
        return sum(n for key, n in self.counts.items() if key.startswith("add_"))


def review(
    members,
    contacts,
    options,
    odoo_values=None,
    forgotten=(),
    linked=None,
    sample_size=SAMPLE_SIZE,
):
    """Count what the sync's next full run would do (see the module's doc).

    ``members``: ``Member`` items (the listing and the archived members);
    ``contacts``: ``Contact`` items, those the pull could match and those of the
    segment (invalid addresses included) and your companies' and internal users';
    ``odoo_values``: the run's conversions of a contact's mapped values, an object
    with ``merged(contact_id, mailchimp_values)``, ({tag: value}, {tag: reason})
    as the pull merges them, and ``refused(contact_id)``, {tag: reason} of the
    values Mailchimp could not take for a new member; None to count no conflict
    and no refused value; ``forgotten``: addresses of contacts forgotten in
    Mailchimp; ``linked``: {subscriber hash: contact id} of the members the sync
    already links.
    """
    result = Review(sample_size=sample_size)
    by_id = {}
    for contact in contacts:
        by_id.setdefault(contact.id, contact)
    linked = dict(linked or {})
    links = _pull(result, members, by_id, options, odoo_values, set(forgotten), linked)
    if options.pushes:
        _push(result, by_id, options, odoo_values, links)
    _internal(result, by_id)
    return result


# ----------------------------------------------------------------------------- pull
def _pull(result, members, by_id, options, odoo_values, forgotten, linked):
    """The pull's outcome for each member; returns {email: contact id} of the
    contacts linked once it is done."""
    taken = set(linked.values())
    winners, skipped = pick_winners(
        [
            {
                "id": contact.id,
                "email": contact.email_normalized,
                "create_date": contact.create_date,
                "linked": False,
            }
            for contact in by_id.values()
            if contact.candidate
            and contact.active
            and contact.email_normalized
            and contact.id not in taken
        ]
    )
    links = {}
    for contact_id in taken:
        contact = by_id.get(contact_id)
        email = contact and normalize_email(contact.email_normalized)
        if email:
            links[email] = contact_id
    seen = set()
    wanted_emails = set()
    for member in members:
        if member.id in seen:  # listed with the others and apart, as archived
            continue
        seen.add(member.id)
        result.add("members")
        result.add(f"members_{member.status}")
        email = normalize_email(member.email)
        wanted_emails.add(email)
        if member.id in linked:
            contact = by_id.get(linked[member.id])
            result.add("link", _sample(contact, member, "linked_before"))
            continue
        if email in forgotten:
            result.add("skip_forgotten", _sample(None, member, "forgotten"))
            continue
        winner = winners.get(email)
        if winner is None:
            refused = creation_refused(
                member.status,
                options.direction,
                options.create_missing,
                options.create_unsubscribed,
                options.create_cleaned,
            )
            if refused:
                result.add(f"skip_{refused}", _sample(None, member, refused))
            else:
                result.add(f"create_{member.status}", _sample(None, member, "create"))
            continue
        contact = by_id[winner["id"]]
        links[email] = contact.id
        if member.status == "archived":
            result.add("link_archived")
            result.add("link", _sample(contact, member, "archived"))
            continue
        result.add("link", _sample(contact, member, "link"))
        _conflicts(result, contact, member, options, odoo_values)
    if not options.pushes:
        # a sync that only reads Mailchimp reports the pull's duplicates (F9)
        for contact, reason in skipped:
            email = normalize_email(contact["email"])
            if reason.startswith("duplicate") and email in wanted_emails:
                winner = winners[email]
                _duplicate(result, by_id[contact["id"]], by_id[winner["id"]])
    return links


def _conflicts(result, contact, member, options, odoo_values):
    """A member merged with its contact for the first time: the mapped fields
    both sides fill with different values (the conflict rule decides)."""
    if odoo_values is None:
        return
    odoo_now, errors = odoo_values.merged(contact.id, member.values)
    resolution = resolve_fields(
        None,
        odoo_now,
        member.values,
        options.conflict_winner,
        options.direction,
        push_only=options.push_only,
        tags=[tag for tag in member.values if tag not in errors],
        odoo_synced={},
    )
    if resolution.conflicts:
        result.counts["conflict_fields"] += len(resolution.conflicts)
        result.add(
            "conflict",
            _sample(
                contact,
                member,
                "conflict",
                fields=", ".join(resolution.conflicts),
                winner=options.conflict_winner,
            ),
        )


# ----------------------------------------------------------------------------- push
def _push(result, by_id, options, odoo_values, links):
    """The push's outcome for each contact of the segment."""
    segment = [contact for contact in by_id.values() if contact.in_segment]
    linked_ids = set(links.values())
    valid = []
    for contact in segment:
        if not contact.email_normalized:
            if contact.active and contact.email:
                result.add("invalid", _sample(contact, None, "invalid"))
            continue
        if not normalize_email(contact.email_normalized):
            result.add("invalid", _sample(contact, None, "invalid"))
            continue
        valid.append(contact)
    emails = {normalize_email(contact.email_normalized) for contact in valid}
    everyone = {contact.id: contact for contact in valid if contact.active}
    for email in emails:
        if email in links:  # linked by the pull, maybe outside the segment
            everyone.setdefault(links[email], by_id[links[email]])
    winners, skipped = pick_winners(
        [
            {
                "id": contact.id,
                "email": contact.email_normalized,
                "create_date": contact.create_date,
                "linked": contact.id in linked_ids,
            }
            for contact in everyone.values()
        ]
    )
    losers = {contact["id"] for contact, _reason in skipped}
    for contact in valid:
        email = normalize_email(contact.email_normalized)
        if contact.active:
            result.add("segment")
        winner = winners.get(email)
        if winner is None or winner["id"] != contact.id:
            if contact.id in losers and winner is not None:
                _duplicate(result, contact, by_id[winner["id"]])
            # else: an archived contact no other contact outranks: not sent
            continue
        if contact.id in linked_ids:
            result.add("in_audience")
            continue
        if odoo_values is not None:
            errors = odoo_values.refused(contact.id)
            if errors:
                result.add(
                    "value_error",
                    _sample(
                        contact, None, "value_error", errors="; ".join(errors.values())
                    ),
                )
                continue
        how = new_member_opt_out(contact.blacklisted, options.optout_policy)
        if how == "skip":
            result.add("optout_skipped", _sample(contact, None, "optout_skipped"))
            continue
        status = (
            "unsubscribed"
            if how == "unsubscribed"
            else new_member_status(options.double_opt_in)
        )
        result.add(
            f"add_{status}",
            _sample(
                contact,
                None,
                "optout" if how == "unsubscribed" else "add",
                status=status,
            ),
        )


def _duplicate(result, contact, winner):
    result.add(
        "duplicate",
        _sample(contact, None, "duplicate", winner_id=winner.id, winner=winner.name),
    )


# ------------------------------------------------------------------------- internal
def _internal(result, by_id):
    for contact in by_id.values():
        if not contact.internal or not normalize_email(contact.email_normalized):
            continue
        key = "internal_in_segment" if contact.in_segment else "internal_left_out"
        result.add(key, _sample(contact, None, contact.internal))


def _sample(contact, member, reason, status=None, **args):
    if member is not None:
        status = status or member.status
    return Sample(
        contact_id=contact.id if contact else None,
        name=contact.name if contact else "",
        email=member.email if member else (contact.email or ""),
        status=status,
        reason=reason,
        args=args,
    )
