# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The plain data a run passes between its parts: what a pull page writes, what a
push chunk sends, and what a run tells the sync when it ends. Records are Odoo
recordsets; everything else is plain Python."""

from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any


class MemberValues(dict):
    """The merge values planned for one contact of the push: Mailchimp's base once
    Mailchimp took them (for a new member: the values to send), with ``odoo``,
    Odoo's values as the push saw them (Odoo's base once sent), and ``maps``, to
    read what Mailchimp answers. Plain dicts (updates that send no merge value)
    leave Odoo's base as it is."""

    def __init__(self, values, odoo, maps):
        super().__init__(values)
        self.odoo = odoo
        self.maps = maps


# ----------------------------------------------------------------------
# Pull
# ----------------------------------------------------------------------


@dataclass
class PulledMember:
    """A member of a pull page merged with its contact, to be written."""

    member: Any  # mailchimp.member, or None for a new link
    vals: dict  # the member's values to write
    partner: Any  # res.partner
    pulled: set  # tags whose Mailchimp value was written to the contact
    odoo_before: dict  # Odoo's values before the page
    pending: dict  # tags Odoo must still send


@dataclass
class PageWork:
    """What a pull page collects while its members are merged, written in bulk."""

    to_create: list = field(default_factory=list)  # NewContact
    member_vals: list = field(default_factory=list)  # members to create
    written: list = field(default_factory=list)  # PulledMember
    failures: list = field(default_factory=list)  # (partner id, email, reason)
    # Odoo values of merged contacts that Mailchimp cannot take
    unsendable: list = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    # member id: the status Odoo knew before the page (consent: blacklist option)
    previous_status: dict = field(default_factory=dict)
    # addresses of contacts forgotten in Mailchimp: never linked nor created
    forgotten: set = field(default_factory=set)
    unlinkable: list = field(default_factory=list)  # (False, email, reason) skipped


@dataclass
class NewContact:
    """A member no contact matched: a contact is created for it (F8)."""

    member: dict  # the member as Mailchimp shows it
    values: dict  # its merge values, normalized
    common: dict  # the member's values as Mailchimp shows them


# ----------------------------------------------------------------------
# Push
# ----------------------------------------------------------------------


@dataclass
class NewMember:
    """A contact of the chunk new to the audience."""

    partner: Any
    values: MemberValues


@dataclass
class MemberUpdate:
    """A linked member of the chunk that gets a PATCH."""

    partner: Any
    member: Any
    values: dict  # MemberValues, or Mailchimp's base when no merge value is sent
    changed: dict  # {tag: value} to send
    renamed: bool  # the email changed in Odoo (F18)


@dataclass
class Winners:
    """Which contact of an email the push sends (F9)."""

    by_email: dict = field(default_factory=dict)  # email: winning partner id
    reasons: dict = field(default_factory=dict)  # losing partner id: reason


@dataclass
class OptOutPlan:
    """A chunk's Odoo opt-outs (consent hooks)."""

    new: set = field(default_factory=set)  # new partner ids: added as unsubscribed
    unsubscribe: set = field(default_factory=set)  # member ids sent "unsubscribed"
    # member ids whose opt-out to remember (True) or forget (False)
    flags: dict = field(default_factory=lambda: {True: [], False: []})
    keep_push: list = field(default_factory=list)  # member ids with values still due


@dataclass
class PushPlan:
    """One chunk of the push, prepared before it is sent."""

    partners: Any  # res.partner of the chunk, by id
    members: dict = field(default_factory=dict)  # partner id: its linked member
    new_items: list = field(default_factory=list)  # NewMember
    updates: list = field(default_factory=list)  # MemberUpdate
    unchanged_ids: list = field(default_factory=list)  # members with nothing new
    rebased: dict = field(default_factory=dict)  # member id: Odoo's base, unsent
    failures: list = field(default_factory=list)  # (partner id, email, reason)
    skipped: list = field(default_factory=list)  # (partner id, email, reason)
    # member id: (changed GDPR permissions, base once sent)
    permissions: dict = field(default_factory=dict)
    interests: dict = field(default_factory=dict)  # partner id: interests to send
    interests_wanted: dict = field(default_factory=dict)  # partner id: Odoo's now
    optouts: OptOutPlan = field(default_factory=OptOutPlan)
    # the sending
    subscribed: Future | None = None  # the new members' sending under way
    upserted: bool = False  # the new members went as a /batches job of upserts
    reuse: dict = field(default_factory=dict)  # a left-over job's answers
    deadline: float | None = None

    def send_alone(self, partner, member):
        """A linked member with no merge value to send gets a PATCH all the same
        (an interest, a permission or an opt-out)."""
        update = MemberUpdate(partner, member, member.synced_values or {}, {}, False)
        self.updates.append(update)
        return update


# ----------------------------------------------------------------------
# The run's end
# ----------------------------------------------------------------------


@dataclass
class RunResult:
    """What the sync must do once a run has stopped: ``finished`` False when the
    deadline (or a /batches job) came first; ``broken_reason`` when the audience
    is gone; ``auth_error`` when Mailchimp rejected the account's key."""

    finished: bool = True
    broken_reason: str | None = None
    auth_error: str | None = None
