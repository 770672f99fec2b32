# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class QueueJob(models.Model):
    """A sync's jobs know the run they work on: the run counts them."""

    _inherit = "queue.job"

    mailchimp_run_id = fields.Many2one(
        "mailchimp.sync.run",
        string="Mailchimp sync run",
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
    )
