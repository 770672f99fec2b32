# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""F19: Mailchimp webhooks, registered on the sandbox and delivered over real HTTP
to Odoo's test server (the sandbox POSTs each event as Mailchimp does)."""

import logging
import time
from unittest.mock import patch
from urllib.parse import urlencode

from odoo import http as odoo_http
from odoo.exceptions import AccessError, UserError
from odoo.modules.neutralize import get_neutralization_queries
from odoo.tests import HttpCase, new_test_user, tagged

from ..engine import webhooks
from ..hooks import uninstall_hook
from ..utils.webhook_events import EVENTS
from .common import DEFAULT_API_KEY, sandbox_url
from .test_mailchimp_sync_rules import SyncRulesCase

WEBHOOK = "/mailchimp/webhook"


@tagged("post_install", "-at_install")
class TestMailchimpWebhook(SyncRulesCase, HttpCase):
    def setUp(self):
        super().setUp()
        self.sandbox_control("DELETE", "webhooks/deliveries")

    # -- helpers ---------------------------------------------------------------

    def active_pairing(self, *contacts, **vals):
        """A pairing activated as a person does (Start Sync), its members linked."""
        for email, name in contacts:
            self.contact(email, name)
        pairing = self.make_pairing(state="draft", **vals)
        pairing.action_start_sync()
        self.assertEqual(pairing.webhook_state, "registered", pairing.webhook_error)
        self.assertRunDone(pairing.run_sync())
        return pairing

    def mc_webhooks(self):
        return self.client.get(f"/lists/{self.list_id}/webhooks")["webhooks"]

    def deliver(self, email, action, **extra):
        """A person's change in Mailchimp; the sandbox delivers it before answering."""
        self.env.flush_all()
        deliveries = self.member_action(email, action, **extra)["deliveries"]
        self.env.invalidate_all()
        return deliveries

    def post_webhook(self, token, fields, headers=None):
        self.env.flush_all()
        path = f"{WEBHOOK}/{token}" if token is not None else WEBHOOK
        response = self.url_open(path, data=fields, headers=headers)
        self.env.invalidate_all()
        return response

    def webhook_run(self, pairing):
        return pairing.run_ids.filtered(lambda r: r.trigger == "webhook")

    # -- registration ----------------------------------------------------------

    def test_activation_registers_for_member_events_from_people_not_the_api(self):
        pairing = self.active_pairing(("ann@corp.com", "Ann Smith"))
        hooks = self.mc_webhooks()
        self.assertEqual(len(hooks), 1)
        hook = hooks[0]
        self.assertEqual(hook["id"], pairing.webhook_id)
        self.assertEqual(
            hook["url"], f"{self.base_url()}{WEBHOOK}/{pairing.webhook_token}"
        )
        self.assertGreaterEqual(len(pairing.webhook_token), 40)
        self.assertEqual({e for e, on in hook["events"].items() if on}, set(EVENTS))
        self.assertFalse(hook["events"]["campaign"])
        self.assertEqual(hook["sources"], {"user": True, "admin": True, "api": False})
        self.assertFalse(pairing.webhook_error)
        # the sandbox checked the URL with a GET before accepting it; so does Mailchimp
        response = self.url_open(f"{WEBHOOK}/{pairing.webhook_token}")
        self.assertEqual((response.status_code, response.content), (200, b""))

    def test_reregister_replaces_the_webhook_and_its_secret(self):
        pairing = self.active_pairing(("ann@corp.com", "Ann Smith"))
        old_id, old_token = pairing.webhook_id, pairing.webhook_token
        pairing.action_webhook_register()
        self.assertNotEqual(pairing.webhook_token, old_token)
        self.assertEqual([h["id"] for h in self.mc_webhooks()], [pairing.webhook_id])
        self.assertNotEqual(pairing.webhook_id, old_id)
        # the old secret no longer opens anything
        response = self.post_webhook(old_token, {"type": "unsubscribe"})
        self.assertEqual((response.status_code, response.content), (404, b""))

    def test_unreachable_base_url_is_reported_and_does_not_block_activation(self):
        self.env["ir.config_parameter"].set_param(
            "web.base.url", "http://localhost:8069"
        )
        # as with the real API: the check is made before any call
        self.account.api_base_url = "https://{dc}.api.mailchimp.com/3.0"
        pairing = self.make_pairing(state="draft")
        action = pairing.action_start_sync()
        self.assertEqual(pairing.state, "active")
        self.assertEqual(pairing.webhook_state, "failed")
        self.assertIn("http://localhost:8069", pairing.webhook_error)
        self.assertIn("web.base.url", pairing.webhook_error)
        self.assertEqual(action["params"]["type"], "warning")
        self.assertIn("Real-time updates are off", action["params"]["message"])
        self.assertTrue(pairing.sync_requested)

    def test_mailchimp_refusing_the_url_is_recorded(self):
        # nothing listens there: the sandbox's
        # validation GET fails, as Mailchimp's would
        self.env["ir.config_parameter"].set_param("web.base.url", "http://127.0.0.1:9")
        pairing = self.make_pairing(state="draft")
        pairing.action_start_sync()
        self.assertEqual(pairing.state, "active")
        self.assertEqual(pairing.webhook_state, "failed")
        self.assertIn("verify the URL", pairing.webhook_error)
        self.assertFalse(pairing.webhook_id)
        self.assertFalse(self.mc_webhooks())

    # -- removal -----------------------------------------------------------------

    def test_delete_pause_and_disconnect_remove_the_webhook(self):
        deleted = self.active_pairing(("ann@corp.com", "Ann Smith"))
        deleted.unlink()
        self.assertFalse(self.mc_webhooks())

        paused = self.active_pairing()
        paused.action_pause()
        self.assertFalse(self.mc_webhooks())
        self.assertEqual(paused.webhook_state, "none")
        self.assertFalse(paused.webhook_token)
        paused.action_resume()
        self.assertEqual(paused.webhook_state, "registered")
        self.assertEqual([h["id"] for h in self.mc_webhooks()], [paused.webhook_id])

        token = paused.webhook_token
        self.account.action_disconnect()
        self.assertFalse(self.mc_webhooks())
        self.assertEqual(paused.webhook_state, "none")
        self.assertFalse(paused.webhook_token)
        response = self.post_webhook(token, {"type": "unsubscribe"})
        self.assertEqual(response.status_code, 404)

    def test_uninstalling_takes_the_webhooks_off_mailchimp(self):
        registered = self.active_pairing(("ann@corp.com", "Ann Smith"))
        gone = self.active_pairing()
        self.client.delete(f"/lists/{self.list_id}/webhooks/{gone.webhook_id}")
        self.assertEqual([h["id"] for h in self.mc_webhooks()], [registered.webhook_id])
        uninstall_hook(self.env)
        self.assertFalse(self.mc_webhooks())
        self.assertFalse(registered.webhook_token)
        self.assertEqual((registered | gone).mapped("webhook_state"), ["none", "none"])
        self.assertFalse(registered.webhook_error)

    def test_uninstalling_goes_on_when_mailchimp_cannot_be_reached(self):
        pairing = self.active_pairing(("ann@corp.com", "Ann Smith"))
        webhook_id = pairing.webhook_id
        with self.sandbox_fault(status=401, count=5):
            uninstall_hook(self.env)
        # the secret is forgotten (Odoo answers 404), the reason is kept for the log
        self.assertFalse(pairing.webhook_token)
        self.assertIn(pairing.audience_id.name, pairing.webhook_error)
        self.assertEqual([h["id"] for h in self.mc_webhooks()], [webhook_id])

    def test_removal_tolerates_a_webhook_already_gone(self):
        pairing = self.active_pairing(("ann@corp.com", "Ann Smith"))
        self.client.delete(f"/lists/{self.list_id}/webhooks/{pairing.webhook_id}")
        pairing.action_pause()
        self.assertEqual(pairing.webhook_state, "none")
        self.assertFalse(pairing.webhook_error)
        other = self.active_pairing()
        self.client.delete(f"/lists/{self.list_id}/webhooks/{other.webhook_id}")
        other.unlink()
        self.assertFalse(other.exists())

    # -- the endpoint --------------------------------------------------------------

    def test_unknown_or_missing_token_gets_a_bare_404(self):
        pairing = self.active_pairing(("ann@corp.com", "Ann Smith"))
        body = {
            "type": "unsubscribe",
            "data[list_id]": self.list_id,
            "data[email]": "ann@corp.com",
        }
        for token in (
            "wrong",
            pairing.webhook_token[:-1],
            pairing.webhook_token + "x",
            "",
            None,
        ):
            response = self.post_webhook(token, body)
            self.assertEqual(response.status_code, 404, token)
            self.assertEqual(response.content, b"", token)
        response = self.url_open(f"{WEBHOOK}/")
        self.assertEqual((response.status_code, response.content), (404, b""))
        self.assertEqual(pairing.member_ids.status, "subscribed")
        # a paused sync's secret is forgotten: its URL is unknown too
        token = pairing.webhook_token
        pairing.action_pause()
        self.assertEqual(self.post_webhook(token, body).status_code, 404)

    def test_unsubscribe_shows_in_odoo_at_once(self):
        pairing = self.active_pairing(("ann@corp.com", "Ann Smith"))
        ann = pairing.member_ids.partner_id
        self.assertEqual(ann.mailchimp_status, "subscribed")
        deliveries = self.deliver("ann@corp.com", "unsubscribe")
        self.assertEqual(
            [(d["type"], d["status"]) for d in deliveries], [("unsubscribe", 200)]
        )
        self.assertLess(deliveries[0]["seconds"], 1.0)
        self.assertEqual(pairing.member_ids.status, "unsubscribed")
        self.assertEqual(ann.mailchimp_status, "unsubscribed")
        self.assertTrue(pairing.webhook_last_event_date)
        run = self.webhook_run(pairing)
        self.assertEqual(
            (run.state, run.progress_done, run.updated_count), ("done", 1, 0)
        )
        # the person subscribes again through a form
        self.assertEqual(self.deliver("ann@corp.com", "subscribe")[0]["status"], 200)
        self.assertEqual(ann.mailchimp_status, "subscribed")
        self.assertEqual(self.webhook_run(pairing), run)  # one history entry per day
        self.assertEqual(run.progress_done, 2)

    def test_cleaned_address(self):
        pairing = self.active_pairing(("bob@corp.com", "Bob Bounce"))
        self.assertEqual(self.deliver("bob@corp.com", "cleaned")[0]["status"], 200)
        self.assertEqual(pairing.member_ids.status, "cleaned")
        self.assertEqual(pairing.member_ids.partner_id.mailchimp_status, "cleaned")

    def test_subscribe_of_a_new_person_creates_the_contact_when_asked(self):
        pairing = self.active_pairing(
            create_missing=True, default_owner_id=self.owner.id
        )
        deliveries = self.deliver(
            "new@corp.com", "subscribe", merges={"FNAME": "Nina", "LNAME": "New"}
        )
        self.assertEqual(deliveries[0]["status"], 200)
        partner = self.partners_with_email("new@corp.com")
        self.assertEqual(len(partner), 1)
        self.assertEqual(partner.name, "Nina New")
        self.assertEqual(partner.user_id, self.owner)
        self.assertEqual(pairing.member_ids.partner_id, partner)
        self.assertEqual(self.webhook_run(pairing).created_count, 1)
        note = self.env["mail.message"].search(
            [
                ("model", "=", "res.partner"),
                ("res_id", "=", partner.id),
                ("body", "ilike", "Created from Mailchimp"),
            ]
        )
        self.assertEqual(len(note), 1)
        self.assertIn(f"by the webhook of the sync {pairing.name}", note.body)

    def _profile_conflict(self, winner):
        pairing = self.active_pairing(
            ("ann@corp.com", "Ann Smith"), conflict_winner=winner
        )
        ann = pairing.member_ids.partner_id
        ann.name = "Annie Smith"  # FNAME changed in Odoo too: a conflict
        deliveries = self.deliver(
            "ann@corp.com", "profile", merges={"FNAME": "Anna", "LNAME": "Smythe"}
        )
        self.assertEqual(deliveries[0]["status"], 200)
        self.assertEqual(self.webhook_run(pairing).conflict_count, 1)
        return pairing, ann

    def test_profile_edit_mailchimp_wins(self):
        pairing, ann = self._profile_conflict("mailchimp")
        self.assertEqual(ann.name, "Anna Smythe")
        self.assertFalse(pairing.member_ids.need_push)

    def test_profile_edit_odoo_wins(self):
        pairing, ann = self._profile_conflict("odoo")
        self.assertEqual(ann.name, "Annie Smythe")
        # Odoo's winning value still has to reach Mailchimp: the next push sends it
        self.assertTrue(pairing.member_ids.need_push)
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(
            self.mc_member("ann@corp.com")["merge_fields"]["FNAME"], "Annie"
        )

    def test_email_change_renames_the_contact_without_duplicate(self):
        pairing = self.active_pairing(
            ("eve@corp.com", "Eve Moved"),
            create_missing=True,
            default_owner_id=self.owner.id,
        )
        eve = pairing.member_ids.partner_id
        deliveries = self.deliver(
            "eve@corp.com", "upemail", new_email="eve.new@corp.com"
        )
        self.assertEqual(
            [(d["type"], d["status"]) for d in deliveries], [("upemail", 200)]
        )
        self.assertEqual(eve.email, "eve.new@corp.com")
        self.assertFalse(self.partners_with_email("eve@corp.com"))
        self.assertEqual(self.partners_with_email("eve.new@corp.com"), eve)
        self.assertEqual(len(pairing.member_ids), 1)
        self.assertEqual(pairing.member_ids.email, "eve.new@corp.com")
        self.assertEqual(self.webhook_run(pairing).created_count, 0)

    def test_redelivery_changes_nothing(self):
        pairing = self.active_pairing(("ann@corp.com", "Ann Smith"))
        delivery = self.deliver("ann@corp.com", "profile", merges={"FNAME": "Anna"})[0]
        ann, member = pairing.member_ids.partner_id, pairing.member_ids
        self.assertEqual(ann.name, "Anna Smith")
        run = self.webhook_run(pairing)
        stamps = (
            ann.write_date,
            member.write_date,
            run.updated_count,
            run.unchanged_count,
        )
        self.env.cr.execute(
            "SELECT count(*) FROM mail_message WHERE model = 'res.partner'"
        )
        messages = self.env.cr.fetchone()[0]
        # Mailchimp sends the very same body again (a retry)
        response = self.post_webhook(pairing.webhook_token, delivery["data"])
        self.assertEqual((response.status_code, response.content), (200, b""))
        self.assertEqual(ann.name, "Anna Smith")
        self.assertEqual(
            (ann.write_date, member.write_date, run.updated_count),
            stamps[:3],
        )
        self.assertEqual(run.unchanged_count, stamps[3] + 1)
        self.assertEqual(run.progress_done, 2)
        self.env.cr.execute(
            "SELECT count(*) FROM mail_message WHERE model = 'res.partner'"
        )
        self.assertEqual(self.env.cr.fetchone()[0], messages)

    def test_an_old_delivery_arriving_late_does_not_undo_a_newer_change(self):
        pairing = self.active_pairing(("ann@corp.com", "Ann Smith"))
        unsubscribe = self.deliver("ann@corp.com", "unsubscribe")[0]
        self.deliver("ann@corp.com", "subscribe")
        self.post_webhook(pairing.webhook_token, unsubscribe["data"])
        self.assertEqual(pairing.member_ids.status, "subscribed")

    def test_events_the_sync_does_not_follow_are_answered_and_ignored(self):
        pairing = self.active_pairing(("ann@corp.com", "Ann Smith"))
        for body in (
            {"type": "campaign", "data[id]": "c1", "data[list_id]": self.list_id},
            {
                "type": "unsubscribe",
                "data[list_id]": "another",
                "data[email]": "ann@corp.com",
            },
        ):
            response = self.post_webhook(pairing.webhook_token, body)
            self.assertEqual((response.status_code, response.content), (200, b""), body)
        self.assertEqual(pairing.member_ids.status, "subscribed")
        self.assertFalse(self.webhook_run(pairing))

    def test_a_body_that_is_not_a_delivery_gets_400_quickly(self):
        """Authenticated but not Mailchimp's form: refused at once with a bare 400,
        nothing read from Mailchimp, nothing changed. A body of too many fields or
        that is not a form is refused before Odoo parses it at all."""
        pairing = self.active_pairing(("ann@corp.com", "Ann Smith"))
        almost_1mb = "x" * (1024 * 1024 - 4096)
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        bodies = {  # name: (body as sent, headers, refused before Odoo parses it)
            "junk": (urlencode({"junk": "x"}), form, False),
            "no address": (
                urlencode({"type": "unsubscribe", "data[list_id]": self.list_id}),
                form,
                False,
            ),
            "nested too deep": (
                urlencode({"type": "profile", "data[a][b][c][d][e][f]": "x"}),
                form,
                False,
            ),
            "one huge field": (
                urlencode(
                    {"type": "profile", "data[list_id]": self.list_id, "x": almost_1mb}
                ),
                form,
                False,
            ),
            "huge field name": (
                urlencode({"data[" + "y" * 500000 + "]": "x"}),
                form,
                False,
            ),
            "too many fields": (
                urlencode({f"data[merges][F{n}]": "v" for n in range(20000)}),
                form,
                True,
            ),
            # Odoo itself would parse this for most of a second before calling the route
            "a quarter million tiny fields": ("&".join(["a=b"] * 250000), form, True),
            "not a form": (
                b'{"type": "unsubscribe"}',
                {"Content-Type": "application/json"},
                True,
            ),
        }
        self.sandbox_control("DELETE", "requests")
        parse = odoo_http.Request.get_http_params
        for name, (body, headers, unparsed) in bodies.items():
            timings = []
            for _attempt in range(3):  # the best of three: the machine may be busy
                with patch.object(
                    odoo_http.Request,
                    "get_http_params",
                    autospec=True,
                    side_effect=parse,
                ) as parsing:
                    started = time.monotonic()
                    response = self.post_webhook(pairing.webhook_token, body, headers)
                    timings.append(time.monotonic() - started)
                self.assertEqual(
                    (response.status_code, response.content), (400, b""), name
                )
                self.assertEqual(parsing.called, not unparsed, name)
            self.assertLess(min(timings), 0.2, name)
        self.assertFalse(
            self.api_calls(), "no member is read for a body Odoo cannot use"
        )
        self.assertEqual(pairing.member_ids.status, "subscribed")
        self.assertFalse(self.webhook_run(pairing))

    def test_bodies_over_1_mb_get_413_before_being_parsed(self):
        pairing = self.active_pairing(("ann@corp.com", "Ann Smith"))
        body = {
            "type": "unsubscribe",
            "data[list_id]": self.list_id,
            "data[email]": "ann@corp.com",
            "data[merges][NOTE]": "x" * (1024 * 1024),
        }
        for token in (pairing.webhook_token, "wrong"):
            with patch.object(webhooks, "pairing_for_token", autospec=True) as lookup:
                started = time.monotonic()
                response = self.post_webhook(token, body)
                elapsed = time.monotonic() - started
            self.assertEqual(response.status_code, 413, token)
            lookup.assert_not_called()
            self.assertLess(elapsed, 0.5)
        self.assertEqual(pairing.member_ids.status, "subscribed")
        # a delivery just under the limit is read as usual
        body["data[merges][NOTE]"] = "x" * 1000
        self.assertEqual(
            self.post_webhook(pairing.webhook_token, body).status_code, 200
        )
        # re-read: still subscribed
        self.assertEqual(pairing.member_ids.status, "subscribed")

    def test_our_own_api_writes_are_not_echoed(self):
        pairing = self.active_pairing(("ann@corp.com", "Ann Smith"))
        # a probe listening to api events (on the sandbox itself) shows they do fire
        probe = self.client.post(
            f"/lists/{self.list_id}/webhooks",
            json={
                "url": f"{sandbox_url()}/_sandbox/health",
                "events": {event: True for event in EVENTS},
                "sources": {"user": False, "admin": False, "api": True},
            },
        )
        ann = pairing.member_ids.partner_id
        ann.name = "Ann Changed"
        self.contact("zoe@corp.com", "Zoe New")
        run = pairing.run_sync()  # a batch subscribe and a PATCH through /batches
        self.assertRunDone(run)
        self.assertEqual(
            self.mc_member("ann@corp.com")["merge_fields"]["LNAME"], "Changed"
        )
        self.assertEqual(self.mc_member("zoe@corp.com")["status"], "subscribed")
        self.client.patch(
            self.member_path("zoe@corp.com"), json={"status": "unsubscribed"}
        )
        self.member_action(
            "ann@corp.com", "profile", source="api", merges={"FNAME": "Api"}
        )
        deliveries = self.sandbox_control("GET", "webhooks/deliveries?wait=1")[
            "deliveries"
        ]
        self.assertEqual({d["webhook_id"] for d in deliveries}, {probe["id"]})
        self.assertEqual(
            {d["type"] for d in deliveries}, {"subscribe", "profile", "unsubscribe"}
        )
        # while a person's change is delivered to Odoo
        deliveries = self.deliver("ann@corp.com", "profile", merges={"FNAME": "Ann"})
        self.assertEqual([d["webhook_id"] for d in deliveries], [pairing.webhook_id])

    def test_deliveries_are_deferred_while_a_run_holds_the_sync(self):
        pairing = self.active_pairing(("ann@corp.com", "Ann Smith"))
        pairing.sync_requested = False
        tried = []

        def busy(pairing):
            tried.append(pairing.id)
            return False

        with patch.object(webhooks, "_try_lock", busy):
            self.assertEqual(
                self.deliver("ann@corp.com", "unsubscribe")[0]["status"], 200
            )
        self.assertEqual(tried, [pairing.id])
        self.assertEqual(pairing.member_ids.status, "subscribed")
        self.assertTrue(pairing.sync_requested)  # the cron takes it up
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(pairing.member_ids.status, "unsubscribed")

    def test_a_failed_member_read_leaves_the_change_to_the_cron(self):
        pairing = self.active_pairing(("ann@corp.com", "Ann Smith"))
        pairing.sync_requested = False
        with self.sandbox_fault(
            status=503, count=1, method="GET", path_pattern="/members/"
        ):
            deliveries = self.deliver("ann@corp.com", "unsubscribe")
        self.assertEqual(deliveries[0]["status"], 200)
        self.assertEqual(pairing.member_ids.status, "subscribed")
        self.assertTrue(pairing.sync_requested)
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(pairing.member_ids.status, "unsubscribed")

    def test_a_full_run_in_progress_still_sees_the_member(self):
        pairing = self.active_pairing(("ann@corp.com", "Ann Smith"))
        unfinished = self.env["mailchimp.sync.run"].create(
            {"pairing_id": pairing.id, "full": True, "direction": pairing.direction}
        )
        self.deliver("ann@corp.com", "profile", merges={"FNAME": "Anna"})
        self.assertEqual(pairing.member_ids.partner_id.name, "Anna Smith")
        # the full run's end archives the members it did not see: not this one
        self.assertEqual(pairing.member_ids.last_seen_run_id, unfinished)

    # -- secrets -------------------------------------------------------------------

    def test_token_is_for_mailchimp_administrators_only_and_never_logged(self):
        pairing = self.active_pairing(("ann@corp.com", "Ann Smith"))
        sales = new_test_user(
            self.env,
            login="mc_webhook_sales",
            groups="base.group_user,mailchimp_connector.group_mailchimp_user",
            context={"no_reset_password": True},
        )
        self.assertEqual(pairing.with_user(sales).webhook_state, "registered")
        with self.assertRaises(AccessError):
            pairing.with_user(sales).read(["webhook_token"])
        with self.assertRaises(UserError):
            pairing.export_data(["name", "webhook_token"])
        token = pairing.webhook_token
        lines = []
        capture = logging.Handler(logging.DEBUG)
        capture.emit = lambda record: lines.append(record.getMessage())
        loggers = [
            logging.getLogger(name)
            for name in ("werkzeug", "odoo.addons.mailchimp_connector")
        ]
        for logger in loggers:
            self.patch(logger, "level", logging.DEBUG)
            logger.addHandler(capture)
            self.addCleanup(logger.removeHandler, capture)
        self.deliver("ann@corp.com", "unsubscribe")
        self.post_webhook("wrong-token", {"type": "unsubscribe"})
        text = "\n".join(lines)
        self.assertIn(f"{WEBHOOK}/***", text)  # the access log line, redacted
        self.assertNotIn(token, text)
        self.assertNotIn("wrong-token", text)
        self.assertNotIn(DEFAULT_API_KEY.split("-")[0], text)

    def test_neutralization_wipes_webhook_secrets(self):
        pairing = self.active_pairing(("ann@corp.com", "Ann Smith"))
        token = pairing.webhook_token
        self.env.flush_all()
        for query in get_neutralization_queries(["mailchimp_connector"]):
            self.env.cr.execute(query)
        self.env.invalidate_all()
        self.assertFalse(pairing.webhook_token)
        self.assertEqual(pairing.webhook_state, "none")
        body = {
            "type": "unsubscribe",
            "data[list_id]": self.list_id,
            "data[email]": "ann@corp.com",
        }
        self.assertEqual(self.post_webhook(token, body).status_code, 404)
