# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Actions on contacts (Add to Mailchimp…, Sync with Mailchimp now, Refresh
Mailchimp activity), on real Odoo against the sandbox: what the preview says,
what is sent and in how many requests, the sync's history, who may do what."""

import logging
from datetime import datetime, timedelta, timezone
from unittest import SkipTest
from unittest.mock import patch

from odoo import Command, fields
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged

from .common import DEFAULT_API_KEY, MailchimpSandboxMixin, sandbox_url
from .test_mailchimp_optout import OptOutCase
from .test_mailchimp_sync_faults import batch_subscribe_calls

_logger = logging.getLogger(__name__)

LATER = fields.Datetime.now() + timedelta(days=1)


class ContactActionsCase(OptOutCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesperson = new_test_user(
            cls.env,
            login="mc_actions_salesperson",
            groups="base.group_user,mailchimp_connector.group_mailchimp_user",
        )
        cls.outsider = new_test_user(
            cls.env, login="mc_actions_outsider", groups="base.group_user"
        )

    def untagged(self, vals_list):
        """Contacts outside the test segment (its tag): only an explicit add
        brings them in."""
        return self.env["res.partner"].create(
            [dict({"name": vals["email"] or "nobody"}, **vals) for vals in vals_list]
        )

    def make_pairing(self, **vals):
        # not due: a cron pass runs only the runs of selected contacts asked for
        vals.setdefault("next_sync_date", LATER)
        return super().make_pairing(**vals)

    def wizard(self, partners, pairing=None):
        Wizard = self.env["mailchimp.partner.add"].with_context(
            active_model="res.partner", active_ids=partners.ids
        )
        wizard = Wizard.create({"pairing_id": pairing.id} if pairing else {})
        return wizard

    def preview(self, wizard):
        return {
            "selected": wizard.partner_count,
            "new": wizard.new_count,
            "members": wizard.member_count,
            "opted_out": wizard.optout_count,
            "invalid": wizard.invalid_count,
            "duplicates": wizard.duplicate_count,
        }

    def cron_pass(self):
        self.env["mailchimp.pairing"]._cron_sync()

    def contact_runs(self, pairing):
        return pairing.run_ids.filtered(lambda run: run.trigger == "contacts")

    def triggered(self, xmlid):
        cron = self.env.ref(xmlid)
        return self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)])


@tagged("post_install", "-at_install")
class TestAddToMailchimp(ContactActionsCase):
    def test_preview_counts_a_mixed_selection_and_sends_nothing(self):
        member = self.contact("member@corp.com", "Mia Member")
        pairing = self.make_pairing()
        self.assertRunDone(pairing.run_sync())
        selection = member | self.untagged(
            [
                {"email": "new.one@corp.com"},
                {"email": "new.two@corp.com"},
                {"email": "optout@corp.com"},
                {"email": False, "name": "No Email"},
                {"email": "not-an-address"},
                {"email": "NEW.one@corp.com "},  # a duplicate of new.one
            ]
        )
        self.opt_out("optout@corp.com")
        self.sandbox_control("DELETE", "requests")
        wizard = self.wizard(selection)
        self.assertEqual(wizard.pairing_id, pairing, "the only sync that pushes")
        self.assertEqual(
            self.preview(wizard),
            {
                "selected": 7,
                "new": 2,
                "members": 1,
                "opted_out": 1,
                "invalid": 2,
                "duplicates": 1,
            },
        )
        self.assertEqual(self.api_calls(), [], "a preview asks Mailchimp nothing")
        self.assertFalse(pairing.added_partner_ids)

    def test_only_syncs_that_push_are_offered(self):
        pushing = self.make_pairing(name="Pushes")
        self.make_pairing(name="Pulls only", direction="mailchimp2odoo")
        paused = self.make_pairing(name="Paused")
        paused.action_pause()
        offered = self.env["mailchimp.pairing"].search(
            self.env["mailchimp.partner.add"]._fields["pairing_id"].domain
        )
        self.assertEqual(offered, pushing)

    def test_500_contacts_added_in_a_handful_of_requests(self):
        pairing = self.make_pairing(direction="both")
        self.assertRunDone(pairing.run_sync())  # the segment (its tag) is empty
        outside = self.contact("tagged.not.selected@corp.com")
        selection = self.untagged(
            [{"email": f"added{n:03d}@corp.com"} for n in range(500)]
        )
        self.sandbox_control("DELETE", "requests")
        wizard = self.wizard(selection, pairing)
        self.assertEqual(wizard.new_count, 500)
        wizard.action_confirm()
        self.assertEqual(pairing.added_partner_ids, selection)
        run = self.contact_runs(pairing)
        self.assertEqual(run.state, "running", "queued for the scheduler's worker")
        self.assertEqual(run.partner_ids, selection)
        self.assertTrue(self.triggered("mailchimp_connector.ir_cron_mailchimp_sync"))
        self.assertEqual(self.api_calls(), [], "the browser does not wait")
        self.cron_pass()
        self.assertRunDone(run)
        calls = self.api_calls()
        _logger.info(
            "500 contacts added: %s Mailchimp requests (%s)",
            len(calls),
            ", ".join(f"{c['method']} {c['api_path']}" for c in calls),
        )
        self.assertEqual(run.http_requests, len(calls))
        self.assertLessEqual(len(calls), 2, "one batch subscribe per 500 contacts")
        self.assertEqual(run.created_count, 500)
        self.assertIn(run, pairing.run_ids, "in the sync's history")
        self.assertEqual((run.direction, run.partner_count), ("odoo2mailchimp", 500))
        members = self.mailchimp_members()
        self.assertEqual(len(members), 500)
        self.assertNotIn("tagged.not.selected@corp.com", members, "selection only")
        self.assertEqual(pairing.member_ids.partner_id, selection)
        self.assertFalse(outside.mailchimp_member_ids)
        # the contacts are in the segment from now on: a regular run keeps them
        self.assertEqual(
            self.env["res.partner"].search(pairing._segment_domain()),
            selection | outside,
        )
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(len(self.mailchimp_members()), 501)

    def test_a_forgotten_contact_selected_is_counted_apart_and_never_sent(self):
        pairing = self.make_pairing(direction="odoo2mailchimp")
        selection = self.untagged(
            [{"email": "erased@corp.com"}, {"email": "kept@corp.com"}]
        )
        erased = selection[0]
        erased.write({"mailchimp_forgotten": True})
        wizard = self.wizard(selection, pairing)
        self.assertEqual((wizard.forgotten_count, wizard.new_count), (1, 1))
        wizard.action_confirm()
        self.cron_pass()
        self.assertRunDone(self.contact_runs(pairing))
        self.assertEqual(list(self.mailchimp_members()), ["kept@corp.com"])
        self.assertFalse(erased.mailchimp_member_ids)

    def test_readme_recipe_a_category_set_by_a_salesperson_adds_the_contact(self):
        """The README's third recipe: an Automation Rule whose code adds the
        contacts put in a category, whoever saves them."""
        if "base.automation" not in self.env:
            raise SkipTest(
                "base_automation is not installed (tests/run.py installs it)"
            )
        pairing = self.make_pairing(direction="odoo2mailchimp")
        self.assertRunDone(pairing.run_sync())
        newsletter = self.env["res.partner.category"].create({"name": "Newsletter"})
        partner_model = self.env["ir.model"]._get("res.partner")
        rule = self.env["base.automation"].create(
            {
                "name": "Newsletter category joins the audience",
                "model_id": partner_model.id,
                "trigger": "on_create_or_write",
                "trigger_field_ids": [
                    Command.set(
                        self.env["ir.model.fields"]
                        ._get("res.partner", "category_id")
                        .ids
                    )
                ],
                "filter_domain": f"[('category_id', 'in', [{newsletter.id}])]",
            }
        )
        self.env["ir.actions.server"].create(
            {
                "name": "Add to the newsletter sync",
                "model_id": partner_model.id,
                "state": "code",
                "usage": "base_automation",
                "base_automation_id": rule.id,
                "code": "records.sudo().mailchimp_add_to_sync("
                f"env['mailchimp.pairing'].browse({pairing.id}))",
            }
        )
        ann, optout = self.untagged(
            [{"email": "ann@corp.com"}, {"email": "optout@corp.com"}]
        )
        self.opt_out("optout@corp.com")
        # a salesperson who may edit contacts (as Sales gives them), no more
        seller = new_test_user(
            self.env,
            login="mc_recipe_seller",
            groups="base.group_user,base.group_partner_manager,"
            "mailchimp_connector.group_mailchimp_user",
        )
        (ann | optout).with_user(seller).write(
            {"category_id": [Command.link(newsletter.id)]}
        )
        self.assertEqual(pairing.added_partner_ids, ann | optout)
        run = self.contact_runs(pairing)
        self.assertEqual(
            run.partner_ids, ann | optout, "one run for the save, not one per contact"
        )
        self.cron_pass()
        self.assertRunDone(self.contact_runs(pairing))
        members = self.mailchimp_members()
        self.assertEqual(members["ann@corp.com"]["status"], "subscribed")
        self.assertNotEqual(
            members.get("optout@corp.com", {}).get("status"),
            "subscribed",
            "an opt-out is never turned into a subscription",
        )

    def test_opted_out_contact_never_subscribed_invalid_ones_reported(self):
        pairing = self.make_pairing(direction="odoo2mailchimp")
        selection = self.untagged(
            [
                {"email": "optout@corp.com"},
                {"email": "fine@corp.com"},
                {"email": "bad@nowhere"},
            ]
        )
        self.opt_out("optout@corp.com")
        wizard = self.wizard(selection, pairing)
        self.assertEqual((wizard.optout_count, wizard.invalid_count), (1, 1))
        wizard.action_confirm()
        self.cron_pass()
        run = self.contact_runs(pairing)
        self.assertRunDone(run)
        self.assertEqual(
            self.mc_statuses("optout@corp.com", "fine@corp.com"),
            {"optout@corp.com": "unsubscribed", "fine@corp.com": "subscribed"},
        )
        self.assertEqual(run.optout_added_count, 1)
        self.assertEqual(
            self.failures(run).mapped("email"), ["bad@nowhere"], "like any run"
        )
        self.assertEqual(pairing.failure_count, 0, "the sync's last run is its own")

    def test_opted_out_contact_skipped_when_the_sync_says_so(self):
        pairing = self.make_pairing(optout_new_policy="skip")
        selection = self.untagged([{"email": "optout@corp.com"}])
        self.opt_out("optout@corp.com")
        self.wizard(selection, pairing).action_confirm()
        self.cron_pass()
        run = self.contact_runs(pairing)
        self.assertRunDone(run)
        self.assertIsNone(self.mc_member("optout@corp.com"))
        self.assertEqual(self.failures(run, "skipped").partner_id, selection)

    def test_draft_sync_gets_the_contacts_for_its_initial_sync(self):
        pairing = self.make_pairing(state="draft")
        # Start Sync registers the webhook; the sandbox would call this test's
        # (serialized) server back to check its URL
        self.sandbox_control("POST", "webhooks/validation", {"enabled": False})
        selection = self.untagged([{"email": "later@corp.com"}])
        self.sandbox_control("DELETE", "requests")
        action = self.wizard(selection, pairing).action_confirm()
        self.assertIn("initial sync", action["params"]["message"])
        self.assertEqual(pairing.added_partner_ids, selection)
        self.assertFalse(pairing.run_ids)
        self.cron_pass()
        self.assertEqual(self.api_calls(), [])
        pairing.action_start_sync()
        self.cron_pass()
        self.assertEqual(self.mc_member("later@corp.com")["status"], "subscribed")

    def test_removed_from_the_list_leaves_the_segment_not_mailchimp(self):
        pairing = self.make_pairing()
        selection = self.untagged([{"email": "gone@corp.com"}])
        selection.mailchimp_add_to_sync(pairing)
        self.cron_pass()
        self.assertEqual(self.mc_member("gone@corp.com")["status"], "subscribed")
        pairing.added_partner_ids = [Command.unlink(selection.id)]
        self.assertFalse(
            self.env["res.partner"].search(
                pairing._segment_domain() + [("id", "=", selection.id)]
            )
        )
        self.assertRunDone(pairing.run_sync(full=True))
        self.assertEqual(self.mc_member("gone@corp.com")["status"], "subscribed")

    def test_a_run_cut_off_by_the_pass_budget_goes_on_at_the_next_pass(self):
        pairing = self.make_pairing()
        selection = self.untagged(
            [{"email": f"cut{n:02d}@corp.com"} for n in range(30)]
        )
        self.wizard(selection, pairing).action_confirm()
        self.sandbox_control("DELETE", "requests")
        self.env["ir.cron.trigger"].search([]).unlink()
        Account = self.registry["mailchimp.account"]
        with patch.object(Account, "_cron_time_budget", lambda account: 0):
            self.cron_pass()
        run = self.contact_runs(pairing)
        self.assertEqual(run.state, "running", "cut off after its first chunk")
        self.assertTrue(
            self.triggered("mailchimp_connector.ir_cron_mailchimp_sync"),
            "the next pass is asked for at once",
        )
        self.cron_pass()
        self.assertRunDone(run)
        self.assertEqual(run.created_count, 30)
        self.assertEqual(len(self.mailchimp_members()), 30)
        self.assertEqual(
            len(batch_subscribe_calls(self.api_calls(), self.list_id)), 1, "sent once"
        )

    def test_a_paused_sync_ends_the_queued_run_and_sends_nothing(self):
        pairing = self.make_pairing()
        selection = self.untagged([{"email": "waiting@corp.com"}])
        self.wizard(selection, pairing).action_confirm()
        pairing.action_pause()
        self.sandbox_control("DELETE", "requests")
        self.cron_pass()
        run = self.contact_runs(pairing)
        self.assertEqual(run.state, "failed")
        self.assertIn("not active", run.message)
        self.assertEqual(self.api_calls(), [])


@tagged("post_install", "-at_install")
class TestSyncContactsNow(ContactActionsCase):
    def test_selected_contacts_both_ways_the_others_wait(self):
        ann, bob, cid = self.contacts(
            [
                {"email": "ann@corp.com", "name": "Ann Smith"},
                {"email": "bob@corp.com", "name": "Bob Stone"},
                {"email": "cid@corp.com", "name": "Cid Moore"},
            ]
        )
        pairing = self.make_pairing(direction="both")
        self.assertRunDone(pairing.run_sync())
        self.next_second()
        self.mailchimp_put("ann@corp.com", FNAME="Anna", LNAME="Smith")
        bob.name = "Robert Stone"
        cid.name = "Cidney Moore"  # changed too, not selected
        self.sandbox_control("DELETE", "requests")
        (ann | bob).action_mailchimp_sync_now()
        self.assertEqual(self.api_calls(), [], "in the background")
        self.cron_pass()
        run = self.contact_runs(pairing)
        self.assertRunDone(run)
        self.assertEqual(run.partner_ids, ann | bob)
        self.assertEqual(ann.name, "Anna Smith", "Mailchimp -> Odoo")
        members = self.mailchimp_members()
        self.assertEqual(members["bob@corp.com"]["merge_fields"]["FNAME"], "Robert")
        self.assertEqual(members["cid@corp.com"]["merge_fields"]["FNAME"], "Cid")
        self.assertEqual(run.http_requests, len(self.api_calls()))
        # the sync's own marks did not move: its next run still sends Cid
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(
            self.mailchimp_members()["cid@corp.com"]["merge_fields"]["FNAME"], "Cidney"
        )

    def test_500_contacts_synced_in_a_handful_of_requests(self):
        contacts = self.contacts(
            [{"email": f"c{n:03d}@corp.com", "name": f"C{n} Smith"} for n in range(500)]
        )
        pairing = self.make_pairing(direction="both")
        self.assertRunDone(pairing.run_sync())
        self.next_second()
        contacts[:250].write({"name": "Changed Smith"})
        self.sandbox_control("DELETE", "requests")
        contacts.action_mailchimp_sync_now()
        self.cron_pass()
        run = self.contact_runs(pairing)
        self.assertRunDone(run)
        calls = self.api_calls()
        _logger.info(
            "500 contacts synced now (250 changed): %s Mailchimp requests (%s)",
            len(calls),
            ", ".join(f"{c['method']} {c['api_path']}" for c in calls),
        )
        self.assertEqual(run.updated_count, 250)
        # members read by one /batches job, changes sent by another: submit, polls,
        # results each
        self.assertLessEqual(len(calls), 12)
        self.assertEqual(
            sum(
                1
                for m in self.mailchimp_members().values()
                if m["merge_fields"]["FNAME"] == "Changed"
            ),
            250,
        )

    def test_contacts_of_no_sync_get_a_warning(self):
        self.make_pairing()
        stranger = self.untagged([{"email": "stranger@corp.com"}])
        action = stranger.action_mailchimp_sync_now()
        self.assertEqual(action["params"]["type"], "warning")
        self.assertFalse(self.env["mailchimp.sync.run"].search([]))


@tagged("post_install", "-at_install")
class TestContactActionsAccess(ContactActionsCase):
    def test_salesperson_refreshes_activity_but_cannot_add_or_sync(self):
        partner = self.contact("ann0@corp.com", "Ann Smith")
        pairing = self.make_pairing(direction="odoo2mailchimp")
        self.assertRunDone(pairing.run_sync())
        as_salesperson = partner.with_user(self.salesperson)
        with self.assertRaises(AccessError):
            as_salesperson.action_mailchimp_add()
        with self.assertRaises(AccessError):
            as_salesperson.action_mailchimp_sync_now()
        with self.assertRaises(AccessError):
            as_salesperson.mailchimp_add_to_sync(pairing)
        with self.assertRaises(AccessError):
            self.env["mailchimp.partner.add"].with_user(self.salesperson).create(
                {"pairing_id": pairing.id}
            )
        self.assertFalse(pairing.added_partner_ids)
        self.assertFalse(self.contact_runs(pairing))
        with self.assertRaises(AccessError):
            partner.with_user(self.outsider).action_mailchimp_refresh_activity()
        # the Action menu shows each action to its group only
        names = {
            action["name"]
            for action in self.env["ir.actions.actions"]
            .with_user(self.salesperson)
            .get_bindings("res.partner")["action"]
        }
        self.assertIn("Refresh Mailchimp activity", names)
        self.assertNotIn("Add to Mailchimp…", names)
        self.assertNotIn("Sync with Mailchimp now", names)
        admin_names = {
            action["name"]
            for action in self.env["ir.actions.actions"].get_bindings("res.partner")[
                "action"
            ]
        }
        self.assertLessEqual(
            {"Add to Mailchimp…", "Sync with Mailchimp now"}, admin_names
        )
        # the server action itself refuses, whatever calls it
        server_action = self.env.ref(
            "mailchimp_connector.res_partner_action_mailchimp_add"
        )
        with self.assertRaises(AccessError):
            server_action.with_user(self.salesperson).with_context(
                active_model="res.partner", active_ids=partner.ids
            ).run()

    def test_refresh_activity_pulls_the_contacts_audiences_now(self):
        partner = self.contact("ann0@corp.com", "Ann Smith")
        pairing = self.make_pairing(direction="odoo2mailchimp")
        self.assertRunDone(pairing.run_sync())
        send_time = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(
            days=1
        )
        self.sandbox_control(
            "POST",
            "campaigns",
            {
                "list_id": self.list_id,
                "subject": "Spring offer",
                "send_time": send_time.isoformat(),
                "events": [
                    {
                        "email": "ann0@corp.com",
                        "action": "open",
                        "timestamp": (send_time + timedelta(minutes=5)).isoformat(),
                    }
                ],
            },
        )
        self.env["ir.cron.trigger"].search([]).unlink()
        action = partner.with_user(self.salesperson).action_mailchimp_refresh_activity()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("Newsletter", action["params"]["message"])
        self.assertTrue(
            self.triggered("mailchimp_connector.ir_cron_mailchimp_activity"),
            "the activity pull is woken now",
        )
        self.assertFalse(self.env["mailchimp.activity"].search([]), "not in the click")
        # the worker's pass
        self.env["mailchimp.campaign"]._cron_sync_activity()
        self.assertIn(
            "open",
            self.env["mailchimp.activity"]
            .search([("partner_id", "=", partner.id)])
            .mapped("action"),
        )

    def test_refresh_for_contacts_in_no_audience_warns(self):
        stranger = self.untagged([{"email": "stranger@corp.com"}])
        action = stranger.with_user(
            self.salesperson
        ).action_mailchimp_refresh_activity()
        self.assertEqual(action["params"]["type"], "warning")


@tagged("post_install", "-at_install")
class TestContactsAddTour(MailchimpSandboxMixin, HttpCase):
    """Contacts, select, Action, Add to Mailchimp…, the preview, Confirm."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        sandbox_url()

    def setUp(self):
        super().setUp()
        self.sandbox_control("POST", "reset")
        account = self.env["mailchimp.account"].create(
            {
                "name": "Tour account",
                "api_key": DEFAULT_API_KEY,
                "api_base_url": self.sandbox_api_url(),
            }
        )
        account.action_connect()
        self.pairing = self.env["mailchimp.pairing"].create(
            {
                "name": "Tour sync",
                "account_id": account.id,
                "audience_id": account.audience_ids.id,
                "partner_domain": "[('id', '=', 0)]",
                "state": "active",
                "next_sync_date": LATER,
            }
        )
        self.pairing.action_apply_default_mapping()
        self.contacts = self.env["res.partner"].create(
            [
                {"name": "Tour Add One", "email": "tour.add.one@corp.com"},
                {"name": "Tour Add Two", "email": "tour.add.two@corp.com"},
            ]
        )

    def test_contacts_add_tour(self):
        # the scheduler's worker, played in the request that asks for it
        Cron = self.registry["ir.cron"]
        self.patch(
            Cron,
            "_trigger",
            lambda cron, at=None: cron.env["mailchimp.pairing"]._cron_sync(),
        )
        self.start_tour(
            "/odoo/contacts?view_type=list",
            "mailchimp_contacts_add_tour",
            login="admin",
        )
        self.assertEqual(self.pairing.added_partner_ids, self.contacts)
        run = self.pairing.run_ids.filtered(lambda r: r.trigger == "contacts")
        self.assertEqual(run.state, "done", run.message)
        self.assertEqual(run.created_count, 2)
        self.assertEqual(
            set(self.pairing.member_ids.mapped("email")),
            {"tour.add.one@corp.com", "tour.add.two@corp.com"},
        )
