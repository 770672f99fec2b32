"""Consent rules, free of any database: the email blacklist option (F16), Odoo opt-outs
and GDPR marketing permissions.

Blacklist mirroring (opt-in per sync, off by default):

- a member whose status *becomes* unsubscribed or cleaned in Mailchimp (it was
  not one of them, or not known, before) puts its address on Odoo's email
  blacklist, with the reason;
- an opt-out mirrored this way came from Mailchimp: the sync remembers it at once,
  so the Odoo opt-out rules below never send it back to that audience;
- a member who subscribes again in Mailchimp (subscribed after unsubscribed or
  cleaned: Mailchimp only allows that with the person's own new opt-in) leaves
  the blacklist only when the admin opted into that as well.

Odoo opt-outs: a contact whose address is opted out in Odoo (on its
email blacklist) is never added to Mailchimp as subscribed or pending (it is
added as unsubscribed, or skipped, as the sync says). With the sync's option, an
opt-out *made in Odoo* unsubscribes the member: the one status Odoo ever sends,
only towards unsubscribed, only for a change (the sync remembers per member the
opt-out it last saw, so a person who subscribes again in Mailchimp is not
unsubscribed again at every run), never for a cleaned or archived member. Odoo
never re-subscribes anybody: leaving the blacklist sends nothing.

Marketing permissions: Mailchimp's member ``marketing_permissions`` are
``[{marketing_permission_id, text, enabled}]`` (one per permission of the
audience) when the audience has them; writes take
``[{marketing_permission_id, enabled}]`` and change only the ids given. They are
merged field by field like merge fields (``sync_rules.resolve_fields``), with
one rule of their own: on a first sync, "not enabled" is no evidence either way
(a default), so an enabled permission on one side is copied to the other and
a False never withdraws consent the person gave on the other side. After that,
any change (a withdrawal too) goes the way the sync's direction allows (two
booleans that both moved away from their base agree: they never conflict).
"""

from .sync_rules import resolve_fields

BLACKLIST_STATUSES = ("unsubscribed", "cleaned")
# the statuses an Odoo opt-out moves to unsubscribed: those Mailchimp mails, or will
# once the person confirms; never a cleaned, archived, transactional or unsubscribed one
OPT_OUT_UNSUBSCRIBES = ("subscribed", "pending")
NEW_OPT_OUT_POLICIES = ("unsubscribed", "skip")


# ---------------------------------------------------------------------- blacklist (F16)
def blacklist_action(old_status, new_status, *, mirror, unmirror=False):
    """ "add", "remove" or None for one member whose status went from ``old_status``
    (None: not known before) to ``new_status`` in Mailchimp.

    ``mirror``: the sync's opt-in; ``unmirror``: the second opt-in (leave the
    blacklist on a new subscription). Only a change counts: a member already
    known as unsubscribed is not blacklisted again by each full read (an admin
    who took it off Odoo's blacklist keeps that choice).
    """
    if (
        mirror
        and new_status in BLACKLIST_STATUSES
        and old_status not in BLACKLIST_STATUSES
    ):
        return "add"
    if (
        mirror
        and unmirror
        and old_status in BLACKLIST_STATUSES
        and new_status == "subscribed"
    ):
        return "remove"
    return None


# ------------------------------------------------------------------------ Odoo opt-outs
def optout_action(remembered, opted_out, status, *, unsubscribe):
    """What the push does about one linked member's Odoo opt-out.

    ``remembered``: the opt-out the sync last saw for the member (None: never
    seen, as False); ``opted_out``: Odoo's opt-out now; ``status``: the member's
    status as last read from Mailchimp; ``unsubscribe``: the sync's option
    "Odoo opt-outs unsubscribe in Mailchimp" (and a direction that pushes).

    Returns None (nothing changed in Odoo: nothing to do, whatever Mailchimp's
    status, so a person who subscribed again there stays subscribed),
    "unsubscribe" (send ``status: unsubscribed``, remember once done),
    "remember" (opted out now, nothing to send: the option is off, or Mailchimp
    already does not mail the member) or "forget" (no longer opted out in Odoo:
    nothing is sent, Odoo never re-subscribes).
    """
    if bool(remembered) == bool(opted_out):
        return None
    if not opted_out:
        return "forget"
    if unsubscribe and status in OPT_OUT_UNSUBSCRIBES:
        return "unsubscribe"
    return "remember"


def new_member_opt_out(opted_out, policy):
    """How a contact new to the audience goes, given its Odoo opt-out and the sync's
    ``policy`` for them: "subscribe" (not opted out: the sync's usual status),
    "unsubscribed" (added as unsubscribed, so Mailchimp suppresses the address) or
    "skip" (left out, with a reason)."""
    if not opted_out:
        return "subscribe"
    if policy not in NEW_OPT_OUT_POLICIES:
        raise ValueError(
            "policy must be one of {}, not {!r}.".format(
                ", ".join(NEW_OPT_OUT_POLICIES), policy
            )
        )
    return policy


# ---------------------------------------------------------------- marketing permissions
def member_permissions(mc_member):
    """{permission id: {"text": ..., "enabled":
    bool}} of a member as Mailchimp shows it."""
    result = {}
    for item in (mc_member or {}).get("marketing_permissions") or ():
        if not isinstance(item, dict) or not item.get("marketing_permission_id"):
            continue
        result[str(item["marketing_permission_id"])] = {
            "text": item.get("text") or "",
            "enabled": bool(item.get("enabled")),
        }
    return result


def resolve_permissions(synced, odoo_now, mailchimp_now, winner, direction):
    """Three-way merge of mapped permissions ({permission id: bool} each).

    ``synced`` is the base both sides agreed on (None or {} on a first sync; an id
    missing from it is a first sync of that permission). Returns the
    ``sync_rules.Resolution`` with booleans: ``to_mailchimp`` and ``to_odoo``
    {id: bool}, ``conflicts`` and ``new_synced`` {id: bool}. Ids Mailchimp does not
    show (an audience without that permission) are left alone.
    """
    ids = sorted(pid for pid in odoo_now if pid in mailchimp_now)
    resolution = resolve_fields(
        {pid: bool(value) for pid, value in (synced or {}).items()},
        {pid: bool(odoo_now[pid]) for pid in ids},
        {pid: bool(mailchimp_now[pid]) for pid in ids},
        winner,
        direction,
        tags=ids,
    )
    resolution.to_mailchimp = {
        pid: bool(v) for pid, v in resolution.to_mailchimp.items()
    }
    resolution.to_odoo = {pid: bool(v) for pid, v in resolution.to_odoo.items()}
    resolution.new_synced = {pid: bool(v) for pid, v in resolution.new_synced.items()}
    return resolution


def changed_permissions(synced, odoo_now):
    """{id: bool} of Odoo's mapped permissions that differ from the agreed base.

    What an update of an existing member sends: a permission never agreed on is
    sent only when enabled (see the module's first-sync rule); nothing when
    nothing changed, so an unchanged contact is not written again.
    """
    synced = synced or {}
    changed = {}
    for pid, value in odoo_now.items():
        value = bool(value)
        if pid in synced:
            if bool(synced[pid]) != value:
                changed[pid] = value
        elif value:
            changed[pid] = value
    return changed


def permissions_payload(values):
    """Mailchimp's write form: [{"marketing_permission_id",
    "enabled"}], sorted by id."""
    return [
        {"marketing_permission_id": pid, "enabled": bool(values[pid])}
        for pid in sorted(values)
    ]
