"""Decisions the sync makes, kept free of any database so each rule is tested alone.

- ``pick_winners``: one Odoo contact per email (F9), the others reported.
- ``resolve_fields`` / ``push_changes``: field-by-field three-way merge with
  the pairing's conflict rule and direction (F6, F10), each side compared with
  its own base so that what Odoo cannot hold exactly is never sent back.
- ``status_to_send`` / ``can_rename``: what may be said about a member's
  status and email without resubscribing anyone (F16, F18).
- ``creation_refused``: whether a member no contact matched becomes a contact (F8).
- ``first_second_to_read``: where the next incremental pull starts (F15, F31).
"""

import datetime as dt
import math
from dataclasses import dataclass, field

from .merge_values import canonical, is_empty, normalize_email

WINNERS = ("odoo", "mailchimp")
DIRECTIONS = ("odoo2mailchimp", "mailchimp2odoo", "both")
MEMBER_STATUSES = (
    "subscribed",
    "unsubscribed",
    "cleaned",
    "pending",
    "transactional",
    "archived",
)


# ---------------------------------------------------------------------- duplicates (F9)
def _create_key(contact):
    """Oldest first; a missing create_date sorts after every known one."""
    value = contact.get("create_date")
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.strip())
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        # Odoo stores naive UTC
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return (value is None, value or dt.datetime.min)


def _rank(contact):
    return (not contact.get("linked"), _create_key(contact), contact["id"])


def pick_winners(contacts):
    """One deterministic contact per normalised email, whatever the input order.

    The winner is the one already linked to the audience member (so the link
    never jumps), else the oldest, else the lowest id. Returns ``(winners,
    skipped)``: ``{email: contact}`` and ``[(contact, reason)]``, both sorted
    so two runs over the same data report the same thing.
    """
    groups, skipped = {}, []
    for contact in contacts:
        raw = contact.get("email")
        if is_empty(raw) or not str(raw).strip():
            skipped.append((contact, "no email address"))
            continue
        email = normalize_email(raw)
        if email is None:
            skipped.append((contact, "invalid email address"))
            continue
        groups.setdefault(email, []).append(contact)
    winners = {}
    for email in sorted(groups):
        ranked = sorted(groups[email], key=_rank)
        winner = winners[email] = ranked[0]
        for loser in ranked[1:]:
            skipped.append(
                (
                    loser,
                    "duplicate email: contact #{} is synced for it".format(
                        winner["id"]
                    ),
                )
            )
    skipped.sort(key=lambda item: item[0]["id"])
    return winners, skipped


# ---------------------------------------------------------------- three-way merge (F10)
@dataclass
class Resolution:
    """What to write on each side for one contact, and the bases to store afterwards.

    Values are in Mailchimp's form (convert Odoo values with to_mailchimp and
    Mailchimp's with normalize_mailchimp before resolving; convert ``to_odoo``
    values with from_mailchimp). Store the bases only once the writes
    succeeded, so a failed push is retried by the next run: ``new_synced`` is
    Mailchimp's value as the sync last read or wrote it, ``new_odoo_synced``
    Odoo's value as the sync last saw it (for a tag in ``to_odoo`` it holds
    Mailchimp's value until the caller replaces it with what Odoo shows once
    written, which may differ: a name split, a state Odoo lacks). With one
    shared base (``odoo_synced=None``) ``new_odoo_synced`` stays empty.
    ``first_sync_conflicts``: the tags of ``conflicts`` a side had no base for
    (a first sync): two values that differ, settled by the rule, but no change
    on both sides since a last sync.
    """

    to_mailchimp: dict = field(default_factory=dict)
    to_odoo: dict = field(default_factory=dict)
    conflicts: list = field(default_factory=list)
    new_synced: dict = field(default_factory=dict)
    new_odoo_synced: dict = field(default_factory=dict)
    first_sync_conflicts: list = field(default_factory=list)

    @property
    def changed(self):
        return bool(self.to_mailchimp or self.to_odoo)


def _changed(value, tag, base):
    """Whether a side's value (canonical) moved from its base; a tag without a base is
    a first sync, where a side with a value counts as changed."""
    if tag in base:
        return value != canonical(base[tag])
    return value != ""


def combine(odoo_value, odoo_base, mailchimp_value):
    """The value Mailchimp gets for a value Odoo changed.

    Plain values are Odoo's. For a composite value (a dict: the address) only
    the parts Odoo changed since its base are Odoo's; the others keep what
    Mailchimp has, so a part Odoo cannot hold (a state it lacks, a state it
    writes otherwise) is never replaced by Odoo's empty or different copy. An
    Odoo value that became empty as a whole is empty.
    """
    if not isinstance(odoo_value, dict):
        return odoo_value
    odoo_base = odoo_base if isinstance(odoo_base, dict) else {}
    mailchimp_value = mailchimp_value if isinstance(mailchimp_value, dict) else {}
    return {
        key: part
        if canonical(part) != canonical(odoo_base.get(key))
        else mailchimp_value.get(key, part)
        for key, part in odoo_value.items()
    }


def legacy_odoo_base(synced, odoo_now):
    """Odoo's base for a member synced before Odoo's own base was kept.

    Both sides were taken to agree on ``synced`` then, except where Odoo could
    not hold Mailchimp's value: an empty Odoo value (or part of an address)
    where ``synced`` has one cannot be told from a value Odoo never kept, so it
    does not count as a change (an empty value is never sent over Mailchimp's
    on a guess).
    """
    base = {}
    for tag, value in (synced or {}).items():
        value = canonical(value)
        if tag in odoo_now:
            now = canonical(odoo_now[tag])
            if now == "":
                value = ""
            elif isinstance(now, dict) and isinstance(value, dict):
                value = {
                    key: "" if part == "" else value.get(key, "")
                    for key, part in now.items()
                }
        base[tag] = value
    return base


def resolve_fields(
    synced,
    odoo_now,
    mailchimp_now,
    winner,
    direction,
    *,
    push_only=(),
    tags=None,
    odoo_synced=None,
):
    """Decide, tag by tag, what to push, what to pull and which tags were in conflict.

    ``synced`` holds Mailchimp's values as the sync last read or wrote them and
    ``odoo_synced`` Odoo's as it last saw them ({} or None on a first sync; a
    tag missing from one is a first sync of that side's tag, e.g. a mapping
    added later). With ``odoo_synced`` None both sides share ``synced`` as their
    base (values both sides hold exactly, like the booleans of marketing
    permissions). Each side counts as changed only against its own base: two
    values that differ only because Odoo cannot hold Mailchimp's exactly ('da
    Silva' kept in a name split another way, a state Odoo lacks) are not a
    change, so nothing moves. A change on one side goes to the other, a change
    on both to different values is a conflict the ``winner`` ("odoo" or
    "mailchimp") takes; a composite value sent keeps Mailchimp's parts where
    Odoo's did not change (``combine``). A first sync with two different values
    is a conflict too; an empty side is filled by the other.
    ``direction`` blocks pushes (mailchimp2odoo) or pulls (odoo2mailchimp);
    ``push_only`` names tags whose mapping cannot be pulled (see check_mapping).
    Tags default to those of ``odoo_now`` and ``mailchimp_now``: pass mapped tags only.
    """
    _check_choice("winner", winner, WINNERS)
    _check_choice("direction", direction, DIRECTIONS)
    resolver = _TagResolver(odoo_now, mailchimp_now, synced or {}, odoo_synced)
    resolver.set_rules(winner, direction, push_only)
    if tags is None:
        tags = sorted(set(odoo_now) | set(mailchimp_now))
    for tag in tags:
        resolver.resolve(tag)
    return resolver.result


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            "{} must be one of {}, not {!r}.".format(name, ", ".join(choices), value)
        )


class _TagResolver:
    """One ``resolve_fields`` call: the bases and rules each tag is decided by."""

    def __init__(self, odoo_now, mailchimp_now, synced, odoo_synced):
        self.odoo_now = odoo_now
        self.mailchimp_now = mailchimp_now
        self.synced = synced
        self.shared = odoo_synced is None
        self.odoo_base = synced if self.shared else odoo_synced
        self.result = Resolution()
        self.set_rules("odoo", "both", ())

    def set_rules(self, winner, direction, push_only):
        """The pairing's conflict rule, direction and tags that cannot be pulled."""
        self.winner = winner
        self.can_push = direction != "mailchimp2odoo"
        self.can_pull = direction != "odoo2mailchimp"
        self.push_only = set(push_only)

    def resolve(self, tag):
        odoo_value = canonical(self.odoo_now.get(tag))
        mc_value = canonical(self.mailchimp_now.get(tag))
        if odoo_value == mc_value:
            self._keep(tag, mc_value, odoo_value)
            return
        if self.shared and tag not in self.synced:  # first sync of this tag for both
            odoo_changed, mc_changed = odoo_value != "", mc_value != ""
        else:
            odoo_changed = _changed(odoo_value, tag, self.odoo_base)
            mc_changed = _changed(mc_value, tag, self.synced)
        if not odoo_changed and not mc_changed:
            # each side as it was: Odoo's form of Mailchimp's value, not a change
            self._keep(tag, mc_value, odoo_value)
            return
        if odoo_changed and mc_changed:
            self.result.conflicts.append(tag)
            if tag not in self.synced or tag not in self.odoo_base:
                self.result.first_sync_conflicts.append(tag)
            source = self.winner
        else:
            source = "odoo" if odoo_changed else "mailchimp"
        self._move(tag, source, odoo_value, mc_value)

    def _move(self, tag, source, odoo_value, mc_value):
        """Send the source side's value across, if the direction lets it.

        When a value may not move, each side's base becomes its own value, so the
        same difference is not reported again on every run; a later change on
        either side moves again. (With one shared base, the base is the value of
        the side that would have received it: a later change there is a conflict
        again.)
        """
        result = self.result
        if source == "odoo" and self.can_push:
            sent = combine(
                self.odoo_now.get(tag),
                self.odoo_base.get(tag),
                self.mailchimp_now.get(tag),
            )
            result.to_mailchimp[tag] = _out(sent)
            self._keep(tag, odoo_value if self.shared else canonical(sent), odoo_value)
        elif source == "mailchimp" and self.can_pull and tag not in self.push_only:
            result.to_odoo[tag] = _out(self.mailchimp_now.get(tag))
            self._keep(tag, mc_value, mc_value)
        elif self.shared:
            result.new_synced[tag] = mc_value if source == "odoo" else odoo_value
        else:
            self._keep(tag, mc_value, odoo_value)

    def _keep(self, tag, synced_value, odoo_value):
        """Store the new bases: Odoo's own only when the sides have one each."""
        self.result.new_synced[tag] = synced_value
        if not self.shared:
            self.result.new_odoo_synced[tag] = odoo_value


def push_changes(odoo_now, odoo_synced, synced, *, tags=None):
    """{tag: value to send} for the values Odoo changed since its own base (the push).

    ``odoo_synced`` None means the shared base ``synced``. Composite values
    keep Mailchimp's parts (``synced``) where Odoo's did not change. Whether
    Mailchimp can take a value, or already has it, is ``value_to_send``'s call.
    """
    synced = synced or {}
    odoo_base = synced if odoo_synced is None else odoo_synced
    changes = {}
    for tag in odoo_now if tags is None else tags:
        value = canonical(odoo_now.get(tag))
        if _changed(value, tag, odoo_base):
            changes[tag] = _out(
                combine(odoo_now.get(tag), odoo_base.get(tag), synced.get(tag))
            )
    return changes


def _out(value):
    return "" if is_empty(value) and not isinstance(value, list | tuple) else value


# ---------------------------------------------------------- status and email (F16, F18)
def new_member_status(double_opt_in, opted_out=False):
    """The status a new address gets: "pending" makes Mailchimp send the opt-in email.

    An address opted out in Odoo (its email blacklist) is never subscribed nor
    asked to confirm: it goes in as "unsubscribed", which Mailchimp keeps as a
    suppressed address.
    """
    if opted_out:
        return "unsubscribed"
    return "pending" if double_opt_in else "subscribed"


def status_to_send(member_known_status, double_opt_in):
    """The status to write for a member, or None: never one for an existing member.

    Mailchimp's status is the truth for anyone it knows: sending "subscribed" for
    an unsubscribed or cleaned member would resubscribe them or fail with "Member
    In Compliance State". So:
    - PUT upserts send ``status_if_new = new_member_status(double_opt_in)``
      (PUT requires it; Mailchimp applies it only to new addresses) and
      never ``status``;
    - batch-subscribe items carry ``status`` only when this returns one.
    ``member_known_status`` is the status last read from Mailchimp, or None
    when the address is not (known to be) in the audience.
    """
    if member_known_status:
        return None
    return new_member_status(double_opt_in)


# the statuses of members who opted out or whose address bounced: a sync creates
# contacts for them only when its options say so (F8)
OPTED_OUT_STATUSES = ("unsubscribed", "cleaned")


def creation_refused(
    status, direction, create_missing, create_unsubscribed=True, create_cleaned=True
):
    """Why the pull creates no contact for a member that no contact matched, or None
    when it creates one (F8): "off" (the sync does not create contacts, or only
    sends to Mailchimp), "archived" (deleted in Mailchimp), "unsubscribed" or
    "cleaned" (the sync's options leave out these members; a contact that has
    their address is still linked to them).
    """
    _check_choice("direction", direction, DIRECTIONS)
    if not create_missing or direction == "odoo2mailchimp":
        return "off"
    if status == "archived":
        return "archived"
    if status == "unsubscribed" and not create_unsubscribed:
        return "unsubscribed"
    if status == "cleaned" and not create_cleaned:
        return "cleaned"
    return None


def push_blocked_reason(member_known_status):
    """Why a member must not be written at all, or None.

    An archived member is re-added by a PUT (with status_if_new) or by a batch
    subscribe: writing it would undo the archive made in Mailchimp, so the
    sync leaves it alone and reports it.
    """
    if member_known_status == "archived":
        return (
            "archived in Mailchimp: the sync does not add it back, as that would "
            "subscribe it again; restore it in Mailchimp to sync it"
        )
    return None


def can_rename(status):
    """Whether Mailchimp lets the member's email change (subscribed members only).

    Otherwise Mailchimp answers "You can only update email addresses for
    members with a status of subscribed". Do not PUT the new address (that
    creates a second member, F18): keep the contact linked to the old
    member, record a failed record with ``rename_blocked_reason`` and let a
    person change the address in Mailchimp. A change of letter case only
    keeps the same member hash and is always allowed.
    """
    return status == "subscribed"


def rename_blocked_reason(status):
    """The failed-record reason for an email change Mailchimp will not take, or None."""
    if can_rename(status):
        return None
    return (
        "the email address changed in Odoo but Mailchimp only changes it for "
        "subscribed members and this member is %s; change it in Mailchimp by hand"
        % (status or "not in the audience")
    )


# ---------------------------------------------------------------------- watermark (F15)
def _parse_timestamp(value):
    """ISO-8601 (any offset, 'Z' or none = UTC)
    -> aware UTC datetime, None when empty."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        moment = value
    else:
        # Python 3.10 (supported by Odoo 18) does not read a "Z" suffix itself
        moment = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def _format_timestamp(moment):
    return moment.isoformat(
        timespec="microseconds" if moment.microsecond else "seconds"
    )


def mark_second(value):
    """A stored mark or a Mailchimp timestamp -> whole epoch seconds (rounded down),
    None when empty. An unreadable value raises ValueError: a stored mark must never
    be silently reset. Whole seconds are returned as they are."""
    if isinstance(value, int):
        return value
    moment = _parse_timestamp(value)
    return None if moment is None else math.floor(moment.timestamp())


def mark_text(second):
    """Whole epoch seconds as stored and as Mailchimp writes times (UTC, "+00:00")."""
    if second is None:
        return None
    return _format_timestamp(dt.datetime.fromtimestamp(second, dt.timezone.utc))


def first_second_to_read(
    mark, highest_read, read_started, margin_seconds, complete=True
):
    """Where the next member walk starts: the first second it must read (or None).

    ``mark`` is where this walk started (None: from the beginning),
    ``highest_read`` the newest second it read, ``read_started`` when Mailchimp
    answered its first page (its own clock), ``complete`` whether it reached the
    end of the listing.

    A change is listed at the latest ``margin_seconds`` after its second ended
    (clock differences between Mailchimp's servers), so every second before
    ``read_started - margin`` was settled when the walk began: its members could
    only leave it (a member that changes gets a new time), and the walk, which
    checks each page against the previous one, read all of them. A later second
    may still receive changes, and where Mailchimp puts one inside its second is
    not documented (by change time, or by id: then possibly before the walk's
    position), so the next walk reads it again. Hence: a complete walk is followed
    from that settled limit; an incomplete one (cut off, or a listing that served
    fewer members than it counted) from the newest second it read, or that limit
    if earlier. Never before ``mark``; without a time from Mailchimp, from the
    newest second read (the one that may be partly read).
    """
    if read_started is None:
        known = [second for second in (mark, highest_read) if second is not None]
        return max(known) if known else None
    started = _parse_timestamp(read_started).timestamp()
    settled = math.floor(started - max(0.0, float(margin_seconds)))
    if not complete:
        if highest_read is None:
            return mark
        settled = min(settled, highest_read)
    return settled if mark is None else max(mark, settled)


def to_odoo_datetime(value):
    """A Mailchimp timestamp (ISO 8601 with offset)
    -> naive UTC, as Odoo stores it; False if none."""
    moment = _parse_timestamp(value) if value else None
    if moment is None:
        return False
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
