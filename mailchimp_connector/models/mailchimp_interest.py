# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models


class MailchimpInterest(models.Model):
    """One interest (group) of a category, read from Mailchimp; its id is what
    member payloads carry (``interests: {id: bool}``)."""

    _name = "mailchimp.interest"
    _description = "Mailchimp Interest"
    _order = "audience_id, category_id, display_order, id"
    _rec_names_search = ["name", "category_id.title"]

    category_id = fields.Many2one(
        "mailchimp.interest.category",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    audience_id = fields.Many2one(
        related="category_id.audience_id", store=True, index=True, precompute=True
    )
    company_id = fields.Many2one(related="category_id.company_id", store=True)
    active = fields.Boolean(default=True, readonly=True)
    mailchimp_id = fields.Char(string="Mailchimp ID", required=True, readonly=True)
    name = fields.Char(required=True, readonly=True)
    display_order = fields.Integer(readonly=True)

    _sql_constraints = [
        (
            "audience_mailchimp_uniq",
            "unique(audience_id, mailchimp_id)",
            "An interest is known once per audience.",
        ),
    ]

    @api.depends("name", "category_id.title")
    def _compute_display_name(self):
        for interest in self:
            interest.display_name = f"{interest.category_id.title} / {interest.name}"
