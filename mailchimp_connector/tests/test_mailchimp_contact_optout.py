# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Unsubscribe from Mailchimp and Forget in Mailchimp (GDPR erasure) on contacts,
on real Odoo against the sandbox: who may do what, the bulk requests, the notes,
and the forgotten mark that no sync, pull or webhook ever gets round."""

import logging

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged

from ..engine import optout
from ..utils.mailchimp_keys import subscriber_hash
from . import test_mailchimp_webhook
from .test_mailchimp_sync_faults import batch_subscribe_calls
from .test_mailchimp_sync_rules import SyncRulesCase

_logger = logging.getLogger(__name__)


class ContactOptOutCase(SyncRulesCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesperson = new_test_user(
            cls.env,
            login="mc_salesperson",
            name="Sally Sales",
            groups="base.group_user,base.group_partner_manager,"
            "mailchimp_connector.group_mailchimp_user",
            context={"no_reset_password": True},
        )
        cls.admin = new_test_user(
            cls.env,
            login="mc_admin",
            name="Ada Admin",
            groups="base.group_user,base.group_partner_manager,"
            "mailchimp_connector.group_mailchimp_manager",
            context={"no_reset_password": True},
        )

    def second_audience(self):
        """A second audience of the account, with its own sync of the same tag."""
        list_id = self.sandbox_control("POST", "lists", {"name": "Customers"})["id"]
        self.env["mailchimp.audience"]._sync_from_mailchimp(self.account)
        audience = self.account.audience_ids.filtered(
            lambda a: a.mailchimp_list_id == list_id
        )
        return audience, self.make_pairing(
            name="Customers sync", audience_id=audience.id
        )

    def wizard(self, model, partners, user, **vals):
        """The wizard as the Action menu opens it, for ``user``."""
        partners = partners.with_user(user)
        if model == "mailchimp.partner.forget":
            action = partners.action_mailchimp_forget()
        else:
            action = partners.action_mailchimp_unsubscribe()
        wizard = self.env[model].with_user(user).browse(action["res_id"])
        wizard.write(vals)
        return wizard

    def unsubscribe(self, partners, user=None, reason="Asked by phone"):
        wizard = self.wizard(
            "mailchimp.partner.unsubscribe",
            partners,
            user or self.salesperson,
            reason=reason,
        )
        return wizard.action_confirm()

    def forget(self, partners, user=None):
        wizard = self.wizard("mailchimp.partner.forget", partners, user or self.admin)
        return wizard.action_confirm()

    def member_status(self, email, list_id=None):
        list_id = list_id or self.list_id
        try:
            return self.client.get(
                f"/lists/{list_id}/members/{subscriber_hash(email)}"
            )["status"]
        except Exception:
            return None

    def writes(self):
        return [call for call in self.api_calls() if call["method"] != "GET"]

    def notes(self, partner, text="Mailchimp"):
        """The partner's notes that speak of ``text`` (newest first)."""
        return partner.message_ids.filtered(
            lambda m: m.subtype_id == self.env.ref("mail.mt_note")
            and text in (m.body or "")
        )


@tagged("post_install", "-at_install")
class TestUnsubscribeFromMailchimp(ContactOptOutCase):
    def test_salesperson_unsubscribes_in_every_audience_with_a_note(self):
        ann, bob = self.contacts([{"email": "ann@corp.com"}, {"email": "bob@corp.com"}])
        pairing = self.make_pairing()
        audience, other = self.second_audience()
        self.assertRunDone(pairing.run_sync())
        self.assertRunDone(other.run_sync())
        other_list = audience.mailchimp_list_id
        wizard = self.wizard("mailchimp.partner.unsubscribe", ann, self.salesperson)
        self.assertEqual(wizard.audience_names, "Customers, Newsletter")
        self.sandbox_control("DELETE", "requests")
        action = self.unsubscribe(ann, reason="Called: no more newsletters")
        self.assertEqual(action["params"]["type"], "success")
        # one batch subscribe call per audience, nothing else
        self.assertEqual(len(self.api_calls()), 2)
        self.assertEqual(len(batch_subscribe_calls(self.api_calls(), self.list_id)), 1)
        self.assertEqual(len(batch_subscribe_calls(self.api_calls(), other_list)), 1)
        self.assertEqual(self.member_status("ann@corp.com"), "unsubscribed")
        self.assertEqual(self.member_status("ann@corp.com", other_list), "unsubscribed")
        self.assertEqual(self.member_status("bob@corp.com"), "subscribed")
        self.assertEqual(
            set(ann.mailchimp_member_ids.mapped("status")), {"unsubscribed"}
        )
        self.assertEqual(ann.mailchimp_status, "unsubscribed")
        note = self.notes(ann)[:1]
        self.assertIn("Called: no more newsletters", note.body)
        self.assertIn("Sally Sales", note.body)
        self.assertIn("Customers, Newsletter", note.body)
        self.assertEqual(note.author_id, self.salesperson.partner_id)
        self.assertFalse(self.notes(bob))
        # the next runs keep it so: nothing is sent back for it
        self.next_second()
        self.sandbox_control("DELETE", "requests")
        self.assertRunDone(pairing.run_sync(full=True))
        self.assertEqual(self.member_status("ann@corp.com"), "unsubscribed")
        ann_hash = subscriber_hash("ann@corp.com")
        self.assertFalse([c for c in self.writes() if ann_hash in c["path"]])

    def test_500_contacts_are_one_request_per_audience(self):
        partners = self.contacts(
            [{"email": f"person{n:03d}@corp.com"} for n in range(500)]
        )
        pairing = self.make_pairing()
        self.assertRunDone(pairing.run_sync())
        self.sandbox_control("DELETE", "requests")
        self.unsubscribe(partners)
        calls = self.api_calls()
        # measured: 1 request (one batch subscribe of 500 members)
        self.assertEqual(len(calls), 1, calls)
        self.assertEqual(len(batch_subscribe_calls(calls, self.list_id)), 1)
        self.assertEqual(
            {m["status"] for m in self.mailchimp_members().values()}, {"unsubscribed"}
        )
        self.assertEqual(set(pairing.member_ids.mapped("status")), {"unsubscribed"})
        self.assertEqual(
            len(self.notes(partners).filtered(lambda m: "Asked by phone" in m.body)),
            500,
        )

    def test_already_out_and_not_members_send_nothing(self):
        ann, bob = self.contacts([{"email": "ann@corp.com"}, {"email": "bob@corp.com"}])
        pairing = self.make_pairing()
        self.assertRunDone(pairing.run_sync())
        self.member_action("ann@corp.com", "unsubscribe")
        self.next_second()
        self.assertRunDone(pairing.run_sync())
        outsider = self.env["res.partner"].create(
            {"name": "Out", "email": "out@elsewhere.com"}
        )
        self.sandbox_control("DELETE", "requests")
        self.unsubscribe(ann | outsider)
        self.assertEqual(self.api_calls(), [])
        self.assertTrue(self.notes(ann))  # the request is recorded all the same
        self.assertFalse(self.notes(outsider))
        self.assertEqual(self.member_status("bob@corp.com"), "subscribed")

    def test_mailchimp_refusing_leaves_the_member_as_it_was(self):
        ann = self.contact("ann@corp.com")
        pairing = self.make_pairing()
        self.assertRunDone(pairing.run_sync())
        with self.sandbox_fault(
            status=503,
            count=100,
            method="POST",
            path_pattern=f"^/lists/{self.list_id}$",
        ):
            action = self.unsubscribe(ann)
        self.assertEqual(action["params"]["type"], "warning")
        self.assertIn("ann@corp.com", action["params"]["message"])
        self.assertEqual(pairing.member_ids.status, "subscribed")
        self.assertEqual(self.member_status("ann@corp.com"), "subscribed")
        self.assertFalse(self.notes(ann))

    def test_reason_is_required_and_non_mailchimp_users_cannot_run_it(self):
        ann = self.contact("ann@corp.com")
        self.assertRunDone(self.make_pairing().run_sync())
        wizard = self.wizard("mailchimp.partner.unsubscribe", ann, self.salesperson)
        wizard.reason = "  "
        with self.assertRaises(UserError):
            wizard.action_confirm()
        self.assertEqual(self.member_status("ann@corp.com"), "subscribed")
        stranger = new_test_user(
            self.env,
            login="no_mailchimp",
            groups="base.group_user,base.group_partner_manager",
        )
        with self.assertRaises(AccessError):
            ann.with_user(stranger).action_mailchimp_unsubscribe()
        wizard = self.env["mailchimp.partner.unsubscribe"].create(
            {"partner_ids": [Command.set(ann.ids)], "reason": "x"}
        )
        with self.assertRaises(AccessError):
            wizard.with_user(stranger).action_confirm()
        action = self.env.ref(
            "mailchimp_connector.res_partner_action_mailchimp_unsubscribe"
        )
        self.assertEqual(
            action.groups_id, self.env.ref("mailchimp_connector.group_mailchimp_user")
        )
        self.assertEqual(action.binding_model_id.model, "res.partner")


@tagged("post_install", "-at_install")
class TestForgetInMailchimp(ContactOptOutCase):
    def test_salesperson_cannot_forget(self):
        ann = self.contact("ann@corp.com")
        self.assertRunDone(self.make_pairing().run_sync())
        with self.assertRaises(AccessError):
            ann.with_user(self.salesperson).action_mailchimp_forget()
        with self.assertRaises(AccessError):
            self.env["mailchimp.partner.forget"].with_user(self.salesperson).create(
                {"partner_ids": [Command.set(ann.ids)]}
            )
        wizard = self.env["mailchimp.partner.forget"].create(
            {"partner_ids": [Command.set(ann.ids)]}
        )
        with self.assertRaises(AccessError):
            wizard.with_user(self.salesperson).action_confirm()
        self.assertEqual(self.member_status("ann@corp.com"), "subscribed")
        self.assertFalse(ann.mailchimp_forgotten)
        action = self.env.ref("mailchimp_connector.res_partner_action_mailchimp_forget")
        self.assertEqual(
            action.groups_id,
            self.env.ref("mailchimp_connector.group_mailchimp_manager"),
        )

    def test_forgotten_is_erased_and_never_added_again_by_a_full_run(self):
        ann, bob = self.contacts([{"email": "ann@corp.com"}, {"email": "bob@corp.com"}])
        pairing = self.make_pairing(create_missing=True, default_owner_id=self.owner.id)
        audience, other = self.second_audience()
        self.assertRunDone(pairing.run_sync())
        self.assertRunDone(other.run_sync())
        wizard = self.wizard("mailchimp.partner.forget", ann, self.admin)
        self.assertEqual(wizard.audience_names, "Customers, Newsletter")
        self.sandbox_control("DELETE", "requests")
        action = wizard.action_confirm()
        self.assertEqual(action["params"]["type"], "success")
        calls = self.api_calls()
        # measured: 2 requests, one delete-permanent per audience
        self.assertEqual(len(calls), 2, calls)
        self.assertTrue(
            all(c["path"].endswith("/actions/delete-permanent") for c in calls)
        )
        self.assertIsNone(self.mc_member("ann@corp.com"))
        self.assertIsNone(
            self.member_status("ann@corp.com", audience.mailchimp_list_id)
        )
        self.assertEqual(self.member_status("bob@corp.com"), "subscribed")
        self.assertTrue(ann.mailchimp_forgotten)
        self.assertTrue(ann.mailchimp_forgotten_date)
        self.assertFalse(ann.mailchimp_member_ids)
        self.assertFalse(
            self.env["mailchimp.member"].search([("email", "=", "ann@corp.com")])
        )
        note = self.notes(ann)[:1]
        self.assertIn("Customers, Newsletter", note.body)
        self.assertIn("Ada Admin", note.body)
        self.assertTrue(ann.exists() and ann.active)  # Odoo's record stays
        # a full run of each sync: not added again, not even tried
        self.next_second()
        self.sandbox_control("DELETE", "requests")
        ann.write({"name": "Ann Changed"})
        for sync in (pairing, other):
            run = sync.run_sync(full=True)
            self.assertRunDone(run)
            self.assertFalse(run.failure_ids.filtered(lambda f: f.partner_id == ann))
        # had a push tried, Mailchimp would have refused it (a failure line)
        self.assertIsNone(self.mc_member("ann@corp.com"))
        self.assertFalse(ann.mailchimp_member_ids)

    def test_a_pull_never_links_or_creates_a_forgotten_address(self):
        ann = self.contact("ann@corp.com")
        pairing = self.make_pairing(create_missing=True, default_owner_id=self.owner.id)
        self.assertRunDone(pairing.run_sync())
        self.forget(ann)
        # only the person can join again, through a Mailchimp form
        self.member_action("ann@corp.com", "subscribe")
        self.next_second()
        for full in (False, True):
            run = pairing.run_sync(full=full)
            self.assertRunDone(run)
            self.assertEqual(self.partners_with_email("ann@corp.com"), ann)
            self.assertFalse(
                pairing.member_ids.filtered(lambda m: m.email == "ann@corp.com")
            )
            skipped = self.failures(run, "skipped")
            self.assertEqual(skipped.mapped("email"), ["ann@corp.com"])
            self.assertIn("Forgotten", skipped.reason)
            self.assertEqual(run.skipped_count, 1)
            self.assertEqual(run.created_count, 0)
            self.next_second()

    def test_many_contacts_are_erased_by_one_batch_job(self):
        partners = self.contacts(
            [
                {"email": f"gone{n:02d}@corp.com"}
                for n in range(optout.DELETE_DIRECTLY * 3)
            ]
        )
        pairing = self.make_pairing()
        self.assertRunDone(pairing.run_sync())
        keep = self.contact("keep@corp.com")
        self.assertRunDone(pairing.run_sync())
        self.sandbox_control("DELETE", "requests")
        self.forget(partners)
        calls = self.api_calls()
        self.assertFalse([c for c in calls if "delete-permanent" in c["path"]])
        self.assertEqual(
            [c["api_path"] for c in calls if c["method"] == "POST"], ["/batches"]
        )
        # the job and its polls (the results' download is not an API call)
        self.assertLessEqual(len(calls), 4, calls)
        _logger.info("forget of %s contacts: %s requests", len(partners), len(calls))
        self.assertEqual(sorted(self.mailchimp_members()), ["keep@corp.com"])
        self.assertEqual(pairing.member_ids.partner_id, keep)
        self.assertTrue(all(partners.mapped("mailchimp_forgotten")))

    def test_only_a_mailchimp_administrator_lifts_the_mark(self):
        ann = self.contact("ann@corp.com")
        pairing = self.make_pairing()
        self.assertRunDone(pairing.run_sync())
        self.forget(ann)
        with self.assertRaises(AccessError):
            ann.with_user(self.salesperson).write({"mailchimp_forgotten": False})
        with self.assertRaises(AccessError):
            ann.with_user(self.salesperson).action_mailchimp_unforget()
        self.assertTrue(ann.mailchimp_forgotten)
        # setting it is harmless, only lifting it is guarded
        bob = self.contact("bob@corp.com")
        bob.with_user(self.salesperson).write({"name": "Bob B."})
        ann.with_user(self.admin).action_mailchimp_unforget()
        self.assertFalse(ann.mailchimp_forgotten)
        self.assertFalse(ann.mailchimp_forgotten_date)
        self.assertIn("Ada Admin", self.notes(ann)[:1].body)
        # lifted: the sync may add the person again (Mailchimp itself then decides)
        self.assertIn(ann, self.env["res.partner"].search(pairing._segment_domain()))


@tagged("post_install", "-at_install")
class TestForgottenByWebhook(ContactOptOutCase, HttpCase):
    active_pairing = test_mailchimp_webhook.TestMailchimpWebhook.active_pairing
    deliver = test_mailchimp_webhook.TestMailchimpWebhook.deliver

    def setUp(self):
        super().setUp()
        self.sandbox_control("DELETE", "webhooks/deliveries")

    def test_a_delivery_never_relinks_or_recreates_a_forgotten_contact(self):
        pairing = self.active_pairing(
            ("ann@corp.com", "Ann Smith"),
            create_missing=True,
            default_owner_id=self.owner.id,
        )
        ann = pairing.member_ids.partner_id
        self.forget(ann)
        self.assertTrue(ann.mailchimp_forgotten)
        deliveries = self.deliver("ann@corp.com", "subscribe")
        self.assertEqual(deliveries[0]["status"], 200)
        self.assertEqual(self.partners_with_email("ann@corp.com"), ann)
        self.assertFalse(pairing.member_ids)
        run = pairing.run_ids.filtered(lambda r: r.trigger == "webhook")
        self.assertEqual(run.failure_ids.mapped("email"), ["ann@corp.com"])
        self.assertEqual(run.created_count, 0)
