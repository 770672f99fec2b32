# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from markupsafe import Markup

from odoo import fields, models

from ..engine.optout import MemberOptOut


class MailchimpPartnerForget(models.TransientModel):
    """GDPR erasure in Mailchimp: each member of the contacts is deleted for good
    in its audience and the contacts are marked so that no sync adds them again.
    Odoo's own records of them are left to Odoo's own tools."""

    _name = "mailchimp.partner.forget"
    _inherit = "mailchimp.partner.optout.wizard"
    _description = "Forget in Mailchimp"

    def action_confirm(self):
        self.ensure_one()
        self.partner_ids._mailchimp_check_group(
            "mailchimp_connector.group_mailchimp_manager"
        )
        found, members = self._members_of_partners()
        # names read before the members are gone
        audiences = {member.id: member.audience_id.name for member in members}
        result = MemberOptOut(members).delete_permanent()
        failed = result.failed_members()
        forgotten = self.partner_ids.browse()
        bodies = {}
        when = fields.Datetime.now()
        for partner, its_members in found.items():
            if its_members & failed:
                continue  # not erased everywhere: the notification says where not
            forgotten |= partner
            names = sorted({audiences[member.id] for member in its_members})
            text = self.env._(
                "Forgotten in Mailchimp (GDPR erasure) by %(user)s on %(date)s UTC: "
                "permanently deleted from the audiences %(audiences)s. No sync adds "
                "this contact to Mailchimp again unless a Mailchimp administrator "
                "allows it.",
                user=self.env.user.name,
                date=fields.Datetime.to_string(when),
                audiences=", ".join(names) or self.env._("(none)"),
            )
            bodies[partner.id] = Markup("<p>%s</p>") % text
        erased = len(result.done)
        result.done.unlink()
        forgotten.write({"mailchimp_forgotten": True, "mailchimp_forgotten_date": when})
        forgotten._message_log_batch(bodies=bodies)
        return self._result_notification(
            self.env._(
                "Forgotten in Mailchimp: %(contacts)s contacts; members permanently "
                "deleted: %(members)s.",
                contacts=len(forgotten),
                members=erased,
            ),
            result,
        )
