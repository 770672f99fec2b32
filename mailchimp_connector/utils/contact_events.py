"""Contact events and tags sent from Automation Rules, planned without a database.

A custom member event is ``POST /lists/{id}/members/{hash}/events`` with
``{name, properties, occurred_at, is_syncing}``: the spec says the name "must be
2-30 characters in length" and types ``properties`` as an object of strings.
The connector accepts only letters, digits, ``_`` and ``-`` in a name (its own
rule, stricter than the spec: a name typed in Odoo is then exactly the one a
Customer Journey's trigger is set up with, without spaces or case surprises).

Mailchimp does not deduplicate events, so a send whose outcome is unknown (a
crash, a timeout) is checked before it is sent again: each event carries the
moment it happened in Odoo (``occurred_at``), and the member's events listed by
``GET .../events`` that have the same name, second and properties are the ones
already sent (``already_sent``).
"""

import re
from collections import Counter, defaultdict
from datetime import datetime, timezone

from . import mailchimp_errors
from .mailchimp_client import OUTCOME_UNKNOWN_STATUSES

EVENT_NAME_MIN, EVENT_NAME_MAX = 2, 30  # the spec's bounds
_EVENT_NAME = re.compile(r"[A-Za-z0-9_-]+")
_PROPERTY_KEY = re.compile(r"[A-Za-z0-9_]+")
UTC = timezone.utc
_FIELD_PATH = re.compile(r"[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*")

DIRECT_MAX = 5  # events sent one call each up to this many; beyond, one /batches job
MAX_ATTEMPTS = 8  # temporary failures before an event is given up as failed
FIRST_RETRY_SECONDS = 60
MAX_RETRY_SECONDS = 3600


def valid_event_name(name):
    """Whether ``name`` is 2-30 letters, digits, ``_`` or ``-``."""
    return bool(
        isinstance(name, str)
        and EVENT_NAME_MIN <= len(name) <= EVENT_NAME_MAX
        and _EVENT_NAME.fullmatch(name)
    )


def parse_property_map(text):
    """``property=field`` lines -> [(property, field path)].

    Blank lines and ``#`` comments are skipped; the field path may follow
    relations (``partner_id.country_id.code``). Raises ValueError(line number)
    on a line that is not ``name=path``, and on a property given twice.
    """
    pairs, seen = [], set()
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, path = (part.strip() for part in line.partition("="))
        if (
            not sep
            or not _PROPERTY_KEY.fullmatch(key)
            or not _FIELD_PATH.fullmatch(path)
            or key in seen
        ):
            raise ValueError(number)
        seen.add(key)
        pairs.append((key, path))
    return pairs


def property_text(value, ttype=None):
    """A record's value as the string Mailchimp wants (properties are strings).

    ``ttype``: the Odoo field type. Relations arrive as their display names (a
    list), empty values as ``""`` (a boolean field's False as ``"false"``).
    """
    if ttype == "boolean" or (ttype is None and isinstance(value, bool)):
        return "true" if value else "false"
    if value is None or value is False:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(property_text(item) for item in value if item)
    if isinstance(value, datetime):
        return mailchimp_time(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def mailchimp_time(moment):
    """A naive UTC datetime (as Odoo stores them) -> ISO 8601 to the second."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def parse_mailchimp_time(text):
    """ISO 8601 from Mailchimp -> aware UTC datetime to the second (None if bad)."""
    if not text:
        return None
    value = str(text).strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def event_body(name, properties, occurred_at):
    """The request body of one event; ``is_syncing`` False so journeys start."""
    return {
        "name": name,
        "properties": {key: str(value) for key, value in (properties or {}).items()},
        "occurred_at": mailchimp_time(occurred_at),
        "is_syncing": False,
    }


def _identity(name, properties, moment):
    return (name, moment, tuple(sorted((properties or {}).items())))


def already_sent(pending, events):
    """The pending events Mailchimp already has.

    ``pending``: [(row id, name, properties, occurred_at naive UTC)] of one member;
    ``events``: that member's events as ``GET .../events`` lists them. An event
    counts as sent when one listed has the same name, second and properties,
    each listed event standing for one pending row at most.
    """
    found = Counter(
        _identity(
            event.get("name"),
            event.get("properties"),
            parse_mailchimp_time(event.get("occurred_at")),
        )
        for event in events or []
    )
    sent = set()
    for row_id, name, properties, occurred_at in pending:
        key = _identity(
            name, properties, parse_mailchimp_time(mailchimp_time(occurred_at))
        )
        if found[key] > 0:
            found[key] -= 1
            sent.add(row_id)
    return sent


def tag_changes(rows):
    """One tag of one audience: the latest wish per address wins.

    ``rows``: [(row id, email, kind "tag_add"/"tag_remove", order)] in any order.
    Returns ({email: [row ids]} to add, {email: [row ids]} to remove,
    [row ids] superseded by a later opposite wish for the same address).
    """
    by_email = defaultdict(list)
    for row_id, email, kind, order in rows:
        by_email[email.lower()].append((order, row_id, kind))
    to_add, to_remove, superseded = {}, {}, []
    for email, wishes in by_email.items():
        wishes.sort()
        last_kind = wishes[-1][2]
        target = to_add if last_kind == "tag_add" else to_remove
        for _order, row_id, kind in wishes:
            if kind == last_kind:
                target.setdefault(email, []).append(row_id)
            else:
                superseded.append(row_id)
    return to_add, to_remove, superseded


def retry_delay(attempts):
    """Seconds before the next try after ``attempts`` temporary failures:
    doubling from a minute, at most an hour."""
    return min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS)


def idempotency_key(res_model, res_id, action_id, kind, name):
    """One record, one action, one event (or tag): queued once."""
    return f"{res_model}:{res_id}:{action_id}:{kind}:{name}"


def error_outcome(error):
    """What a failed call says of the events it carried: "unknown" (the request
    may have reached Mailchimp: a timeout, a dropped connection, a 502/504),
    "temporary" (not taken, try later: throttling, a server error, the account's
    key) or "refused" (Mailchimp said no: not a member, invalid)."""
    if isinstance(error, mailchimp_errors.MailchimpNetworkError):
        return "unknown"
    if (
        isinstance(error, mailchimp_errors.MailchimpServerError)
        and error.status in OUTCOME_UNKNOWN_STATUSES
    ):
        return "unknown"
    if error.transient or isinstance(error, mailchimp_errors.MailchimpAuthError):
        return "temporary"
    return "refused"
