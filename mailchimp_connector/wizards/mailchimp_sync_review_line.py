# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models

from ..models.mailchimp_member import MEMBER_STATUSES
from .mailchimp_sync_review import CATEGORIES


class MailchimpSyncReviewLine(models.TransientModel):
    """One contact or member of a review's sample, and what the sync will do
    with it."""

    _name = "mailchimp.sync.review.line"
    _description = "Mailchimp Sync Review Sample"
    _order = "sequence, id"

    review_id = fields.Many2one(
        "mailchimp.sync.review", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer()
    category = fields.Selection(CATEGORIES, required=True)
    partner_id = fields.Many2one("res.partner", string="Contact", ondelete="cascade")
    email = fields.Char()
    status = fields.Selection(MEMBER_STATUSES, string="Mailchimp Status")
    detail = fields.Char(string="What the sync does")
