# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""An Odoo opt-out (the email blacklist) is never subscribed in Mailchimp, and an
opt-out made in Odoo unsubscribes the member (the one status Odoo ever sends), on
real Odoo against the sandbox."""

import logging
from collections import deque
from contextlib import contextmanager
from unittest.mock import patch

from odoo.tests import HttpCase, tagged

from ..engine.consent import ConsentHooks
from ..engine.push import PushStep
from ..utils import batch_jobs
from . import test_mailchimp_webhook
from .common import ALTERNATIVE_BEHAVIOUR, behaviour_variants
from .test_mailchimp_consent import ConsentCase
from .test_mailchimp_sync_faults import batch_subscribe_calls

_logger = logging.getLogger(__name__)


class OptOutCase(ConsentCase):
    def opt_out(self, *emails):
        """Blacklist addresses as Odoo does (one bulk create, like an import)."""
        self.env["mail.blacklist"].create([{"email": email} for email in emails])

    @contextmanager
    def batch_operations(self):
        """Every /batches operation the sync sends, by job: [[operation, ...], ...]."""
        jobs = []
        original = batch_jobs.run_batch

        def spy(client, operations, *args, **kwargs):
            jobs.append(list(operations))
            return original(client, operations, *args, **kwargs)

        with patch.object(batch_jobs, "run_batch", side_effect=spy):
            yield jobs

    def status_operations(self, jobs):
        """{member path: status} of the operations that send a status to a member."""
        return {
            op["path"]: op["body"]["status"]
            for job in jobs
            for op in job
            if "status" in op["body"]
        }

    def mc_statuses(self, *emails):
        return {email: (self.mc_member(email) or {}).get("status") for email in emails}

    def member_of(self, pairing, partner):
        return pairing.member_ids.filtered(lambda member: member.partner_id == partner)


@tagged("post_install", "-at_install")
@behaviour_variants(ALTERNATIVE_BEHAVIOUR)
class TestOptOutNeverSubscribed(OptOutCase):
    """New contacts opted out in Odoo: added as unsubscribed, or skipped; never
    subscribed, never pending."""

    def test_blacklisted_contact_is_added_as_unsubscribed(self):
        ann, bob = self.contacts([{"email": "ann@corp.com"}, {"email": "bob@corp.com"}])
        self.opt_out("ann@corp.com")
        self.assertTrue(ann.is_blacklisted)
        pairing = self.make_pairing(direction="odoo2mailchimp")
        self.sandbox_control("DELETE", "requests")
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(
            self.mc_statuses("ann@corp.com", "bob@corp.com"),
            {"ann@corp.com": "unsubscribed", "bob@corp.com": "subscribed"},
        )
        # by the batch subscribe call, one request for both
        self.assertEqual(len(batch_subscribe_calls(self.api_calls(), self.list_id)), 1)
        self.assertEqual(run.created_count, 2)
        self.assertEqual(run.optout_added_count, 1)
        self.assertEqual(run.failed_count + run.skipped_count, 0)
        self.assertEqual(self.member_of(pairing, ann).status, "unsubscribed")
        self.assertTrue(self.member_of(pairing, ann).odoo_opt_out)
        self.assertFalse(self.member_of(pairing, bob).odoo_opt_out)
        # and the next run has nothing to send for it
        self.sandbox_control("DELETE", "requests")
        self.next_second()
        run2 = pairing.run_sync()
        self.assertRunDone(run2)
        self.assertEqual(
            [c for c in self.api_calls() if c["method"] != "GET"], [], "nothing sent"
        )
        self.assertEqual(run2.optout_added_count + run2.optout_unsubscribed_count, 0)

    def test_with_double_opt_in_not_pending_either(self):
        self.contacts([{"email": "ann@corp.com"}, {"email": "bob@corp.com"}])
        self.opt_out("ann@corp.com")
        pairing = self.make_pairing(double_opt_in=True)
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(
            self.mc_statuses("ann@corp.com", "bob@corp.com"),
            {"ann@corp.com": "unsubscribed", "bob@corp.com": "pending"},
        )

    def test_skip_option_leaves_it_out_with_a_reason(self):
        ann, _bob = self.contacts(
            [{"email": "ann@corp.com"}, {"email": "bob@corp.com"}]
        )
        self.opt_out("ann@corp.com")
        pairing = self.make_pairing(optout_new_policy="skip", double_opt_in=True)
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(
            self.mc_statuses("ann@corp.com", "bob@corp.com"),
            {"ann@corp.com": None, "bob@corp.com": "pending"},
        )
        self.assertEqual(run.created_count, 1)
        self.assertEqual(run.skipped_count, 1)
        self.assertEqual(run.optout_added_count, 0)
        skipped = self.failures(run, "skipped")
        self.assertEqual(skipped.partner_id, ann)
        self.assertEqual(skipped.direction, "odoo2mailchimp")
        self.assertIn("opted out in Odoo", skipped.reason)
        self.assertFalse(self.member_of(pairing, ann))
        # later runs still leave it out, and say so
        self.next_second()
        run2 = pairing.run_sync()
        self.assertRunDone(run2)
        self.assertIsNone(self.mc_member("ann@corp.com"))
        self.assertEqual(self.failures(run2, "skipped").partner_id, ann)

    def test_unblacklisted_later_it_is_added_subscribed(self):
        """Taken off the blacklist in Odoo before it ever reached Mailchimp: a new
        contact like any other (Odoo never re-subscribes a known member, but this
        address was never in the audience)."""
        ann = self.contact("ann@corp.com")
        self.opt_out("ann@corp.com")
        pairing = self.make_pairing(optout_new_policy="skip")
        self.assertRunDone(pairing.run_sync())
        self.assertIsNone(self.mc_member("ann@corp.com"))
        self.env["mail.blacklist"]._remove("ann@corp.com")
        ann.invalidate_recordset(["is_blacklisted"])
        self.assertFalse(ann.is_blacklisted)
        self.next_second()
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(self.mc_member("ann@corp.com")["status"], "subscribed")

    def test_address_added_in_mailchimp_meanwhile_keeps_status_then_unsubscribed(self):
        """Batch subscribe answers "already a member" for an address Mailchimp got
        after the pull: the upsert that follows never sets a status; the next run
        applies the opt-out like for any linked member."""
        self.contact("ann@corp.com")
        self.opt_out("ann@corp.com")
        pairing = self.make_pairing(direction="odoo2mailchimp")
        send_new = PushStep._send_new

        def joined_meanwhile(run, *args):
            self.mailchimp_put("ann@corp.com", "subscribed")
            return send_new(run, *args)

        with patch.object(PushStep, "_send_new", joined_meanwhile):
            self.assertRunDone(pairing.run_sync())
        self.assertEqual(self.mc_member("ann@corp.com")["status"], "subscribed")
        self.next_second()
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(self.mc_member("ann@corp.com")["status"], "unsubscribed")
        self.assertEqual(run.optout_unsubscribed_count, 1)


@tagged("post_install", "-at_install")
@behaviour_variants(ALTERNATIVE_BEHAVIOUR)
class TestOptOutUnsubscribes(OptOutCase):
    """ "Odoo opt-outs unsubscribe in Mailchimp": only a change in Odoo, only towards
    unsubscribed, never a cleaned or archived member, never the other way round."""

    def setUp(self):
        super().setUp()
        for email in ("ann@corp.com", "bob@corp.com", "cleo@corp.com", "arch@corp.com"):
            self.mailchimp_put(email, "subscribed")
        self.member_action("cleo@corp.com", "cleaned")
        self.client.delete(self.member_path("arch@corp.com"))
        self.ann, self.bob, self.cleo, self.arch = self.contacts(
            [
                {"email": "ann@corp.com"},
                {"email": "bob@corp.com"},
                {"email": "cleo@corp.com"},
                {"email": "arch@corp.com"},
            ]
        )

    def linked_pairing(self, **vals):
        pairing = self.make_pairing(**vals)
        self.assertRunDone(pairing.run_sync())
        statuses = {m.email: m.status for m in pairing.member_ids}
        self.assertEqual(
            {
                email: statuses[email]
                for email in (
                    "ann@corp.com",
                    "bob@corp.com",
                    "cleo@corp.com",
                    "arch@corp.com",
                )
            },
            {
                "ann@corp.com": "subscribed",
                "bob@corp.com": "subscribed",
                "cleo@corp.com": "cleaned",
                "arch@corp.com": "archived",
            },
        )
        self.next_second()
        self.sandbox_control("DELETE", "requests")
        return pairing

    def test_defaults_of_a_new_sync(self):
        pairing = self.make_pairing()
        self.assertTrue(pairing.optout_unsubscribe)
        self.assertEqual(pairing.optout_new_policy, "unsubscribed")

    def test_blacklisted_member_is_unsubscribed_by_one_patch_in_the_push_job(self):
        pairing = self.linked_pairing()
        self.opt_out("ann@corp.com", "cleo@corp.com", "arch@corp.com")
        self.bob.name = "Bob Changed"
        with self.batch_operations() as jobs:
            run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(
            self.mc_statuses(
                "ann@corp.com", "bob@corp.com", "cleo@corp.com", "arch@corp.com"
            ),
            {
                "ann@corp.com": "unsubscribed",
                "bob@corp.com": "subscribed",
                "cleo@corp.com": "cleaned",
                "arch@corp.com": "archived",
            },
        )
        # one job for Bob's change and Ann's
        # unsubscribe; nothing for cleaned or archived
        self.assertEqual(len(jobs), 1)
        self.assertEqual(len(self.batch_posts()), 1)
        self.assertEqual(
            self.status_operations(jobs),
            {self.member_path("ann@corp.com"): "unsubscribed"},
        )
        self.assertEqual(len(jobs[0]), 2)
        ann_op = next(
            op for op in jobs[0] if op["path"] == self.member_path("ann@corp.com")
        )
        self.assertEqual(ann_op["method"], "PATCH")
        self.assertEqual(ann_op["body"], {"status": "unsubscribed"})
        self.assertEqual(run.optout_unsubscribed_count, 1)
        self.assertEqual(run.failed_count, 0, run.failure_ids.mapped("reason"))
        self.assertEqual(self.member_of(pairing, self.ann).status, "unsubscribed")
        self.assertEqual(
            self.mc_member("bob@corp.com")["merge_fields"]["LNAME"], "Changed"
        )
        # a second run sends nothing
        self.sandbox_control("DELETE", "requests")
        self.next_second()
        run2 = pairing.run_sync()
        self.assertRunDone(run2)
        self.assertEqual(self.batch_posts(), [])
        self.assertEqual([c for c in self.api_calls() if c["method"] != "GET"], [])
        self.assertEqual(run2.optout_unsubscribed_count, 0)
        # and a full run neither
        self.sandbox_control("DELETE", "requests")
        self.assertRunDone(pairing.run_sync(full=True))
        self.assertEqual(self.batch_posts(), [])
        self.assertEqual(
            self.mc_statuses("cleo@corp.com", "arch@corp.com"),
            {"cleo@corp.com": "cleaned", "arch@corp.com": "archived"},
        )

    def test_a_change_together_with_a_field_change_is_one_patch(self):
        pairing = self.linked_pairing()
        self.opt_out("ann@corp.com")
        self.ann.name = "Ann Changed"
        with self.batch_operations() as jobs:
            self.assertRunDone(pairing.run_sync())
        self.assertEqual(len(jobs), 1)
        self.assertEqual(len(jobs[0]), 1)
        self.assertEqual(jobs[0][0]["body"]["status"], "unsubscribed")
        self.assertEqual(jobs[0][0]["body"]["merge_fields"]["LNAME"], "Changed")
        member = self.mc_member("ann@corp.com")
        self.assertEqual(
            (member["status"], member["merge_fields"]["LNAME"]),
            ("unsubscribed", "Changed"),
        )

    def test_a_value_mailchimp_refuses_does_not_hold_the_opt_out_back(self):
        """Ann's name is too long for Mailchimp (refused before sending); Bob's
        required JOB is emptied in Odoo (Mailchimp refuses his PATCH): both are
        unsubscribed all the same, their values stay failure lines."""
        job = self.add_merge_field("JOB", "text", required=True)
        self.bob.function = "Buyer"
        self.ann.function = "Buyer"
        pairing = self.make_pairing()
        pairing.field_map_ids = [
            (
                0,
                0,
                {
                    "merge_field_id": job.id,
                    "odoo_field_id": self.env.ref(
                        "base.field_res_partner__function"
                    ).id,
                },
            )
        ]
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(self.mc_member("bob@corp.com")["merge_fields"]["JOB"], "Buyer")
        self.next_second()
        self.opt_out("ann@corp.com", "bob@corp.com")
        self.ann.name = "Ann " + "x" * 300
        self.bob.function = False
        with self.batch_operations() as jobs:
            run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(
            self.mc_statuses("ann@corp.com", "bob@corp.com"),
            {"ann@corp.com": "unsubscribed", "bob@corp.com": "unsubscribed"},
        )
        self.assertEqual(self.mc_member("bob@corp.com")["merge_fields"]["JOB"], "Buyer")
        reasons = {f.partner_id: f.reason for f in self.failures(run, "failed")}
        self.assertEqual(set(reasons), {self.ann, self.bob}, reasons)
        self.assertIn("LNAME", reasons[self.ann])
        self.assertIn("JOB", reasons[self.bob])
        self.assertEqual(run.optout_unsubscribed_count, 2)
        # Ann's status alone in the chunk's job;
        # Bob's refused PATCH, then his status alone
        self.assertEqual(len(jobs), 2)
        self.assertEqual(
            sorted(op["body"] for op in jobs[1]), [{"status": "unsubscribed"}]
        )
        self.assertEqual(
            self.status_operations(jobs[:1]),
            {
                self.member_path("ann@corp.com"): "unsubscribed",
                self.member_path("bob@corp.com"): "unsubscribed",
            },
        )
        # done: the next run sends no status again
        self.next_second()
        with self.batch_operations() as jobs:
            self.assertRunDone(pairing.run_sync())
        self.assertEqual(self.status_operations(jobs), {})

    def test_pending_member_is_unsubscribed_too(self):
        self.mailchimp_put("pen@corp.com", "pending")
        pen = self.contact("pen@corp.com")
        pairing = self.linked_pairing()
        self.opt_out("pen@corp.com")
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(self.mc_member("pen@corp.com")["status"], "unsubscribed")
        self.assertEqual(self.member_of(pairing, pen).status, "unsubscribed")

    def test_option_off_sends_nothing(self):
        pairing = self.linked_pairing(optout_unsubscribe=False)
        self.opt_out("ann@corp.com")
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(self.batch_posts(), [])
        self.assertEqual(self.mc_member("ann@corp.com")["status"], "subscribed")
        self.assertEqual(run.optout_unsubscribed_count, 0)
        # the sync saw that opt-out while off: turning the option on later does not
        # send it (the person may have subscribed again since); a new one is sent
        self.assertTrue(self.member_of(pairing, self.ann).odoo_opt_out)
        pairing.optout_unsubscribe = True
        self.next_second()
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(self.batch_posts(), [])
        self.opt_out("bob@corp.com")
        self.next_second()
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(
            self.mc_statuses("ann@corp.com", "bob@corp.com"),
            {"ann@corp.com": "subscribed", "bob@corp.com": "unsubscribed"},
        )

    def test_mailchimp_to_odoo_sync_never_sends_it(self):
        pairing = self.linked_pairing(direction="mailchimp2odoo")
        self.opt_out("ann@corp.com")
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(self.batch_posts(), [])
        self.assertEqual(self.mc_member("ann@corp.com")["status"], "subscribed")

    def test_resubscribe_in_mailchimp_is_not_undone_and_unblacklisting_sends_nothing(
        self,
    ):
        pairing = self.linked_pairing()
        self.opt_out("ann@corp.com")
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(self.mc_member("ann@corp.com")["status"], "unsubscribed")
        # the person subscribes again in Mailchimp, Odoo's blacklist stays
        self.next_second()
        self.member_action("ann@corp.com", "subscribe")
        for _run in range(2):
            self.sandbox_control("DELETE", "requests")
            self.next_second()
            run = pairing.run_sync()
            self.assertRunDone(run)
            self.assertEqual(self.batch_posts(), [])
            self.assertEqual(self.mc_member("ann@corp.com")["status"], "subscribed")
            self.assertEqual(run.optout_unsubscribed_count, 0)
        self.assertEqual(self.member_of(pairing, self.ann).status, "subscribed")
        self.assertTrue(self.ann.is_blacklisted)
        # a full run neither
        self.sandbox_control("DELETE", "requests")
        self.assertRunDone(pairing.run_sync(full=True))
        self.assertEqual(self.batch_posts(), [])
        # taken off Odoo's blacklist: nothing is sent (Odoo never re-subscribes)
        self.opt_out("bob@corp.com")
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(self.mc_member("bob@corp.com")["status"], "unsubscribed")
        self.env["mail.blacklist"]._remove("bob@corp.com")
        self.sandbox_control("DELETE", "requests")
        self.next_second()
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(self.batch_posts(), [])
        self.assertEqual(self.mc_member("bob@corp.com")["status"], "unsubscribed")
        self.assertFalse(self.member_of(pairing, self.bob).odoo_opt_out)
        # a new opt-out in Odoo after that is a new change: sent again
        self.blacklist("bob@corp.com").action_unarchive()
        self.member_action("bob@corp.com", "subscribe")
        self.next_second()
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(self.mc_member("bob@corp.com")["status"], "unsubscribed")

    def test_mirrored_unsubscribe_is_not_sent_back(self):
        """The blacklist mirror and this option together: a Mailchimp unsubscribe
        put on Odoo's blacklist produces no request back; a re-subscription taken
        off the blacklist by the second opt-in is not undone."""
        pairing = self.linked_pairing(blacklist_mirror=True, blacklist_unmirror=True)
        self.member_action("ann@corp.com", "unsubscribe")
        self.next_second()
        self.sandbox_control("DELETE", "requests")
        self.assertRunDone(pairing.run_sync())
        self.assertTrue(self.blacklist("ann@corp.com").active)
        self.assertTrue(self.member_of(pairing, self.ann).odoo_opt_out)
        self.assertEqual([c for c in self.api_calls() if c["method"] != "GET"], [])
        # the person subscribes again: off the blacklist (second opt-in), nothing sent
        self.member_action("ann@corp.com", "subscribe")
        self.next_second()
        self.sandbox_control("DELETE", "requests")
        self.assertRunDone(pairing.run_sync())
        self.assertFalse(self.blacklist("ann@corp.com").active)
        self.assertEqual([c for c in self.api_calls() if c["method"] != "GET"], [])
        self.assertEqual(self.mc_member("ann@corp.com")["status"], "subscribed")
        # without the second opt-in the blacklist stays, and still nothing is sent
        pairing.blacklist_unmirror = False
        self.member_action("ann@corp.com", "unsubscribe")
        self.next_second()
        self.assertRunDone(pairing.run_sync())
        self.member_action("ann@corp.com", "subscribe")
        self.next_second()
        self.sandbox_control("DELETE", "requests")
        self.assertRunDone(pairing.run_sync())
        self.assertTrue(self.blacklist("ann@corp.com").active)
        self.assertEqual([c for c in self.api_calls() if c["method"] != "GET"], [])
        self.assertEqual(self.mc_member("ann@corp.com")["status"], "subscribed")

    def test_first_run_of_a_new_sync_applies_existing_opt_outs(self):
        """A new sync links Mailchimp's members to contacts already opted out in
        Odoo: its first run unsubscribes them (the sync never applied them before)."""
        self.opt_out("ann@corp.com", "cleo@corp.com")
        pairing = self.make_pairing()
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(
            self.mc_statuses("ann@corp.com", "bob@corp.com", "cleo@corp.com"),
            {
                "ann@corp.com": "unsubscribed",
                "bob@corp.com": "subscribed",
                "cleo@corp.com": "cleaned",
            },
        )
        self.assertEqual(run.optout_unsubscribed_count, 1)

    def test_first_run_with_nothing_else_to_send(self):
        """Every contact of the chunk was just merged by the pull with nothing to
        send back: the opt-out is sent all the same."""
        self.mailchimp_put("dan@corp.com", "subscribed", FNAME="Dan", LNAME="Smith")
        dan = self.contact("dan@corp.com", "Dan Smith")
        self.opt_out("dan@corp.com")
        pairing = self.make_pairing(partner_domain="[('email', '=', 'dan@corp.com')]")
        with self.batch_operations() as jobs:
            run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(self.member_of(pairing, dan).status, "unsubscribed")
        self.assertEqual(self.mc_member("dan@corp.com")["status"], "unsubscribed")
        self.assertEqual(jobs[0][0]["body"], {"status": "unsubscribed"})

    def test_upgrade_keeps_existing_syncs_as_they_were(self):
        """The columns added by an upgrade: existing syncs keep "never sent" (off),
        existing members remember today's opt-outs, so the upgrade sends nothing."""
        pairing = self.linked_pairing()
        self.opt_out("ann@corp.com")
        cr = self.env.cr
        self.env.flush_all()
        cr.execute("ALTER TABLE mailchimp_pairing DROP COLUMN optout_unsubscribe")
        cr.execute("ALTER TABLE mailchimp_member DROP COLUMN odoo_opt_out")
        # what an upgrade runs (with the registry's loading queues, as while loading)
        with patch.multiple(
            self.registry,
            create=True,
            _post_init_queue=deque(),
            _foreign_keys={},
            _is_install=False,
        ):
            self.env["mailchimp.pairing"]._auto_init()
            self.env["mailchimp.member"]._auto_init()
        self.env.invalidate_all()
        self.assertFalse(pairing.optout_unsubscribe)
        self.assertEqual(
            {m.email: m.odoo_opt_out for m in pairing.member_ids},
            {
                "ann@corp.com": True,
                "bob@corp.com": False,
                "cleo@corp.com": False,
                "arch@corp.com": False,
            },
        )
        self.assertTrue(self.make_pairing(name="New").optout_unsubscribe)
        pairing.optout_unsubscribe = True
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(self.batch_posts(), [])


@tagged("post_install", "-at_install")
class TestOptOutAtScale(OptOutCase):
    """Large pushes: the /batches upsert job for new members, and 1,200 opt-outs of
    linked members in bounded SQL and requests."""

    def spy_queries(self, name):
        calls = []
        original = getattr(ConsentHooks, name)
        cr = self.env.cr

        def wrapper(run, *args, **kwargs):
            # its writes too, which the ORM would flush later
            run.env.flush_all()
            before = cr.sql_log_count
            result = original(run, *args, **kwargs)
            run.env.flush_all()
            calls.append(cr.sql_log_count - before)
            return result

        return calls, patch.object(
            ConsentHooks, name, autospec=True, side_effect=wrapper
        )

    def test_upsert_job_adds_opt_outs_as_unsubscribed(self):
        partners = self.contacts(
            [{"email": f"big{i:04d}@corp.com", "name": f"Big {i}"} for i in range(1600)]
        )
        self.opt_out(*[f"big{i:04d}@corp.com" for i in range(0, 1600, 4)])
        pairing = self.make_pairing(direction="odoo2mailchimp", double_opt_in=True)
        self.sandbox_control("DELETE", "requests")
        with self.batch_operations() as jobs:
            run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(batch_subscribe_calls(self.api_calls(), self.list_id), [])
        self.assertEqual([len(job) for job in jobs], [1600])
        statuses = {
            op["body"]["email_address"]: op["body"]["status_if_new"] for op in jobs[0]
        }
        self.assertTrue(all("status" not in op["body"] for op in jobs[0]))
        members = self.mailchimp_members()
        self.assertEqual(len(members), 1600)
        for i in range(1600):
            email = f"big{i:04d}@corp.com"
            expected = "unsubscribed" if i % 4 == 0 else "pending"
            self.assertEqual(
                (statuses[email], members[email]["status"]), (expected, expected)
            )
        self.assertEqual(run.created_count, 1600)
        self.assertEqual(run.optout_added_count, 400)
        self.assertEqual(len(pairing.member_ids), len(partners))
        self.assertEqual(len(pairing.member_ids.filtered("odoo_opt_out")), 400)

    def test_upsert_job_with_the_skip_option(self):
        self.contacts([{"email": f"big{i:04d}@corp.com"} for i in range(1700)])
        self.opt_out(*[f"big{i:04d}@corp.com" for i in range(0, 1700, 10)])
        pairing = self.make_pairing(
            direction="odoo2mailchimp", optout_new_policy="skip"
        )
        self.sandbox_control("DELETE", "requests")
        with self.batch_operations() as jobs:
            run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual([len(job) for job in jobs], [1530])
        members = self.mailchimp_members()
        self.assertEqual(len(members), 1530)
        self.assertEqual({m["status"] for m in members.values()}, {"subscribed"})
        self.assertNotIn("big0000@corp.com", members)
        self.assertEqual(run.skipped_count, 170)
        self.assertEqual(len(self.failures(run, "skipped")), 170)

    def test_1200_opt_outs_in_bounded_queries_and_requests(self):
        self.sandbox_control("POST", f"lists/{self.list_id}/seed", {"count": 1300})
        emails = [f"member{n:06d}@seed-mail.com" for n in range(1300)]
        self.contacts([{"email": email} for email in emails])
        pairing = self.make_pairing()
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(len(pairing.member_ids), 1300)
        self.opt_out(*emails[:1200])
        self.next_second()
        find_calls, find_spy = self.spy_queries("push_optout_ids")
        plan_calls, plan_spy = self.spy_queries("plan_optouts")
        save_calls, save_spy = self.spy_queries("save_optouts")
        self.sandbox_control("DELETE", "requests")
        before = self.env.cr.sql_log_count
        with find_spy, plan_spy, save_spy, self.batch_operations() as jobs:
            run = pairing.run_sync()
        self.env.flush_all()
        queries = self.env.cr.sql_log_count - before
        self.assertRunDone(run)
        _logger.info(
            "1,200 opt-outs: find %s, plan %s, save %s SQL queries; run %s queries, %s "
            "requests",
            find_calls,
            plan_calls,
            save_calls,
            queries,
            run.http_requests,
        )
        self.assertEqual([len(job) for job in jobs], [1200], "one job of 1,200 PATCHes")
        self.assertEqual(run.optout_unsubscribed_count, 1200)
        self.assertEqual(run.updated_count, 1200)
        # one incremental pull (nothing new), the job: submit, a few polls, the results
        self.assertLessEqual(run.http_requests, 8)
        self.assertEqual(len(find_calls), 1)
        self.assertLess(find_calls[0], 10)
        self.assertLess(max(plan_calls), 10, "a chunk is planned in a few queries")
        self.assertLess(save_calls[0], 25)
        self.assertLess(
            queries, 150, "a run of 1,200 opt-outs is not a query per contact"
        )
        statuses = {
            m["email_address"]: m["status"] for m in self.mailchimp_members().values()
        }
        self.assertEqual(sum(1 for s in statuses.values() if s == "unsubscribed"), 1200)
        self.assertEqual(statuses[emails[1250]], "subscribed")
        # nothing left: the next run sends nothing, in as few queries as a quiet run
        self.sandbox_control("DELETE", "requests")
        self.next_second()
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(self.batch_posts(), [])

    def test_1200_new_opt_outs_by_batch_subscribe(self):
        self.contacts([{"email": f"new{i:04d}@corp.com"} for i in range(1200)])
        self.opt_out(*[f"new{i:04d}@corp.com" for i in range(1200)])
        pairing = self.make_pairing(direction="odoo2mailchimp")
        plan_calls, plan_spy = self.spy_queries("plan_optouts")
        self.sandbox_control("DELETE", "requests")
        with plan_spy:
            run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(len(batch_subscribe_calls(self.api_calls(), self.list_id)), 3)
        self.assertLessEqual(len(self.api_calls()), 5)
        self.assertLess(plan_calls[0], 10)
        self.assertEqual(run.optout_added_count, 1200)
        self.assertEqual(
            {m["status"] for m in self.mailchimp_members().values()}, {"unsubscribed"}
        )


@tagged("post_install", "-at_install")
class TestOptOutByWebhook(OptOutCase, HttpCase):
    """A webhook delivery goes through the pull code: a mirrored unsubscribe is
    remembered at once, so the next run sends nothing back."""

    active_pairing = test_mailchimp_webhook.TestMailchimpWebhook.active_pairing
    deliver = test_mailchimp_webhook.TestMailchimpWebhook.deliver

    def test_unsubscribe_delivered_and_mirrored_is_not_sent_back(self):
        pairing = self.active_pairing(
            ("ann@corp.com", "Ann Smith"), blacklist_mirror=True
        )
        self.assertTrue(pairing.optout_unsubscribe)
        self.assertEqual(self.deliver("ann@corp.com", "unsubscribe")[0]["status"], 200)
        self.assertTrue(self.blacklist("ann@corp.com").active)
        self.assertTrue(pairing.member_ids.odoo_opt_out)
        # the person subscribes again (the blacklist stays without the second opt-in)
        self.assertEqual(self.deliver("ann@corp.com", "subscribe")[0]["status"], 200)
        self.sandbox_control("DELETE", "requests")
        self.next_second()
        self.assertRunDone(pairing.run_sync())
        self.assertEqual([c for c in self.api_calls() if c["method"] != "GET"], [])
        self.assertEqual(self.mc_member("ann@corp.com")["status"], "subscribed")
