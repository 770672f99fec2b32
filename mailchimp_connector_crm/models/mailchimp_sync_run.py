# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging

from odoo import fields, models

_logger = logging.getLogger(__name__)


class MailchimpSyncRun(models.Model):
    """Leads made from the contacts a run creates, counted on the run."""

    _inherit = "mailchimp.sync.run"

    lead_count = fields.Integer(string="Leads created", readonly=True)

    def _mailchimp_contacts_created(self, partners, members):
        res = super()._mailchimp_contacts_created(partners, members)
        if not self.pairing_id.crm_create_leads:
            return res
        subscribed = [
            (partner, member)
            for partner, member in zip(partners, members, strict=True)
            if member.get("status") == "subscribed"
        ]
        if subscribed:
            leads = self.env["crm.lead"]._mailchimp_leads_for(
                self.pairing_id, subscribed
            )
            self.lead_count += len(leads)
        return res
