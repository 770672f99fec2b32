# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Automation against the sandbox: server actions "Mailchimp: add tag / remove
tag / send event" run by Automation Rules (base_automation, installed by
tests/run.py), queued as mailchimp.contact.event rows and sent in bulk by the
sender, once each through crashes and 429 storms."""

import logging
import time
from unittest import SkipTest
from unittest.mock import patch

from odoo import Command, fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, tagged

from ..engine import contact_events as engine
from ..engine.contact_events import ContactEventSender
from ..utils.mailchimp_keys import subscriber_hash
from .common import MailchimpSyncCase

_logger = logging.getLogger(__name__)


class Crash(Exception):
    """The process dies here (nothing after it runs, nothing is rolled back)."""


@tagged("post_install", "-at_install")
class TestAutomation(MailchimpSyncCase):
    def setUp(self):
        super().setUp()
        self.pairing = self.make_pairing(direction="both")
        self.Event = self.env["mailchimp.contact.event"]
        self.partner_model = self.env["ir.model"]._get("res.partner")

    # -- helpers -------------------------------------------------------------

    def members(self, count):
        """``count`` subscribed members in Mailchimp and their Odoo contacts."""
        self.sandbox_control(
            "POST",
            f"lists/{self.list_id}/seed",
            {"count": count, "status": "subscribed"},
        )
        return self.env["res.partner"].create(
            [
                {"name": f"Member {n}", "email": f"member{n:06d}@seed-mail.com"}
                for n in range(count)
            ]
        )

    def contact(self, email, **vals):
        self.mailchimp_put(email)
        return self.env["res.partner"].create(
            dict({"name": email, "email": email}, **vals)
        )

    def action(self, state, model=None, **vals):
        model = model or self.partner_model
        return self.env["ir.actions.server"].create(
            dict(
                {
                    "name": state,
                    "model_id": model.id,
                    "state": state,
                    "mailchimp_pairing_id": self.pairing.id,
                },
                **vals,
            )
        )

    def run_on(self, action, records):
        return action.with_context(
            active_model=records._name, active_ids=records.ids, active_id=records[:1].id
        ).run()

    def send(self):
        self.sandbox_control("DELETE", "requests")
        return ContactEventSender(self.account).run()

    def send_until_crash(self):
        """A pass that dies at the patched point. (Not ``assertRaises``: Odoo's rolls
        the block back, and a dead process leaves its commits behind.)"""
        try:
            self.send()
        except Crash:
            return
        self.fail("the pass did not reach the crash")

    def mc_events(self, email):
        return self.client.get(
            f"/lists/{self.list_id}/members/{subscriber_hash(email)}/events",
            params={"count": 1000},
        )["events"]

    def mc_tagged(self, tag):
        return {
            email
            for email, member in self.mailchimp_members().items()
            if tag in [t["name"] for t in member["tags"]]
        }

    def calls(self, method=None, ending=""):
        return [
            call
            for call in self.api_calls()
            if (method is None or call["method"] == method)
            and call["api_path"].endswith(ending)
        ]

    def wait_for_jobs(self):
        """Until Mailchimp has run every job submitted (as time would do)."""
        for _try in range(200):
            batches = self.client.get("/batches", params={"count": 1000})["batches"]
            if all(batch["status"] == "finished" for batch in batches):
                return
            time.sleep(0.05)
        self.fail("sandbox batches never finished")

    def due_now(self, rows):
        rows.write({"next_attempt_date": fields.Datetime.now()})

    # -- Automation Rules ------------------------------------------------------

    def test_rule_on_a_category_added_tags_the_contact_and_sends_the_event(self):
        if "base.automation" not in self.env:
            raise SkipTest(
                "base_automation is not installed (tests/run.py installs it)"
            )
        vip = self.env["res.partner.category"].create({"name": "VIP"})
        boss = self.env["res.partner"].create({"name": "Acme Corp"})
        rule = self.env["base.automation"].create(
            {
                "name": "VIP joins the VIP journey",
                "model_id": self.partner_model.id,
                "trigger": "on_create_or_write",
                "trigger_field_ids": [
                    Command.set(
                        self.env["ir.model.fields"]
                        ._get("res.partner", "category_id")
                        .ids
                    )
                ],
                "filter_pre_domain": f"[('category_id', 'not in', [{vip.id}])]",
                "filter_domain": f"[('category_id', 'in', [{vip.id}])]",
            }
        )
        common = {"usage": "base_automation", "base_automation_id": rule.id}
        self.action("mailchimp_tag_add", mailchimp_tag_name="vip", **common)
        self.action(
            "mailchimp_event",
            mailchimp_event_name="became_vip",
            mailchimp_event_properties="job=function\ncompany=parent_id.name",
            **common,
        )
        ann = self.contact("ann@corp.com", function="Buyer", parent_id=boss.id)
        self.contact("bob@corp.com")
        cron = self.env.ref(engine.CRON_XMLID)
        triggers = self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)])
        self.assertFalse(self.Event.search([]), "nothing fires before the category")

        ann.category_id = [Command.link(vip.id)]
        rows = self.Event.search([("partner_id", "=", ann.id)])
        self.assertEqual(
            sorted(rows.mapped(lambda r: (r.kind, r.name, r.state))),
            [("event", "became_vip", "queued"), ("tag_add", "vip", "queued")],
        )
        self.assertEqual(
            self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]),
            triggers + 1,
            "the sender is woken at once, once for the transaction",
        )
        ann.invalidate_recordset()
        self.assertEqual(ann.mailchimp_event_count, 2)

        self.assertFalse(self.send())
        self.assertEqual(set(rows.mapped("state")), {"sent"})
        self.assertEqual(self.mc_tagged("vip"), {"ann@corp.com"})
        (event,) = self.mc_events("ann@corp.com")
        self.assertEqual(event["name"], "became_vip")
        self.assertEqual(event["properties"], {"job": "Buyer", "company": "Acme Corp"})
        self.assertEqual(self.mc_events("bob@corp.com"), [])

        # the rule fires again (category removed and added): the event, once per
        # record and action, is not queued again; the tag is (harmless)
        ann.category_id = [Command.unlink(vip.id)]
        ann.category_id = [Command.link(vip.id)]
        self.assertEqual(len(self.Event.search([("partner_id", "=", ann.id)])), 2)
        self.send()
        self.assertEqual(len(self.mc_events("ann@corp.com")), 1)
        self.assertEqual(self.calls("POST", "/events"), [])

    def test_action_on_another_model_names_the_contact_field(self):
        bank_model = self.env["ir.model"]._get("res.partner.bank")
        partner_field = self.env["ir.model.fields"]._get(
            "res.partner.bank", "partner_id"
        )
        action = self.action(
            "mailchimp_event",
            model=bank_model,
            mailchimp_partner_field_id=partner_field.id,
            mailchimp_event_name="bank_added",
            mailchimp_event_properties="account=acc_number\nholder=partner_id.name",
        )
        ann = self.contact("ann@corp.com")
        account = self.env["res.partner.bank"].create(
            {"partner_id": ann.id, "acc_number": "FR76 0001"}
        )
        self.run_on(action, account)
        self.send()
        (event,) = self.mc_events("ann@corp.com")
        self.assertEqual(
            event["properties"], {"account": "FR76 0001", "holder": "ann@corp.com"}
        )
        row = self.Event.search([])
        self.assertEqual((row.res_model, row.res_id), ("res.partner.bank", account.id))

    def test_action_settings_are_checked(self):
        with self.assertRaises(ValidationError):
            self.action("mailchimp_event", mailchimp_event_name="order confirmed")
        with self.assertRaises(ValidationError):
            self.action("mailchimp_event", mailchimp_event_name="x" * 31)
        with self.assertRaises(ValidationError):
            self.action(
                "mailchimp_event",
                mailchimp_event_name="ok_name",
                mailchimp_event_properties="amount=no_such_field",
            )
        with self.assertRaises(ValidationError):
            self.action("mailchimp_tag_add", mailchimp_tag_name=" ")
        with self.assertRaises(ValidationError):  # not a contact: the field is needed
            self.action(
                "mailchimp_tag_add",
                model=self.env["ir.model"]._get("res.partner.bank"),
                mailchimp_tag_name="x",
            )
        with self.assertRaises(ValidationError):
            self.action(
                "mailchimp_tag_add", mailchimp_tag_name="x", mailchimp_pairing_id=False
            )

    # -- bulk ------------------------------------------------------------------

    def test_500_events_and_500_tags_are_a_handful_of_requests(self):
        partners = self.members(500)
        tag = self.action("mailchimp_tag_add", mailchimp_tag_name="customer")
        event = self.action(
            "mailchimp_event",
            mailchimp_event_name="order_confirmed",
            mailchimp_event_properties="reference=name",
        )
        self.run_on(tag, partners)
        self.run_on(event, partners)
        self.assertEqual(self.Event.search_count([("state", "=", "queued")]), 1000)

        self.assertFalse(self.send())
        calls = self.api_calls()
        # tags: the audience's tags read, the tag made, one bulk call;
        # events: one /batches job, its polls
        self.assertEqual(len(self.calls("GET", "/segments")), 1)
        self.assertEqual(len(self.calls("POST", "/segments")), 1)
        self.assertEqual(len([c for c in calls if "/segments/" in c["api_path"]]), 1)
        self.assertEqual(len(self.calls("POST", "/batches")), 1)
        self.assertEqual(
            self.calls("POST", "/events"), [], "never one call per contact"
        )
        self.assertLessEqual(len(calls), 8, [c["api_path"] for c in calls])
        _logger.info(
            "500 events + 500 tags: %d requests: %s",
            len(calls),
            ", ".join(f"{c['method']} {c['api_path']}" for c in calls),
        )
        self.assertEqual(self.Event.search_count([("state", "=", "sent")]), 1000)
        self.assertEqual(len(self.mc_tagged("customer")), 500)
        for email in ("member000000@seed-mail.com", "member000499@seed-mail.com"):
            (sent,) = self.mc_events(email)
            self.assertEqual(sent["name"], "order_confirmed")
        # nothing left: a second pass sends nothing
        self.send()
        self.assertEqual(self.api_calls(), [])

    def test_a_few_events_go_one_call_each(self):
        partners = self.members(3)
        event = self.action("mailchimp_event", mailchimp_event_name="visited")
        self.run_on(event, partners)
        self.send()
        self.assertEqual(len(self.calls("POST", "/events")), 3)
        self.assertEqual(self.calls("POST", "/batches"), [])
        self.assertEqual(self.Event.search([]).mapped("state"), ["sent"] * 3)

    def test_the_cron_sends_the_connected_accounts_events(self):
        (ann,) = self.members(1)
        self.run_on(self.action("mailchimp_event", mailchimp_event_name="visited"), ann)
        row = self.Event.search([])
        self.account.state = "error"  # a refused key: the events wait
        self.Event._cron_send()
        self.assertEqual(row.state, "queued")
        self.account.state = "connected"
        self.Event._cron_send()
        self.assertEqual(row.state, "sent")
        self.assertEqual(len(self.mc_events(ann.email)), 1)

    def test_the_same_record_and_event_is_queued_once(self):
        (ann,) = self.members(1)
        event = self.action("mailchimp_event", mailchimp_event_name="visited")
        self.run_on(event, ann)
        self.run_on(event, ann)
        self.assertEqual(self.Event.search_count([]), 1)
        self.send()
        self.run_on(event, ann)
        self.send()
        self.assertEqual(self.Event.search([]).state, "sent")
        self.assertEqual(len(self.mc_events(ann.email)), 1)
        # another action (or another record) is another event
        other = self.action("mailchimp_event", mailchimp_event_name="visited")
        self.run_on(other, ann)
        self.send()
        self.assertEqual(len(self.mc_events(ann.email)), 2)

    def test_a_forgotten_contact_gets_no_tag_nor_event(self):
        ann, bob = self.members(2)
        bob.write({"mailchimp_forgotten": True})
        event = self.action("mailchimp_event", mailchimp_event_name="visited")
        tag = self.action("mailchimp_tag_add", mailchimp_tag_name="vip")
        self.run_on(event, ann | bob)
        self.run_on(tag, ann | bob)
        self.assertEqual(self.Event.search([]).partner_id, ann)
        self.send()
        self.assertEqual(len(self.mc_events(ann.email)), 1)
        self.assertEqual(self.mc_events(bob.email), [])
        self.assertNotIn(bob.email, self.mc_tagged("vip"))

    def test_latest_tag_wish_wins_and_untagging_is_bulk(self):
        ann, bob = self.members(2)
        add = self.action("mailchimp_tag_add", mailchimp_tag_name="lead")
        remove = self.action("mailchimp_tag_remove", mailchimp_tag_name="LEAD")
        self.run_on(add, ann | bob)
        self.send()
        self.assertEqual(self.mc_tagged("lead"), {ann.email, bob.email})
        # Bob tagged again then untagged in one pass: the removal wins
        self.run_on(add, bob)
        self.run_on(remove, bob)
        self.send()
        self.assertEqual(self.mc_tagged("lead"), {ann.email})
        rows = self.Event.search([("partner_id", "=", bob.id)])
        self.assertEqual(
            sorted(rows.mapped(lambda r: (r.kind, r.state))),
            [("tag_add", "cancelled"), ("tag_remove", "sent")],
        )

    # -- refusals ---------------------------------------------------------------

    def test_contacts_mailchimp_does_not_know_fail_visibly(self):
        (ann,) = self.members(1)
        stranger = self.env["res.partner"].create(
            {"name": "Stranger", "email": "stranger@corp.com"}
        )
        nobody = self.env["res.partner"].create({"name": "No email"})
        event = self.action("mailchimp_event", mailchimp_event_name="visited")
        tag = self.action("mailchimp_tag_add", mailchimp_tag_name="vip")
        self.run_on(event, ann | stranger | nobody)
        self.run_on(tag, ann | stranger)
        self.send()
        by_partner = {(row.partner_id, row.kind): row for row in self.Event.search([])}
        self.assertEqual(by_partner[ann, "event"].state, "sent")
        self.assertEqual(by_partner[ann, "tag_add"].state, "sent")
        for key in ((stranger, "event"), (stranger, "tag_add"), (nobody, "event")):
            self.assertEqual(by_partner[key].state, "failed", key)
        self.assertIn("not a member", by_partner[stranger, "event"].error)
        self.assertIn("no email", by_partner[nobody, "event"].error)
        self.assertNotIn(
            "stranger@corp.com",
            self.mailchimp_members(),
            "a tag never adds a member",
        )

    # -- crashes and storms -------------------------------------------------------

    def test_crash_after_the_job_is_submitted_before_its_id_is_kept(self):
        partners = self.members(20)
        event = self.action("mailchimp_event", mailchimp_event_name="order_confirmed")
        self.run_on(event, partners)
        with patch.object(ContactEventSender, "_submitted", side_effect=Crash):
            self.send_until_crash()
        rows = self.Event.search([])
        self.assertEqual(set(rows.mapped("state")), {"sending"})
        self.assertFalse(any(rows.mapped("batch_id")))
        self.wait_for_jobs()
        self.assertFalse(self.send())
        # each found among its member's events (one job of reads): none sent again
        self.assertEqual(set(rows.mapped("state")), {"sent"})
        self.assertEqual(self.calls("POST", "/events"), [])
        self.assertEqual(len(self.calls("POST", "/batches")), 1)
        for partner in partners:
            self.assertEqual(len(self.mc_events(partner.email)), 1, partner.email)

    def test_crash_while_the_job_runs_reads_its_answers(self):
        partners = self.members(20)
        event = self.action("mailchimp_event", mailchimp_event_name="order_confirmed")
        self.run_on(event, partners)
        with patch.object(engine.batch_jobs, "wait_for_results", side_effect=Crash):
            self.send_until_crash()
        rows = self.Event.search([])
        self.assertEqual(len(set(rows.mapped("batch_id"))), 1)
        self.assertTrue(rows[0].batch_id)
        self.wait_for_jobs()
        self.send()
        self.assertEqual(set(rows.mapped("state")), {"sent"})
        self.assertEqual(self.calls("POST", "/batches"), [], "not submitted again")
        for partner in partners:
            self.assertEqual(len(self.mc_events(partner.email)), 1)

    def test_crash_between_a_call_and_its_record(self):
        partners = self.members(3)
        event = self.action("mailchimp_event", mailchimp_event_name="visited")
        self.run_on(event, partners)
        real_sent = ContactEventSender._sent
        calls = []

        def sent_then_crash(sender, rows):
            calls.append(rows)
            if len(calls) == 2:  # the second event reached Mailchimp, then the end
                raise Crash
            return real_sent(sender, rows)

        with patch.object(ContactEventSender, "_sent", sent_then_crash):
            self.send_until_crash()
        rows = self.Event.search([], order="id")
        self.assertEqual(rows.mapped("state"), ["sent", "sending", "sending"])
        self.send()
        self.assertEqual(rows.mapped("state"), ["sent"] * 3)
        # the second was found in Mailchimp, the third sent: each once
        self.assertEqual(len(self.calls("POST", "/events")), 1)
        for partner in partners:
            self.assertEqual(len(self.mc_events(partner.email)), 1)

    def test_a_429_storm_on_the_job_queues_the_events_again(self):
        partners = self.members(10)
        event = self.action("mailchimp_event", mailchimp_event_name="visited")
        self.run_on(event, partners)
        with self.sandbox_fault(
            status=429, count=1000, method="POST", path_pattern="^/batches$"
        ):
            self.send()
        rows = self.Event.search([])
        self.assertEqual(set(rows.mapped("state")), {"queued"})
        self.assertEqual(set(rows.mapped("attempts")), {1})
        self.assertTrue(
            all(row.next_attempt_date > fields.Datetime.now() for row in rows)
        )
        self.assertIn("limiting", rows[0].error)
        # not due yet: nothing sent
        self.send()
        self.assertEqual(self.api_calls(), [])
        self.due_now(rows)
        self.send()
        self.assertEqual(set(rows.mapped("state")), {"sent"})
        for partner in partners:
            self.assertEqual(len(self.mc_events(partner.email)), 1)

    def test_a_short_429_storm_is_ridden_out_and_an_unknown_answer_checked(self):
        ann, bob = self.members(2)
        event = self.action("mailchimp_event", mailchimp_event_name="visited")
        self.run_on(event, ann)
        with self.sandbox_fault(status=429, count=2, path_pattern="/events$"):
            self.send()
        self.assertEqual(self.Event.search([]).state, "sent")
        self.assertEqual(len(self.calls("POST", "/events")), 3)  # 2 throttled + 1
        # a 502: the answer is unknown, the event checked before it is sent again
        self.run_on(event, bob)
        with self.sandbox_fault(status=502, count=1, path_pattern="/events$"):
            self.send()
        row = self.Event.search([("partner_id", "=", bob.id)])
        self.assertEqual(row.state, "sending")
        self.due_now(row)
        self.send()
        self.assertEqual(row.state, "sent")
        self.assertEqual(len(self.mc_events(ann.email)), 1)
        self.assertEqual(len(self.mc_events(bob.email)), 1)

    def test_given_up_after_the_last_attempt(self):
        (ann,) = self.members(1)
        event = self.action("mailchimp_event", mailchimp_event_name="visited")
        self.run_on(event, ann)
        row = self.Event.search([])
        row.attempts = 7
        with self.sandbox_fault(status=503, count=1000, path_pattern="/events$"):
            self.send()
        self.assertEqual((row.state, row.attempts), ("failed", 8))
        self.assertTrue(row.error)

    # -- access -------------------------------------------------------------------

    def test_salespeople_see_events_and_only_administrators_send_again(self):
        (ann,) = self.members(1)
        self.run_on(self.action("mailchimp_event", mailchimp_event_name="visited"), ann)
        row = self.Event.search([])
        row.write({"state": "failed", "error": "x"})
        user = new_test_user(
            self.env,
            "sales",
            groups="base.group_user,mailchimp_connector.group_mailchimp_user",
        )
        self.assertEqual(row.with_user(user).read(["state"])[0]["state"], "failed")
        self.assertEqual(ann.with_user(user).mailchimp_event_count, 1)
        with self.assertRaises(AccessError):
            row.with_user(user).action_retry()
        row.action_retry()
        self.assertEqual((row.state, row.attempts, row.error), ("queued", 0, False))
