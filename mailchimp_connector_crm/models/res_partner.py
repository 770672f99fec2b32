# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    mailchimp_lead_campaign_id = fields.Many2one(
        "utm.campaign",
        string="Lead's Mailchimp campaign",
        compute="_compute_mailchimp_lead_campaign_id",
        help="The Mailchimp campaign that brought the contact's latest Mailchimp lead.",
    )

    def _compute_mailchimp_lead_campaign_id(self):
        """The contacts on screen in one query."""
        leads = (
            self.env["crm.lead"]
            .with_context(active_test=False)
            .search_fetch(
                [
                    ("partner_id", "in", self.ids),
                    ("campaign_id", "!=", False),
                    (
                        "source_id",
                        "=",
                        self.env.ref("mailchimp_connector_crm.utm_source_mailchimp").id,
                    ),
                ],
                ["partner_id", "campaign_id"],
                order="id desc",
            )
        )
        by_partner = {}
        for lead in leads:
            by_partner.setdefault(lead.partner_id.id, lead.campaign_id)
        for partner in self:
            partner.mailchimp_lead_campaign_id = by_partner.get(partner.id, False)
