# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.tools.sql import create_index

from .mailchimp_member import MEMBER_STATUSES


class ResPartner(models.Model):
    _inherit = "res.partner"

    mailchimp_member_ids = fields.One2many(
        "mailchimp.member",
        "partner_id",
        string="Mailchimp Memberships",
        groups="mailchimp_connector.group_mailchimp_user",
    )
    mailchimp_status = fields.Selection(
        MEMBER_STATUSES,
        compute="_compute_mailchimp_status",
        groups="mailchimp_connector.group_mailchimp_user",
        help="Subscribed if subscribed to any synced audience, else the most telling "
        "status.",
    )

    def init(self):
        res = super().init()
        # matching is by normalized email only (F9); Odoo 18 does not index it
        create_index(
            self.env.cr,
            "res_partner_email_normalized_index",
            self._table,
            ["email_normalized"],
            where="email_normalized IS NOT NULL",
        )
        return res

    @api.depends("mailchimp_member_ids.status")
    def _compute_mailchimp_status(self):
        order = [status for status, _label in MEMBER_STATUSES]
        for partner in self:
            statuses = partner.mailchimp_member_ids.mapped("status")
            partner.mailchimp_status = (
                min(statuses, key=order.index) if statuses else False
            )

    # email activity (F27, F28)
    mailchimp_activity_count = fields.Integer(
        compute="_compute_mailchimp_activity_count",
        string="Email Activity",
        groups="mailchimp_connector.group_mailchimp_user",
    )

    def _compute_mailchimp_activity_count(self):
        counts = dict(
            self.env["mailchimp.activity"]._read_group(
                [("partner_id", "in", self.ids)], ["partner_id"], ["__count"]
            )
        )
        for partner in self:
            partner.mailchimp_activity_count = counts.get(partner, 0)

    def action_open_mailchimp_activity(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mailchimp_connector.mailchimp_activity_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"default_partner_id": self.id}
        return action

    # GDPR marketing permissions
    mailchimp_consent_ids = fields.One2many(
        "mailchimp.member.consent",
        "partner_id",
        string="Mailchimp Marketing Permissions",
        groups="mailchimp_connector.group_mailchimp_user",
    )

    # tags and events sent by Automation Rules (mailchimp.contact.event)
    mailchimp_event_ids = fields.One2many(
        "mailchimp.contact.event",
        "partner_id",
        string="Mailchimp Events",
        groups="mailchimp_connector.group_mailchimp_user",
    )
    mailchimp_event_count = fields.Integer(
        compute="_compute_mailchimp_event_count",
        groups="mailchimp_connector.group_mailchimp_user",
    )

    def _compute_mailchimp_event_count(self):
        counts = dict(
            self.env["mailchimp.contact.event"]._read_group(
                [("partner_id", "in", self.ids)], ["partner_id"], ["__count"]
            )
        )
        for partner in self:
            partner.mailchimp_event_count = counts.get(partner, 0)

    def action_open_mailchimp_events(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mailchimp_connector.mailchimp_contact_event_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"search_default_partner_id": self.id}
        return action
