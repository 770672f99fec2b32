# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class MailchimpAccount(models.Model):
    """Disconnecting removes the account's webhooks while the key still works (F19)."""

    _inherit = "mailchimp.account"

    def action_disconnect(self):
        self.check_access("write")
        self.env["mailchimp.pairing"].with_context(active_test=False).search(
            [("account_id", "in", self.ids), ("webhook_id", "!=", False)]
        )._webhook_unregister()
        return super().action_disconnect()
