# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class MailchimpPairing(models.Model):
    """A sync's CRM options: leads from the contacts it creates."""

    _inherit = "mailchimp.pairing"

    crm_create_leads = fields.Boolean(
        string="Create leads",
        help="Each contact this sync creates from a subscribed Mailchimp member "
        "(pull or webhook) gets a lead, or an opportunity when leads are not used. "
        "No lead for a contact that already has an open one.",
    )
    crm_team_id = fields.Many2one(
        "crm.team",
        string="Sales team",
        help="The leads' sales team. Empty: Odoo's lead assignment decides.",
    )
    crm_user_id = fields.Many2one(
        "res.users",
        string="Salesperson",
        domain=[("share", "=", False)],
        help="The leads' salesperson, and who gets the engagement activities of a "
        "contact without a salesperson. Empty: Odoo's lead assignment decides.",
    )
    engagement_rule_ids = fields.One2many(
        "mailchimp.engagement.rule",
        "pairing_id",
        string="Engagement rules",
        help="Clicks or opens in this sync's audience that create an activity for "
        "the contact's salesperson, once per contact, rule and campaign.",
    )
