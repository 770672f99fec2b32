# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from markupsafe import Markup

from odoo import models


class BasePartnerMergeAutomaticWizard(models.TransientModel):
    """Odoo's Merge of contacts, keeping one Mailchimp member per audience on the
    surviving contact. Nothing is sent to Mailchimp: no member is deleted there
    and none is added."""

    _inherit = "base.partner.merge.automatic.wizard"

    def _update_foreign_keys(self, src_partners, dst_partner):
        """The members first: Odoo then re-points every reference in SQL, and
        where one breaks a unique key (both contacts linked in one sync) it
        deletes all of the merged contacts' rows of that table."""
        self._mailchimp_merge_members(src_partners, dst_partner)
        return super()._update_foreign_keys(src_partners, dst_partner)

    def _mailchimp_merge_members(self, src_partners, dst_partner):
        """Move the merged contacts' members to the survivor, except in an
        audience where it already has one (or a contact forgotten in Mailchimp):
        those are unlinked and reported in the survivor's chatter. Their consents
        follow their member; the email activity moves with the other references."""
        partners = (src_partners | dst_partner).sudo()
        forgotten = any(partners.mapped("mailchimp_forgotten"))
        if forgotten and not dst_partner.sudo().mailchimp_forgotten:
            first = partners.filtered("mailchimp_forgotten").sorted(
                "mailchimp_forgotten_date"
            )[:1]
            dst_partner.sudo().write(
                {
                    "mailchimp_forgotten": True,
                    "mailchimp_forgotten_date": first.mailchimp_forgotten_date,
                }
            )
        members = (
            self.env["mailchimp.member"]
            .sudo()
            .search([("partner_id", "in", partners.ids)], order="id")
        )
        kept = members.filtered(lambda m: m.partner_id == dst_partner)
        pairings = set(kept.pairing_id.ids)
        audiences = {}
        for member in kept:
            audiences.setdefault(member.audience_id.id, set()).add(
                member.subscriber_hash
            )
        moved, unlinked = [], members.browse()
        for member in members - kept:
            same_audience = audiences.get(member.audience_id.id)
            if (
                forgotten
                or member.pairing_id.id in pairings
                or (same_audience and member.subscriber_hash not in same_audience)
            ):
                unlinked |= member
                continue
            moved.append(member.id)
            pairings.add(member.pairing_id.id)
            audiences.setdefault(member.audience_id.id, set()).add(
                member.subscriber_hash
            )
        unlinked.write({"partner_id": False})
        members.browse(moved).write({"partner_id": dst_partner.id})
        if unlinked:
            lines = Markup("").join(
                Markup("<li>%s</li>")
                % self.env._(
                    "%(email)s in the audience %(audience)s (sync %(sync)s)",
                    email=member.email,
                    audience=member.audience_id.name,
                    sync=member.pairing_id.name,
                )
                for member in unlinked
            )
            intro = self.env._(
                "Merged contacts: these Mailchimp members of the merged contacts were "
                "unlinked, as this contact keeps its own member in their audience (or "
                "is forgotten in Mailchimp). They are left in Mailchimp as they are."
            )
            dst_partner._message_log(
                body=Markup("<p>%s</p><ul>%s</ul>") % (intro, lines)
            )
