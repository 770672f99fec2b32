# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

# failure lines a notification shows; the rest are counted
SHOWN_FAILURES = 10


class MailchimpPartnerOptoutWizard(models.AbstractModel):
    """What the unsubscribe and forget wizards share: the contacts, the
    audiences they are members of, and the notification of Mailchimp's answer."""

    _name = "mailchimp.partner.optout.wizard"
    _description = "Mailchimp Opt-out Wizard"

    partner_ids = fields.Many2many("res.partner", string="Contacts", required=True)
    audience_names = fields.Char(string="Audiences", compute="_compute_audience_names")

    @api.depends("partner_ids")
    def _compute_audience_names(self):
        for wizard in self:
            found = wizard.partner_ids._mailchimp_members()
            members = self.env["mailchimp.member"].sudo().union(*found.values())
            wizard.audience_names = ", ".join(
                sorted(set(members.audience_id.mapped("name")))
            )

    def _members_of_partners(self):
        """({partner: its members}, all of them) read as superuser: a salesperson
        may opt out a contact whose members they cannot read."""
        found = self.partner_ids._mailchimp_members()
        return found, self.env["mailchimp.member"].sudo().union(*found.values())

    def _result_notification(self, message, result):
        """A notification of what Mailchimp did and, when it refused some, why."""
        lines = [message]
        for member, reason in result.failures[:SHOWN_FAILURES]:
            lines.append(
                self.env._(
                    "%(email)s (%(audience)s): %(reason)s",
                    email=member.email,
                    audience=member.audience_id.name,
                    reason=reason,
                )
            )
        if len(result.failures) > SHOWN_FAILURES:
            lines.append(
                self.env._(
                    "and %s more refused.", len(result.failures) - SHOWN_FAILURES
                )
            )
        return self.env["mailchimp.account"]._notification(
            "\n".join(lines), "warning" if result.failures else "success"
        )
