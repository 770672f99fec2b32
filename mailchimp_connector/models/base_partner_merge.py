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
        self._mailchimp_drop_summaries(src_partners)
        res = super()._update_foreign_keys(src_partners, dst_partner)
        self._mailchimp_summarize(dst_partner)
        return res

    def _mailchimp_drop_summaries(self, src_partners):
        """The merged contacts' activity lines (one per campaign) go: their events
        move to the survivor, whose lines are computed again from all of them
        (two lines for one campaign, or a summary clash, otherwise)."""
        summaries = (
            self.env["mailchimp.activity.summary"]
            .sudo()
            .search([("partner_id", "in", src_partners.ids)])
        )
        messages = summaries.message_id
        summaries.unlink()
        messages.unlink()

    def _mailchimp_summarize(self, dst_partner):
        """The survivor's one line per campaign, from all its events now."""
        Activity = self.env["mailchimp.activity"].sudo()
        Activity.flush_model()
        groups = Activity._read_group(
            [("partner_id", "=", dst_partner.id)], ["campaign_id"]
        )
        Summary = self.env["mailchimp.activity.summary"].sudo()
        for (campaign,) in groups:
            if not Activity._line_per_event(campaign):
                Summary._refresh(campaign, [dst_partner.id])

    def _mailchimp_merge_members(self, src_partners, dst_partner):
        """Move the merged contacts' members to the survivor, except in an
        audience where it already has one: those are unlinked and reported in the
        survivor's chatter. A contact forgotten in Mailchimp makes the survivor
        forgotten, and a forgotten survivor is linked to no member. Consents follow
        their member; the email activity moves with the other references."""
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
        if forgotten:
            # a forgotten contact is never linked: the members stay in Mailchimp
            # as they are, for an administrator to forget them there too
            unlinked, moved = members, []
        else:
            unlinked, moved = self._mailchimp_members_kept(members, dst_partner)
        unlinked.write({"partner_id": False})
        members.browse(moved).write({"partner_id": dst_partner.id})
        if unlinked:
            self._mailchimp_report_unlinked(dst_partner, unlinked, forgotten)

    def _mailchimp_members_kept(self, members, dst_partner):
        """(members to unlink, ids of members to move): the survivor keeps its own
        and takes the others, one per sync and per audience (first come first)."""
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
            if member.pairing_id.id in pairings or (
                same_audience and member.subscriber_hash not in same_audience
            ):
                unlinked |= member
                continue
            moved.append(member.id)
            pairings.add(member.pairing_id.id)
            audiences.setdefault(member.audience_id.id, set()).add(
                member.subscriber_hash
            )
        return unlinked, moved

    def _mailchimp_report_unlinked(self, dst_partner, unlinked, forgotten):
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
        if forgotten:
            intro = self.env._(
                "Merged contacts: this contact is forgotten in Mailchimp, so these "
                "Mailchimp members were unlinked. They are left in Mailchimp as they "
                "are: use Forget in Mailchimp on their addresses to erase them there."
            )
        else:
            intro = self.env._(
                "Merged contacts: these Mailchimp members of the merged contacts were "
                "unlinked, as this contact keeps its own member in their audience. "
                "They are left in Mailchimp as they are."
            )
        dst_partner._message_log(body=Markup("<p>%s</p><ul>%s</ul>") % (intro, lines))
