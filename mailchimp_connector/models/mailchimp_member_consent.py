# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class MailchimpMemberConsent(models.Model):
    """One marketing permission of one member
    as Mailchimp last showed it (read-only)."""

    _name = "mailchimp.member.consent"
    _description = "Mailchimp Member Marketing Permission"
    _order = "member_id, permission_id"

    member_id = fields.Many2one(
        "mailchimp.member", required=True, ondelete="cascade", index=True, readonly=True
    )
    permission_id = fields.Many2one(
        "mailchimp.marketing.permission",
        string="Permission",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    name = fields.Char(related="permission_id.name", string="Text")
    enabled = fields.Boolean(string="Given", readonly=True)
    # computed after the INSERT (one multi-row UPDATE for the batch): precomputed, it
    # left new-record ghosts in the contact's cached list within the same transaction
    partner_id = fields.Many2one(
        related="member_id.partner_id",
        store=True,
        index="btree_not_null",
        string="Contact",
    )
    audience_id = fields.Many2one(related="member_id.audience_id")
    company_id = fields.Many2one(related="member_id.company_id", store=True)

    _sql_constraints = [
        (
            "member_permission_uniq",
            "unique(member_id, permission_id)",
            "A member has one line per marketing permission.",
        ),
    ]
