# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class MailchimpSyncRun(models.Model):
    """Webhook deliveries (F19) are counted in one history entry per sync and day."""

    _inherit = "mailchimp.sync.run"

    trigger = fields.Selection(
        selection_add=[("webhook", "Webhook")], ondelete={"webhook": "set default"}
    )
