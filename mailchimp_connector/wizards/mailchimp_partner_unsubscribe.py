# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from markupsafe import Markup

from odoo import fields, models
from odoo.exceptions import UserError

from ..engine.optout import MemberOptOut


class MailchimpPartnerUnsubscribe(models.TransientModel):
    """Unsubscribe contacts in every audience where they are members, at a
    person's request. Salespeople record it, so it is open to Mailchimp users."""

    _name = "mailchimp.partner.unsubscribe"
    _inherit = "mailchimp.partner.optout.wizard"
    _description = "Unsubscribe from Mailchimp"

    # required on the form; checked again when confirmed (the form opens empty)
    reason = fields.Text(
        help="Why the person asked, as it will read in each contact's chatter.",
    )

    def action_confirm(self):
        self.ensure_one()
        self.partner_ids._mailchimp_check_group(
            "mailchimp_connector.group_mailchimp_user"
        )
        reason = (self.reason or "").strip()
        if not reason:
            raise UserError(self.env._("Say why the person asked to be unsubscribed."))
        found, members = self._members_of_partners()
        result = MemberOptOut(members).unsubscribe()
        failed = result.failed_members()
        bodies, changed, outside = {}, 0, 0
        when = fields.Datetime.to_string(fields.Datetime.now())
        for partner, its_members in found.items():
            if not its_members:
                outside += 1
                continue
            done = its_members & result.done
            if not done and its_members & failed:
                continue  # nothing happened: the notification says why
            changed += bool(done)
            audiences = (done or its_members).audience_id.mapped("name")
            text = self.env._(
                "Unsubscribed from Mailchimp (audiences: %(audiences)s) by %(user)s "
                "on %(date)s UTC. Reason: %(reason)s",
                audiences=", ".join(sorted(set(audiences))),
                user=self.env.user.name,
                date=when,
                reason=reason,
            )
            bodies[partner.id] = Markup("<p>%s</p>") % text
        self.partner_ids.browse(list(bodies))._message_log_batch(bodies=bodies)
        return self._result_notification(
            self.env._(
                "Unsubscribed from Mailchimp: %(contacts)s contacts; memberships "
                "changed: %(members)s, already out: %(already)s; in no audience: "
                "%(outside)s.",
                contacts=changed,
                members=len(result.done),
                already=len(result.unchanged),
                outside=outside,
            ),
            result,
        )
