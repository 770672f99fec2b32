# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class MailchimpAccountReauthorize(models.TransientModel):
    """Take a new API key; the account keeps its old key unless Mailchimp accepts it."""

    _name = "mailchimp.account.reauthorize"
    _description = "Reauthorize a Mailchimp Account"

    account_id = fields.Many2one("mailchimp.account", required=True, ondelete="cascade")
    api_key = fields.Char(string="New API Key", required=True)

    def action_reauthorize(self):
        self.ensure_one()
        warning = self.account_id._reauthorize(self.api_key)
        # never keep the secret in the wizard table longer than needed
        self.api_key = "-"
        if warning:
            return self.account_id._notification(warning, "warning")
        return self.account_id._notification(
            self.env._("Reauthorized: %s is connected again.", self.account_id.name)
        )
