# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


# The webhook part of the run still has a file of its own, beside the consent part:
# merging the model's files is a change of its own, not a lint fix.
class MailchimpSyncRun(models.Model):
    """Webhook deliveries (F19) are counted in one history entry per sync and day."""

    _inherit = "mailchimp.sync.run"  # pylint: disable=consider-merging-classes-inherited

    trigger = fields.Selection(
        selection_add=[("webhook", "Webhook")], ondelete={"webhook": "set default"}
    )
