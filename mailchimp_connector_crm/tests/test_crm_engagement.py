# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Engagement rules on the email-activity path: one to-do per contact, rule and
campaign, for the right salesperson; the lead takes the campaign (UTM)."""

import logging

from odoo.tests import tagged

from odoo.addons.mailchimp_connector.utils.activity_events import make_event
from odoo.addons.mailchimp_connector.utils.mailchimp_keys import subscriber_hash

from .common import CrmSyncCase

_logger = logging.getLogger(__name__)


@tagged("post_install", "-at_install")
class TestCrmEngagement(CrmSyncCase):
    def setUp(self):
        super().setUp()
        self.mailchimp_put("joel@corp.com", FNAME="Joel", LNAME="Willis")
        self.mailchimp_put("ann@corp.com", FNAME="Ann", LNAME="Other")
        self.pairing = self.lead_pairing()
        self.assertRunDone(self.pairing.run_sync())
        self.joel = self.partners_with_email("joel@corp.com")
        self.ann = self.partners_with_email("ann@corp.com")
        self.ann_owner = self.owner
        self.ann.user_id = self.ann_owner
        # an archived user (OdooBot) gets no to-do
        self.joel.user_id = self.env.ref("base.user_root")
        self.rule = self.env["mailchimp.engagement.rule"].create(
            {
                "pairing_id": self.pairing.id,
                "name": "Pricing",
                "kind": "click",
                "url_pattern": "/pricing",
                "lead_priority": "2",
            }
        )
        self.campaign = self.make_campaign("wsale", "Winter sale")

    def make_campaign(self, mc_id, title):
        campaign = self.env["mailchimp.campaign"].create(
            {
                "account_id": self.account.id,
                "audience_id": self.audience.id,
                "mailchimp_campaign_id": mc_id,
                "title": title,
                "subject": title,
                "send_time": "2026-01-01 10:00:00",
            }
        )
        campaign._ensure_utm_campaign()
        return campaign

    def click(self, campaign, email, url, stamp):
        return make_event(campaign.id, subscriber_hash(email), "click", stamp, url)

    def store(self, campaign, events):
        self.env["mailchimp.activity"]._store_events(campaign, events)

    def todos(self):
        return self.env["mail.activity"].search(
            [("summary", "ilike", "clicked Pricing")]
        )

    def test_click_rule_one_todo_per_contact_and_campaign_assigned_right(self):
        # Ann's lead is lost: her to-do goes on the contact, for its salesperson
        ann_lead = self.mailchimp_leads().filtered(
            lambda lead: lead.partner_id == self.ann
        )
        ann_lead.action_set_lost()
        # Joel's lead is unassigned and his salesperson archived: the sync's
        self.mailchimp_leads().filtered(
            lambda lead: lead.partner_id == self.joel
        ).user_id = False
        self.store(
            self.campaign,
            [
                self.click(
                    self.campaign,
                    "joel@corp.com",
                    "https://x.com/Pricing?a",
                    "2026-01-02T10:00:00",
                ),
                self.click(
                    self.campaign,
                    "joel@corp.com",
                    "https://x.com/pricing#b",
                    "2026-01-02T10:05:00",
                ),
                self.click(
                    self.campaign,
                    "ann@corp.com",
                    "https://x.com/pricing",
                    "2026-01-02T11:00:00",
                ),
                self.click(
                    self.campaign,
                    "ann@corp.com",
                    "https://x.com/blog",
                    "2026-01-02T11:01:00",
                ),
            ],
        )
        todos = self.todos()
        self.assertEqual(len(todos), 2)
        joel_todo = todos.filtered(lambda a: "Joel Willis" in a.summary)
        self.assertEqual(
            joel_todo.summary, "Joel Willis clicked Pricing in Winter sale"
        )
        self.assertEqual(joel_todo.user_id, self.seller)
        self.assertEqual(
            joel_todo.activity_type_id, self.env.ref("mail.mail_activity_data_todo")
        )
        # on the contact's open lead, which takes the campaign and the priority
        joel_lead = self.mailchimp_leads().filtered(
            lambda lead: lead.partner_id == self.joel
        )
        self.assertEqual(
            (joel_todo.res_model, joel_todo.res_id), ("crm.lead", joel_lead.id)
        )
        self.assertEqual(joel_lead.campaign_id, self.campaign.utm_campaign_id)
        self.assertEqual(joel_lead.priority, "2")
        ann_todo = todos - joel_todo
        self.assertEqual(
            (ann_todo.res_model, ann_todo.res_id), ("res.partner", self.ann.id)
        )
        self.assertEqual(ann_todo.user_id, self.ann_owner)
        # the same page read again, a later click: nothing more for this campaign
        self.store(
            self.campaign,
            [
                self.click(
                    self.campaign,
                    "joel@corp.com",
                    "https://x.com/pricing",
                    "2026-01-03T09:00:00",
                )
            ],
        )
        self.assertEqual(len(self.todos()), 2)
        # another campaign: once more
        spring = self.make_campaign("spring", "Spring sale")
        self.store(
            spring,
            [
                self.click(
                    spring,
                    "joel@corp.com",
                    "https://x.com/pricing",
                    "2026-03-03T09:00:00",
                )
            ],
        )
        self.assertEqual(len(self.todos()), 3)
        # the lead keeps the campaign that brought it first
        self.assertEqual(joel_lead.campaign_id, self.campaign.utm_campaign_id)
        self.assertEqual(
            self.joel.mailchimp_lead_campaign_id, self.campaign.utm_campaign_id
        )

    def test_opens_rule_fires_at_the_nth_open_within_the_days(self):
        self.rule.write(
            {"kind": "opens", "open_count": 3, "open_days": 7, "name": "Hot"}
        )

        def opens(*stamps):
            return [
                make_event(
                    self.campaign.id, subscriber_hash("joel@corp.com"), "open", s
                )
                for s in stamps
            ]

        self.store(self.campaign, opens("2026-01-02T10:00:00", "2026-01-20T10:00:00"))
        self.assertFalse(
            self.env["mail.activity"].search(
                [("summary", "ilike", "Joel Willis opened")]
            )
        )
        self.store(self.campaign, opens("2026-01-22T10:00:00", "2026-01-23T10:00:00"))
        todo = self.env["mail.activity"].search(
            [("summary", "ilike", "Joel Willis opened")]
        )
        self.assertEqual(len(todo), 1)
        self.assertEqual(todo.user_id, self.seller)

    def test_pipeline_grouped_by_utm_campaign_shows_the_mailchimp_campaign(self):
        self.store(
            self.campaign,
            [
                self.click(
                    self.campaign,
                    "joel@corp.com",
                    "https://x.com/pricing",
                    "2026-01-02T10:00:00",
                )
            ],
        )
        groups = self.env["crm.lead"].read_group(
            [("source_id", "=", self.source.id)],
            ["expected_revenue:sum"],
            ["campaign_id"],
        )
        by_campaign = {
            g["campaign_id"] and g["campaign_id"][1]: g["campaign_id_count"]
            for g in groups
        }
        self.assertEqual(by_campaign.get(self.campaign.utm_campaign_id.name), 1)
        self.assertEqual(by_campaign.get(False), 1)  # Ann: no engagement yet


@tagged("post_install", "-at_install")
class TestCrmEngagementAtScale(CrmSyncCase):
    """The rules' cost on a large page of activity: queries by the batch, not
    one per event, contact or to-do."""

    def store_page(self, campaign, emails, with_rules):
        """Three opens and a pricing click per address; returns the SQL queries
        the page took."""
        self.rules.write({"active": with_rules})
        events = []
        for email in emails:
            digest = subscriber_hash(email)
            events += [
                make_event(campaign.id, digest, "open", f"2026-01-0{day}T10:00:00")
                for day in (2, 3, 4)
            ]
            events.append(
                make_event(
                    campaign.id,
                    digest,
                    "click",
                    "2026-01-04T11:00:00",
                    "https://shop.example.com/pricing",
                )
            )
        self.env.flush_all()
        before = self.env.cr.sql_log_count
        self.env["mailchimp.activity"]._store_events(campaign, events)
        self.env.flush_all()
        return self.env.cr.sql_log_count - before

    def test_rules_cost_batches_of_queries_not_one_per_event(self):
        self.seed(1000)
        pairing = self.lead_pairing()
        self.assertRunDone(pairing.run_sync())
        emails = pairing.member_ids.mapped("email")
        self.assertEqual(len(emails), 1000)
        self.rules = self.env["mailchimp.engagement.rule"].create(
            [
                {
                    "pairing_id": pairing.id,
                    "name": "Pricing",
                    "kind": "click",
                    "url_pattern": "/pricing",
                    "lead_priority": "2",
                },
                {
                    "pairing_id": pairing.id,
                    "name": "Hot",
                    "kind": "opens",
                    "open_count": 3,
                    "open_days": 7,
                },
            ]
        )
        Campaign = self.env["mailchimp.campaign"]

        def campaign(mc_id):
            record = Campaign.create(
                {
                    "account_id": self.account.id,
                    "audience_id": self.audience.id,
                    "mailchimp_campaign_id": mc_id,
                    "title": mc_id,
                    "send_time": "2026-01-01 10:00:00",
                }
            )
            record._ensure_utm_campaign()
            return record

        figures = {}
        for size in (100, 1000):
            without = self.store_page(campaign(f"plain{size}"), emails[:size], False)
            with_rules = self.store_page(campaign(f"ruled{size}"), emails[:size], True)
            figures[size] = (without, with_rules)
        _logger.info(
            "engagement rules on a page of activity (4 events per contact): "
            "100 contacts %s -> %s queries, 1000 contacts %s -> %s queries "
            "(without -> with 2 rules)",
            *figures[100],
            *figures[1000],
        )
        todos = self.env["mail.activity"].search([("summary", "ilike", "ruled1000")])
        # one to-do per contact and rule for the campaign, on the contact's lead
        self.assertEqual(len(todos.filtered(lambda a: "clicked" in a.summary)), 1000)
        self.assertEqual(len(todos.filtered(lambda a: "opened" in a.summary)), 1000)
        self.assertEqual(set(todos.mapped("res_model")), {"crm.lead"})
        self.assertEqual(set(self.mailchimp_leads().mapped("priority")), {"2"})
        # no query per event, contact or to-do: Odoo's own batches only (it
        # inserts and updates by the hundred), far under one query per to-do
        extra_small = figures[100][1] - figures[100][0]
        extra_large = figures[1000][1] - figures[1000][0]
        self.assertLess(extra_large, len(todos) / 10)
        self.assertLess(extra_large - extra_small, 900 / 10)
