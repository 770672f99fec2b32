"""What adding a selection of contacts to a sync would do, told before anything is
sent ("Add to Mailchimp…"): the sync's own rules, free of any database.

- invalid: no email, or one that is not an address (``merge_values.normalize_email``,
  the sync's match key);
- duplicates: contacts whose address another contact of the selection (or a
  contact already linked) carries: one deterministic winner per address, as the
  sync picks it (``sync_rules.pick_winners``);
- already members: the address (or the contact) is already a member of the
  audience as Odoo knows it;
- opted out: on Odoo's email blacklist, new to the audience: added as
  unsubscribed or skipped, as the sync's option says (``consent.new_member_opt_out``);
- forgotten: erased from Mailchimp at the person's request (GDPR): never sent;
- new: the rest, added with the sync's usual status.
"""

from dataclasses import dataclass

from .consent import new_member_opt_out
from .sync_rules import pick_winners


@dataclass(frozen=True)
class Contact:
    """One selected contact: its id, its email as typed, whether its address is
    on Odoo's email blacklist, whether it was forgotten in Mailchimp."""

    id: int
    email: object
    blacklisted: bool = False
    forgotten: bool = False


@dataclass
class Preview:
    new: int = 0
    members: int = 0
    opted_out: int = 0
    invalid: int = 0
    duplicates: int = 0
    forgotten: int = 0
    # what the opted-out ones become: "unsubscribed" (added as such) or "skip"
    opted_out_action: str = "unsubscribed"

    @property
    def to_send(self):
        """Contacts the sync would send as new members (opted-out ones included
        when the sync adds them as unsubscribed)."""
        return self.new + (self.opted_out if self.opted_out_action != "skip" else 0)


def preview(contacts, member_emails=(), member_ids=(), optout_policy="unsubscribed"):
    """The counts for ``contacts`` (``Contact`` items).

    ``member_emails``: normalized addresses already members of the audience;
    ``member_ids``: contact ids already linked to one of its members;
    ``optout_policy``: the sync's rule for opted-out contacts new to the audience
    ("unsubscribed" or "skip").
    """
    member_emails, member_ids = set(member_emails), set(member_ids)
    result = Preview(opted_out_action=new_member_opt_out(True, optout_policy))
    by_id = {}
    for contact in contacts:
        by_id.setdefault(contact.id, contact)
    result.forgotten = sum(contact.forgotten for contact in by_id.values())
    by_id = {key: contact for key, contact in by_id.items() if not contact.forgotten}
    winners, skipped = pick_winners(
        [
            {
                "id": contact.id,
                "email": contact.email,
                "linked": contact.id in member_ids,
            }
            for contact in by_id.values()
        ]
    )
    for _contact, reason in skipped:
        if reason.startswith("duplicate"):
            result.duplicates += 1
        else:
            result.invalid += 1
    for email, winner in winners.items():
        contact = by_id[winner["id"]]
        if email in member_emails or contact.id in member_ids:
            result.members += 1
        elif contact.blacklisted:
            result.opted_out += 1
        else:
            result.new += 1
    return result
