"""Tags that follow Odoo domains (F13), planned without a database.

A Mailchimp tag is a static segment of the audience. Odoo keeps, per tag rule,
the members it has put in that segment; each run compares them (in SQL) with the
members the rule's domain selects now and sends only the difference, in bulk:
``POST /lists/{id}/segments/{segment_id}`` with ``members_to_add`` and
``members_to_remove`` (at most 500 emails each per call: Mailchimp's limit).

Tag names are case-insensitive in Mailchimp ("Customers" and "customers" are
one tag), so names are compared folded.
"""

SEGMENT_BULK_MAX = 500  # emails per members_to_add / members_to_remove list

# what Mailchimp says about an address it did not add because it already carries the tag
_ALREADY_IN = "already exist in this segment"


def tag_key(name):
    """The form under which two tag names are the same tag (case-insensitive)."""
    return " ".join((name or "").split()).casefold()


def find_tag(segments, name):
    """The static segment (tag) of ``segments``
    named ``name``, ignoring case, or None."""
    key = tag_key(name)
    for segment in segments:
        if (
            segment.get("type", "static") == "static"
            and tag_key(segment.get("name")) == key
        ):
            return segment
    return None


def bulk_bodies(to_add, to_remove, size=SEGMENT_BULK_MAX):
    """Request bodies carrying every email once, at most ``size`` adds and ``size``
    removes each: one call for up to 500 additions and 500 removals."""
    to_add, to_remove = list(to_add), list(to_remove)
    bodies = []
    for start in range(0, max(len(to_add), len(to_remove)), size):
        body = {}
        if to_add[start : start + size]:
            body["members_to_add"] = to_add[start : start + size]
        if to_remove[start : start + size]:
            body["members_to_remove"] = to_remove[start : start + size]
        bodies.append(body)
    return bodies


def bulk_outcome(body, response):
    """What a bulk call did: (added, removed, {email: reason} refused).

    Mailchimp answers 200 with ``errors: [{email_addresses, error}]`` for the
    addresses it did not change. An address already in the segment counts as
    added, one already out of it as removed: the tag is as Odoo wants it. An
    address it refused to add (e.g. not in the audience) is refused; one it
    could not remove for another reason is out of the segment all the same
    (it is no member there), so it counts as removed.
    """
    sent_add = [email.lower() for email in body.get("members_to_add", [])]
    sent_remove = [email.lower() for email in body.get("members_to_remove", [])]
    problems = {}
    for error in (response or {}).get("errors") or []:
        reason = error.get("error") or "?"
        for email in error.get("email_addresses") or []:
            problems[email.lower()] = reason
    added, refused = [], {}
    for email in sent_add:
        reason = problems.get(email)
        if reason is None or _ALREADY_IN in reason:
            added.append(email)
        else:
            refused[email] = reason
    removed = list(sent_remove)
    return added, removed, refused
