# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What a run shows while it goes and once it ends: done out of total, the
percent and time left, the bus notification that refreshes the screens, the
scheduler taking an unfinished run up again at once, the run's trigger and
name, and counters that add up."""

import json
import time
from datetime import datetime, timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged

from ..engine import progress as run_progress
from ..engine import push as push_step
from ..engine.push import PushStep
from ..engine.push_selection import PushSelection
from .test_mailchimp_sync_rules import SyncRulesCase

OUTCOMES = (
    "created_odoo_count",
    "created_mailchimp_count",
    "updated_count",
    "unchanged_count",
    "skipped_count",
    "failed_count",
)


@tagged("post_install", "-at_install")
class TestSyncProgress(SyncRulesCase):
    def seed(self, count, status="subscribed"):
        self.sandbox_control(
            "POST", f"lists/{self.list_id}/seed", {"count": count, "status": status}
        )

    def pulling_pairing(self, **vals):
        vals.setdefault("direction", "mailchimp2odoo")
        return self.make_pairing(
            create_missing=True, default_owner_id=self.owner.id, **vals
        )

    def assertAddsUp(self, run):
        self.assertEqual(
            sum(run[name] for name in OUTCOMES),
            run.progress_done,
            {name: run[name] for name in OUTCOMES + ("progress_done",)},
        )

    def test_a_pull_counts_out_of_the_audience_and_reaches_100_percent(self):
        self.seed(2500)
        pairing = self.pulling_pairing()
        # a pass cut off after its first page (its deadline already past)
        run = pairing.run_sync(deadline=time.monotonic())
        self.assertEqual(run.state, "running")
        self.assertEqual((run.progress_done, run.progress_total), (1000, 2500))
        self.assertEqual(run.progress_percent, 40)
        self.assertEqual(run.progress_text, "1,000 of 2,500")
        self.assertEqual(pairing.last_run_percent, 40)
        self.assertEqual(pairing.last_run_progress, "1,000 of 2,500")
        self.assertEqual(pairing.last_run_stage, "pull")
        # the time left, at the rate so far: 1,000 in 60 s, 1,500 left
        run.start_date = fields.Datetime.now() - timedelta(seconds=60)
        self.assertEqual(run.time_left, "about 2 min left")
        again = pairing.run_sync()
        self.assertEqual(again, run)
        self.assertRunDone(run)
        self.assertEqual((run.progress_done, run.progress_total), (2500, 2500))
        self.assertEqual(run.progress_percent, 100)
        self.assertEqual(run.progress_text, "2,500 of 2,500")
        self.assertFalse(run.time_left)
        self.assertEqual(run.created_odoo_count, 2500)
        self.assertAddsUp(run)

    def test_a_two_way_run_expects_what_its_push_reads(self):
        self.seed(1500)
        self.contacts([{"email": f"odoo{n}@corp.com"} for n in range(700)])
        pairing = self.pulling_pairing(direction="both")
        run = pairing.run_sync(deadline=time.monotonic())
        # the pull's 1,500 members, then the push's 700 contacts and the
        # 1,000 contacts the first page created, which the push reads too
        self.assertEqual((run.progress_done, run.progress_total), (1000, 3200))
        # the second page (a pass goes on from where the first stopped: what it
        # merged is not counted again)
        pairing.run_sync(deadline=time.monotonic())
        self.assertEqual((run.progress_done, run.progress_total), (1500, 3700))
        pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual((run.progress_done, run.progress_total), (3700, 3700))
        self.assertEqual(run.progress_percent, 100)
        self.assertEqual(
            (run.created_odoo_count, run.created_mailchimp_count, run.created_count),
            (1500, 700, 2200),
        )
        self.assertAddsUp(run)

    def test_an_incremental_push_goes_on_from_its_cursor_pass_after_pass(self):
        """An incremental run finds its contacts once per pass and reads them
        by chunks from the run's cursor: a pass cut off goes on where it
        stopped, with a contact deleted meanwhile left out of its total."""
        old = self.contacts([{"email": f"old{n}@corp.com"} for n in range(3)])
        pairing = self.make_pairing(direction="odoo2mailchimp")
        self.assertRunDone(pairing.run_sync())
        # unchanged since well before the run's mark (a test is one transaction)
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE res_partner SET write_date = now() - interval '2 days' "
            "WHERE id IN %s",
            [tuple(old.ids)],
        )
        old.invalidate_recordset()
        new = self.contacts([{"email": f"new{n}@corp.com"} for n in range(7)])
        old[0].name = "Renamed"
        with patch.object(push_step, "PUSH_CHUNK", 3):
            # a pass whose push is out of time after its first chunk
            with patch.object(PushStep, "_out_of_time", lambda _step, _deadline: True):
                run = pairing.run_sync()
            self.assertEqual(run.state, "running")
            self.assertEqual(run.push_cursor, new[1].id)
            # old0, new0 and new1 read: 5 of the push's 8 contacts left
            self.assertEqual(run.progress_total - run.progress_done, 5)
            new[-1].unlink()
            self.assertEqual(pairing.run_sync(), run)
        self.assertRunDone(run)
        self.assertEqual(run.progress_done, run.progress_total)
        self.assertEqual(run.created_mailchimp_count, 6)
        self.assertEqual(run.updated_count, 1)
        self.assertAddsUp(run)
        members = self.mailchimp_members()
        self.assertEqual(set(members), set((old | new[:-1]).mapped("email")))
        self.assertEqual(members["old0@corp.com"]["merge_fields"]["FNAME"], "Renamed")

    def test_a_selection_passes_over_contacts_deleted_since_it_was_found(self):
        partners = self.contacts([{"email": f"p{n}@corp.com"} for n in range(5)])
        selection = PushSelection(self.env["res.partner"], [], ids=partners.ids)
        partners[:2].unlink()
        self.assertEqual(selection.next_chunk(0, ["email"], 2), partners[2:4])
        self.assertEqual(selection.count(after=partners[3].id), 1)
        self.assertEqual(
            selection.next_chunk(partners[3].id, ["email"], 2), partners[4]
        )
        self.assertFalse(selection.next_chunk(partners[4].id, ["email"], 2))

    def test_the_engine_tells_the_browsers_through_the_bus(self):
        self.seed(1200)
        pairing = self.pulling_pairing()
        Bus = self.env["bus.bus"]
        self.env.cr.precommit.run()
        before = Bus.search([], order="id desc", limit=1).id
        run = pairing.run_sync()
        self.env.cr.precommit.run()  # the bus rows a commit would write
        sent = Bus.search([("id", ">", before)])
        group = self.env.ref(run_progress.AUDIENCE_GROUP)
        ours = [
            (json.loads(row.channel), json.loads(row.message))
            for row in sent
            if json.loads(row.message)["type"] == run_progress.NOTIFICATION
        ]
        # at the start and at the end at least; pages in between at most once a
        # second (this run's two pages take less)
        self.assertGreaterEqual(len(ours), 2)
        for channel, message in ours:
            self.assertEqual(channel, [self.env.cr.dbname, "res.groups", group.id])
            self.assertEqual(
                message["payload"], {"run_id": run.id, "pairing_id": pairing.id}
            )

    def test_notifications_are_throttled_to_one_a_second(self):
        run = self.pulling_pairing().run_sync()
        progress = run_progress.RunProgress(run)
        sent = []
        self.patch(run_progress, "notify", sent.append)
        for _page in range(5):
            progress.notify()
        self.assertEqual(sent, [run])
        progress.notify(force=True)
        self.assertEqual(len(sent), 2)
        progress._sent_at -= 1.5
        progress.notify()
        self.assertEqual(len(sent), 3)

    def test_sync_now_goes_on_at_once_until_the_run_is_done(self):
        self.seed(2500)
        pairing = self.pulling_pairing()
        self.env["ir.config_parameter"].set_param(
            "mailchimp_connector.cron_time_budget", "0"
        )
        cron = self.env.ref("mailchimp_connector.ir_cron_mailchimp_sync")
        Trigger = self.env["ir.cron.trigger"]

        def soon():
            """The cron's triggers due within a second."""
            return Trigger.search(
                [
                    ("cron_id", "=", cron.id),
                    ("call_at", "<=", fields.Datetime.now() + timedelta(seconds=1)),
                ]
            )

        pairing.action_sync_now()
        passes = []
        while len(passes) < 5:
            Trigger.search([("cron_id", "=", cron.id)]).unlink()
            self.env["mailchimp.pairing"]._cron_sync()
            run = pairing.last_run_id
            passes.append((run.state, run.progress_done, bool(soon())))
            if run.state != "running":
                break
        # each pass cut off by its budget (here: after its first page of new
        # members) moves the run on and triggers the next pass at once; the
        # last one does not
        states, done, again = zip(*passes, strict=True)
        self.assertEqual(states, ("running",) * (len(passes) - 1) + ("done",))
        self.assertEqual(again, (True,) * (len(passes) - 1) + (False,))
        self.assertEqual(done[0], 1000)
        self.assertEqual(done[-1], 2500)
        self.assertTrue(
            all(a < b for a, b in zip(done[:-2], done[1:-1], strict=False)), done
        )
        self.assertGreaterEqual(len(passes), 3)
        self.assertEqual(len(pairing.run_ids), 1)
        self.assertEqual(pairing.run_ids.trigger, "manual")

    def test_a_pass_that_reaches_no_new_work_does_not_trigger_again(self):
        pairing = self.pulling_pairing()
        cron = self.env.ref("mailchimp_connector.ir_cron_mailchimp_sync")
        pairing.action_sync_now()
        self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]).unlink()
        self.env["mailchimp.pairing"]._cron_sync()
        self.assertRunDone(pairing.last_run_id)
        self.assertFalse(
            self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)])
        )

    def test_start_sync_is_a_manual_run_and_the_schedule_a_scheduled_one(self):
        self.contact("ann@corp.com")
        pairing = self.make_pairing(state="draft")
        pairing.action_start_sync()
        self.env["mailchimp.pairing"]._cron_sync()
        self.assertEqual(pairing.last_run_id.trigger, "manual")
        pairing._sync_cursor().next_sync_date = fields.Datetime.now()
        self.env["mailchimp.pairing"]._cron_sync()
        self.assertEqual(
            pairing.run_ids.sorted("id").mapped("trigger"), ["manual", "cron"]
        )

    def test_a_run_is_named_after_its_sync_and_start_in_the_user_s_time(self):
        pairing = self.pulling_pairing(name="Contacts ↔ Newsletter")
        run = pairing.run_sync()
        run.start_date = datetime(2025, 12, 2, 1, 10, 30)
        brussels = run.with_context(tz="Europe/Brussels", lang="en_US")
        self.assertEqual(brussels.display_name, "Contacts ↔ Newsletter — 12/02 02:10")
        utc = run.with_context(tz="UTC", lang="en_US")
        self.assertEqual(utc.display_name, "Contacts ↔ Newsletter — 12/02 01:10")
        # a sync deleted since: its name as the run kept it
        pairing.unlink()
        self.assertEqual(utc.display_name, "Contacts ↔ Newsletter — 12/02 01:10")

    def test_counters_add_up_and_a_first_sync_has_no_conflict(self):
        # Odoo: a contact new to Mailchimp, one with the address of a member and
        # another first name, two with one address, a fake address
        self.contact("new@corp.com", "New Odoo")
        self.contact("both@corp.com", "Bob Odoo")
        twins = self.contacts([{"email": "twin@corp.com"}, {"email": "twin@corp.com"}])
        self.contact("test@corp.com", "Fake")
        # Mailchimp: that member, one new to Odoo, and an unsubscribed one (no
        # contact is made for it by default)
        self.mailchimp_put("both@corp.com", FNAME="Robert", LNAME="Odoo")
        self.mailchimp_put("mc@corp.com", FNAME="Mc", LNAME="Only")
        self.mailchimp_put("gone@corp.com", status="unsubscribed")
        pairing = self.pulling_pairing(direction="both", conflict_winner="odoo")
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertAddsUp(run)
        # the pull reads 3 members, the push 6 contacts (the one it created too)
        self.assertEqual(run.progress_done, 3 + 6)
        self.assertEqual(run.created_odoo_count, 1)
        # new@, both twins' winner; the fake address fails
        self.assertEqual(run.created_mailchimp_count, 2)
        self.assertEqual(run.skipped_count, 2)  # the unsubscribed member, a twin
        self.assertEqual(run.failed_count, 1)
        self.assertIn(twins[1].email, self.failures(run, "skipped").mapped("email"))
        # Bob/Robert differed before any sync: settled by the rule, no conflict
        self.assertEqual((run.conflict_count, run.first_sync_diff_count), (0, 1))
        # both sides change the name: now a conflict
        self.client.patch(
            self.member_path("both@corp.com"), json={"merge_fields": {"FNAME": "Rob"}}
        )
        self.partners_with_email("both@corp.com").name = "Bobby Odoo"
        second = pairing.run_sync()
        self.assertRunDone(second)
        self.assertEqual(second.conflict_count, 1)
        self.assertAddsUp(second)

    def test_the_errors_button_counts_failures_of_the_last_finished_run(self):
        self.contact("ok@corp.com")
        self.contact("test@corp.com", "Fake")  # refused by Mailchimp: failed
        self.contacts([{"email": "twin@corp.com"}, {"email": "twin@corp.com"}])
        pairing = self.make_pairing()
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(len(self.failures(run, "skipped")), 1)
        # skips are no errors
        self.assertEqual(pairing.failure_count, 1)
        action = pairing.action_view_failures()
        failures = self.env["mailchimp.sync.failure"].search(
            action["domain"]
            + [("run_id", "=", action["context"]["search_default_run_id"])]
            + [("kind", "=", "failed")]
        )
        self.assertEqual(failures.email, "test@corp.com")
        # a new run begins: the count stays until it ends
        running = self.env["mailchimp.sync.run"].create(
            {"pairing_id": pairing.id, "pairing_name": pairing.name}
        )
        pairing._sync_cursor().last_run_id = running
        pairing.invalidate_recordset(["failure_count"])
        self.assertEqual(pairing.failure_count, 1)
