# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models

SYNC_SIDES = [
    ("odoo2mailchimp", "Odoo → Mailchimp"),
    ("mailchimp2odoo", "Mailchimp → Odoo"),
]


class MailchimpSyncFailure(models.Model):
    """A record one run could not sync, with the reason a person can act on."""

    _name = "mailchimp.sync.failure"
    _description = "Mailchimp Sync Failure"
    _order = "id desc"
    _rec_name = "email"

    run_id = fields.Many2one(
        "mailchimp.sync.run",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    pairing_id = fields.Many2one(
        related="run_id.pairing_id",
        string="Sync",
        store=True,
        index=True,
        readonly=True,
    )
    company_id = fields.Many2one(related="run_id.company_id", store=True)
    partner_id = fields.Many2one(
        "res.partner", string="Contact", readonly=True, index=True
    )
    email = fields.Char(readonly=True)
    direction = fields.Selection(SYNC_SIDES, required=True, readonly=True)
    kind = fields.Selection(
        [("failed", "Failed"), ("skipped", "Skipped")],
        required=True,
        default="failed",
        readonly=True,
    )
    reason = fields.Text(required=True, readonly=True)
    date = fields.Datetime(default=fields.Datetime.now, readonly=True)
