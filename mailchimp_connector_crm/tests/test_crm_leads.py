# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""New Mailchimp subscribers as CRM leads: per sync, in bulk, never twice."""

import logging
from unittest.mock import patch

from odoo.tests import tagged

from .common import CrmSyncCase

_logger = logging.getLogger(__name__)


@tagged("post_install", "-at_install")
class TestCrmLeadsFromSubscribers(CrmSyncCase):
    def test_1000_new_subscribers_become_1000_leads_in_one_run(self):
        self.seed(1000)
        pairing = self.lead_pairing()
        self.sandbox_control("DELETE", "requests")
        self.env.flush_all()
        Lead = type(self.env["crm.lead"])
        make_leads, lead_queries = Lead._mailchimp_leads_for, []

        def counted(model, *args):
            before = model.env.cr.sql_log_count
            leads = make_leads(model, *args)
            model.env.flush_all()
            lead_queries.append(model.env.cr.sql_log_count - before)
            return leads

        queries = self.env.cr.sql_log_count
        with patch.object(Lead, "_mailchimp_leads_for", counted):
            run = pairing.run_sync()
        queries = self.env.cr.sql_log_count - queries
        requests = len(self.api_calls())
        self.assertRunDone(run)
        _logger.info(
            "1000 new subscribers -> %s contacts and %s leads: %s Mailchimp "
            "requests, %s SQL queries for the run, of which %s for the leads",
            run.created_count,
            run.lead_count,
            requests,
            queries,
            lead_queries,
        )
        self.assertEqual((run.created_count, run.lead_count), (1000, 1000))
        leads = self.mailchimp_leads()
        self.assertEqual(len(leads), 1000)
        self.assertEqual(len(leads.partner_id), 1000)
        self.assertEqual(leads.partner_id, pairing.member_ids.partner_id)
        self.assertEqual(set(leads.mapped("team_id")), {self.team})
        self.assertEqual(set(leads.mapped("user_id")), {self.seller})
        self.assertEqual(set(leads.mapped("medium_id.name")), {self.audience.name})
        self.assertEqual(len(leads.medium_id), 1)
        use_leads = (
            self.env.ref("crm.group_use_lead")
            in self.env.ref("base.group_user").trans_implied_ids
        )
        self.assertEqual(
            set(leads.mapped("type")), {"lead" if use_leads else "opportunity"}
        )
        lead = leads.filtered(lambda x: x.email_from == "member000007@seed-mail.com")
        self.assertEqual(lead.contact_name, "First7 Last")
        self.assertIn("First7", lead.description)
        # no Mailchimp call for the leads: the run's own requests only
        self.assertEqual(requests, run.http_requests)
        # bulk: one page, far fewer queries than leads
        self.assertEqual(len(lead_queries), 1)
        self.assertLess(lead_queries[0], 100)
        # a rerun (full too) adds none
        run2 = pairing.run_sync(full=True)
        self.assertRunDone(run2)
        self.assertEqual(run2.lead_count, 0)
        self.assertEqual(len(self.mailchimp_leads()), 1000)

    def test_only_subscribed_members_get_a_lead(self):
        self.seed(1, "subscribed", 0)
        self.seed(1, "unsubscribed", 1)
        self.seed(1, "cleaned", 2)
        self.seed(1, "pending", 3)
        # contacts made for every status (the sync's options), a lead for one
        pairing = self.lead_pairing(create_unsubscribed=True, create_cleaned=True)
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(run.created_count, 4)
        self.assertEqual(run.lead_count, 1)
        self.assertEqual(
            self.mailchimp_leads().partner_id.email, "member000000@seed-mail.com"
        )

    def test_a_contact_with_an_open_opportunity_gets_no_new_lead(self):
        self.mailchimp_put("joel@corp.com", FNAME="Joel", LNAME="Willis")
        self.mailchimp_put("won@corp.com", FNAME="Wendy", LNAME="Won")
        opportunity = self.env["crm.lead"].create(
            {
                "name": "Joel's deal",
                "type": "opportunity",
                "email_from": "joel@corp.com",
            }
        )
        won = self.env["crm.lead"].create(
            {"name": "Closed deal", "type": "opportunity", "email_from": "won@corp.com"}
        )
        won.action_set_won()
        pairing = self.lead_pairing()
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual((run.created_count, run.lead_count), (2, 1))
        joel = self.partners_with_email("joel@corp.com")
        self.assertEqual(joel.name, "Joel Willis")
        self.assertFalse(
            self.env["crm.lead"].search_count(
                [
                    ("id", "!=", opportunity.id),
                    ("email_normalized", "=", "joel@corp.com"),
                ]
            )
        )
        # a won deal is not open: the new subscriber gets a lead
        self.assertEqual(self.mailchimp_leads().email_from, "won@corp.com")

    def test_leads_are_off_by_default_and_without_a_salesperson_left_to_odoo(self):
        self.seed(2)
        pairing = self.lead_pairing(crm_create_leads=False)
        self.assertFalse(self.env["mailchimp.pairing"].new({}).crm_create_leads)
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual((run.created_count, run.lead_count), (2, 0))
        self.assertFalse(self.mailchimp_leads())
        # on, with neither team nor salesperson: unassigned, for Odoo's assignment
        self.seed(1, start=2)
        pairing.write(
            {"crm_create_leads": True, "crm_team_id": False, "crm_user_id": False}
        )
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(run.lead_count, 1)
        self.assertFalse(self.mailchimp_leads().user_id)
