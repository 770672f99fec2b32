# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A subscribe delivered by Mailchimp's webhook, over real HTTP: its lead at once."""

from odoo.tests import HttpCase, tagged

from .common import CrmSyncCase


@tagged("post_install", "-at_install")
class TestCrmLeadFromWebhook(CrmSyncCase, HttpCase):
    def test_a_webhook_subscribe_creates_its_lead(self):
        self.sandbox_control("DELETE", "webhooks/deliveries")
        pairing = self.lead_pairing(state="draft")
        pairing.action_start_sync()
        self.assertEqual(pairing.webhook_state, "registered", pairing.webhook_error)
        self.assertRunDone(pairing.run_sync())
        self.env.flush_all()
        deliveries = self.member_action(
            "nina@corp.com", "subscribe", merges={"FNAME": "Nina", "LNAME": "New"}
        )["deliveries"]
        self.env.invalidate_all()
        self.assertEqual([d["status"] for d in deliveries], [200])
        self.assertLess(deliveries[0]["seconds"], 2.0)
        lead = self.mailchimp_leads()
        self.assertEqual(len(lead), 1)
        self.assertEqual(lead.partner_id, self.partners_with_email("nina@corp.com"))
        self.assertEqual((lead.user_id, lead.team_id), (self.seller, self.team))
        run = pairing.run_ids.filtered(lambda r: r.trigger == "webhook")
        self.assertEqual(run.lead_count, 1)
        # an unsubscribe then a new subscribe of the same person: still one lead
        self.member_action("nina@corp.com", "unsubscribe")
        self.member_action("nina@corp.com", "subscribe")
        self.env.invalidate_all()
        self.assertEqual(len(self.mailchimp_leads()), 1)
