# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class MailchimpEngagementSignal(models.Model):
    """That a rule fired for a contact and a campaign: the unique key that keeps
    the salesperson's activity to one, whoever writes the activity page."""

    _name = "mailchimp.engagement.signal"
    _description = "Mailchimp Engagement Signal"
    _log_access = False

    partner_id = fields.Many2one(
        "res.partner", required=True, ondelete="cascade", index=True, readonly=True
    )
    rule_id = fields.Many2one(
        "mailchimp.engagement.rule", required=True, ondelete="cascade", readonly=True
    )
    campaign_id = fields.Many2one(
        "mailchimp.campaign", required=True, ondelete="cascade", readonly=True
    )
    date = fields.Datetime(readonly=True)

    _sql_constraints = [
        (
            "signal_uniq",
            "unique(partner_id, rule_id, campaign_id)",
            "A rule fires once per contact and campaign.",
        ),
    ]
