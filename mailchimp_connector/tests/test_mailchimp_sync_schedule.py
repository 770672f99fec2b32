# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Retries that ride out a storm, and runs the screen never breaks.

One call rides out a burst of throttled answers; a run stopped by a temporary
Mailchimp error is tried again within minutes (2, 5, 15, 30), not after the whole
interval; a run stopped by a rejected key waits for the key to be fixed, and
Reauthorize (or Connect) then runs the sync at once from its last good
watermark; Sync Now during a run says so.
"""

from datetime import datetime, timedelta

from odoo import fields
from odoo.tests import tagged

from ..engine.transactions import LOCK_SYNC
from ..utils.sync_rules import mark_second
from .common import DEFAULT_API_KEY
from .test_mailchimp_sync_rules import SyncRulesCase

NEW_KEY = "fedcba9876543210fedcba9876543210-us1"


@tagged("post_install", "-at_install")
class TestSyncRetries(SyncRulesCase):
    def cron(self):
        self.env["mailchimp.pairing"]._cron_sync()

    def member_gets(self):
        return [
            call
            for call in self.api_calls()
            if call["method"] == "GET"
            and call["api_path"] == f"/lists/{self.list_id}/members"
        ]

    def make_due(self, pairing):
        """Time passes until the pairing's next try."""
        pairing._sync_cursor().next_sync_date = fields.Datetime.now() - timedelta(
            seconds=1
        )

    def assertNextTryIn(self, pairing, minutes):
        now = fields.Datetime.now()
        self.assertGreaterEqual(
            pairing.next_sync_date, now + timedelta(minutes=minutes, seconds=-10)
        )
        self.assertLessEqual(
            pairing.next_sync_date,
            now + timedelta(minutes=minutes),
            f"next try at {pairing.next_sync_date}, {minutes} min after {now} expected",
        )

    def test_twenty_429s_on_the_member_path_do_not_fail_the_run(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "mailchimp_connector.max_retry_seconds", "30"
        )
        self.mailchimp_put("known@corp.com", FNAME="Known")
        partners = self.contacts([{"email": f"storm{i}@corp.com"} for i in range(5)])
        partners |= self.contact("known@corp.com", "Known Person")
        pairing = self.make_pairing()
        self.sandbox_control("DELETE", "requests")
        with self.sandbox_fault(
            status=429, count=20, path_pattern="/members", retry_after=0.05
        ):
            run = pairing.run_sync()
            # all used
            self.assertEqual(self.sandbox_control("GET", "faults")["faults"], [])
        self.assertRunDone(run)
        throttled = [call for call in self.api_calls() if call["status"] == 429]
        self.assertEqual(len(throttled), 20)
        self.assertTrue(
            all(call["api_path"].endswith("/members") for call in throttled)
        )
        self.assertEveryContactOnce(pairing, partners)

    def test_a_run_stopped_by_a_server_error_is_tried_again_within_minutes(self):
        partners = self.contacts([{"email": f"later{i}@corp.com"} for i in range(3)])
        pairing = self.make_pairing()  # every hour
        pairing.action_sync_now()
        with self.sandbox_fault(status=503, count=1000, method="GET"):
            self.cron()
        first = pairing.last_run_id
        self.assertEqual(first.state, "failed")
        self.assertIn("internal error (HTTP 503)", first.message)
        self.assertNextTryIn(pairing, 2)  # not in an hour
        # the sync says when and why
        self.assertEqual(pairing.retry_count, 1)
        self.assertIn("HTTP 503", pairing.retry_reason)
        self.assertEqual(self.account.state, "connected")
        self.assertEqual(pairing.state, "active")
        # not before its time
        self.cron()
        self.assertEqual(pairing.last_run_id, first)
        # the storm goes on: the wait grows
        self.make_due(pairing)
        with self.sandbox_fault(status=500, count=1000, method="GET"):
            self.cron()
        second = pairing.last_run_id
        self.assertNotEqual(second, first)
        self.assertEqual(second.state, "failed")
        self.assertNextTryIn(pairing, 5)
        self.assertEqual(pairing.retry_count, 2)
        self.make_due(pairing)
        with self.sandbox_fault(status=429, count=1000, retry_after=0.5):
            self.cron()
        self.assertEqual(pairing.last_run_id.state, "failed")
        self.assertIn("limiting the requests", pairing.retry_reason)
        self.assertNextTryIn(pairing, 15)
        self.assertEqual(pairing.retry_count, 3)
        # Mailchimp is back: the run goes through, the streak is over
        self.make_due(pairing)
        self.cron()
        self.assertRunDone(pairing.last_run_id)
        self.assertEveryContactOnce(pairing, partners)
        self.assertEqual(pairing.retry_count, 0)
        self.assertFalse(pairing.retry_reason)
        self.assertNextTryIn(pairing, 60)
        # the next storm starts again from 2 minutes
        self.make_due(pairing)
        with self.sandbox_fault(status=502, count=1000, method="GET"):
            self.cron()
        self.assertEqual(pairing.last_run_id.state, "failed")
        self.assertNextTryIn(pairing, 2)
        self.assertEqual(pairing.retry_count, 1)

    def _stopped_by_a_revoked_key(self):
        """A synced pairing, a change in Mailchimp, then the key is revoked (the admin
        made a new one) and the scheduled run fails on it."""
        self.mailchimp_put("early@corp.com", FNAME="Early")
        early = self.contact("early@corp.com", "Early Bird")
        pairing = self.make_pairing()
        pairing.action_sync_now()
        self.cron()
        self.assertRunDone(pairing.last_run_id)
        watermark = pairing.mailchimp_watermark
        self.assertTrue(watermark)
        self.mailchimp_put("early@corp.com", FNAME="Changed")  # during the outage
        self.sandbox_control(
            "POST",
            "accounts/rotate",
            {"api_key": DEFAULT_API_KEY, "new_api_key": NEW_KEY},
        )
        pairing.action_sync_now()
        self.cron()
        failed = pairing.last_run_id
        self.assertEqual(failed.state, "failed")
        self.assertIn("rejected the API key", failed.message)
        self.assertEqual(self.account.state, "error")
        self.assertEqual(pairing.state, "active")
        self.assertFalse(pairing.sync_requested)
        # not due for long: only the fixed key can make it run now
        self.assertGreater(
            pairing.next_sync_date, fields.Datetime.now() + timedelta(minutes=30)
        )
        self.sandbox_control("DELETE", "requests")
        return pairing, early, watermark, failed

    def assertResumedFromWatermark(self, pairing, early, watermark, failed):
        cron = self.env.ref("mailchimp_connector.ir_cron_mailchimp_sync")
        self.assertTrue(pairing.sync_requested, "the sync is not asked to run at once")
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]))
        self.cron()  # the pass the trigger starts, long before the next due time
        resumed = pairing.last_run_id
        self.assertNotEqual(resumed, failed)
        self.assertRunDone(resumed)
        gets = [g for g in self.member_gets() if "status" not in g["query"]]
        # from the mark committed before the outage (the walk asks from the second
        # before it when since_last_changed may exclude its own second)
        asked = mark_second(gets[0]["query"].get("since_last_changed"))
        self.assertIn(asked, (mark_second(watermark) - 1, mark_second(watermark)))
        self.assertEqual(early.name, "Changed Bird")
        self.assertEqual(self.account.state, "connected")
        self.assertFalse(pairing.retry_reason)

    def test_a_rejected_key_stops_the_sync_until_the_key_is_fixed(self):
        pairing, _early, _watermark, failed = self._stopped_by_a_revoked_key()
        # no retry in minutes: the key must change
        self.assertEqual(pairing.retry_count, 0)
        self.assertIn("Reauthorize", pairing.retry_reason)
        self.make_due(pairing)
        self.cron()
        self.assertEqual(pairing.last_run_id, failed)
        self.assertEqual(self.api_calls(), [])

    def test_reauthorize_resumes_a_sync_stopped_by_a_revoked_key_at_once(self):
        pairing, early, watermark, failed = self._stopped_by_a_revoked_key()
        wizard = self.env["mailchimp.account.reauthorize"].create(
            {"account_id": self.account.id, "api_key": NEW_KEY}
        )
        wizard.action_reauthorize()
        self.assertResumedFromWatermark(pairing, early, watermark, failed)

    def test_connect_with_a_fixed_key_resumes_the_stopped_syncs(self):
        pairing, early, watermark, failed = self._stopped_by_a_revoked_key()
        self.account.api_key = NEW_KEY
        self.account.action_connect()
        self.assertResumedFromWatermark(pairing, early, watermark, failed)


@tagged("post_install", "-at_install")
class TestSyncNowDuringARun(SyncRulesCase):
    def test_sync_now_while_a_run_holds_the_sync_says_it_is_already_running(self):
        self.contacts([{"email": "busy@corp.com"}])
        pairing = self.make_pairing()
        other = self.registry.cursor()  # the run, in another worker
        try:
            other.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", [LOCK_SYNC, pairing.id]
            )
            self.assertTrue(other.fetchone()[0])
            notification = pairing.action_sync_now()["params"]
            self.assertIn("already running", notification["message"])
            self.assertNotIn("has started", notification["message"])
            # it runs once more when this run ends, for what was saved meanwhile
            self.assertTrue(pairing.sync_requested)
            other.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_SYNC, pairing.id])
        finally:
            other.close()
        notification = pairing.action_sync_now()["params"]
        self.assertIn("has started", notification["message"])


@tagged("post_install", "-at_install")
class TestSyncState(SyncRulesCase):
    """The run-written state has its own row: a run never updates the pairing's."""

    def count_pairing_updates(self):
        """From now on, every UPDATE of a mailchimp_pairing row is counted (a trigger,
        undone with the test's transaction); returns a function giving the count."""
        cr = self.env.cr
        cr.execute(
            """
            CREATE TEMP TABLE mailchimp_test_pairing_updates (pairing_id integer);
            CREATE FUNCTION mailchimp_test_note_pairing_update() RETURNS trigger AS $$
            BEGIN
                INSERT INTO mailchimp_test_pairing_updates VALUES (NEW.id);
                RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER mailchimp_test_note_pairing_update
                AFTER UPDATE ON mailchimp_pairing
                FOR EACH ROW EXECUTE FUNCTION mailchimp_test_note_pairing_update();
            """
        )

        def updates():
            self.env.flush_all()
            cr.execute("SELECT count(*) FROM mailchimp_test_pairing_updates")
            return cr.fetchone()[0]

        return updates

    def test_runs_and_the_scheduler_never_update_the_pairing_row(self):
        self.mailchimp_put("pulled@corp.com", FNAME="Pulled")
        self.contacts([{"email": f"state{i}@corp.com"} for i in range(3)])
        pairing = self.make_pairing(create_missing=True, default_owner_id=self.owner.id)
        self.env.flush_all()
        updates = self.count_pairing_updates()
        run = pairing.run_sync()  # a full run: pull, push, every watermark
        self.assertRunDone(run)
        self.assertEqual(updates(), 0, "the run updated the pairing's row")
        state = pairing._sync_cursor()
        self.assertEqual(state.last_run_id, run)
        self.assertTrue(
            state.initial_done and state.mailchimp_watermark and state.odoo_watermark
        )
        # due by its date: the scheduler's pass writes the sync's state only
        state.next_sync_date = fields.Datetime.now() - timedelta(minutes=1)
        self.env["mailchimp.pairing"]._cron_sync()
        self.assertEqual(len(pairing.run_ids), 2)
        self.assertGreater(pairing.next_sync_date, fields.Datetime.now())
        self.assertEqual(updates(), 0, "the scheduler updated the pairing's row")
        # a run failing on Mailchimp: its retry is planned on the state too
        with self.sandbox_fault(status=503, count=1000, method="GET"):
            self.assertEqual(pairing.run_sync().state, "failed")
        self.assertEqual(pairing.retry_count, 1)
        self.assertEqual(updates(), 0, "the failed run updated the pairing's row")
        # Sync Now is the person's: it writes the pairing (its request), once
        pairing.action_sync_now()
        self.assertEqual(updates(), 1)

    def test_the_run_state_cannot_be_written_on_the_pairing(self):
        later = fields.Datetime.now() + timedelta(hours=2)
        # an initial state, at creation
        pairing = self.make_pairing(next_sync_date=later)
        self.assertEqual(pairing._sync_cursor().next_sync_date, later)
        self.assertEqual(pairing.next_sync_date, later)
        with self.assertRaisesRegex(ValueError, "_sync_cursor"):
            pairing.mailchimp_watermark = "2026-01-01T00:00:00+00:00"
        with self.assertRaisesRegex(ValueError, "last_run_id"):
            pairing.write({"name": "Renamed", "last_run_id": False})
        self.assertEqual(pairing.name, "Test sync")
        copy = pairing.copy()
        self.assertTrue(copy._sync_cursor())
        self.assertNotEqual(copy._sync_cursor(), pairing._sync_cursor())
        self.assertFalse(copy.next_sync_date)

    def test_a_remapped_interest_asks_the_next_run_to_compare_every_contact(self):
        pairing = self.make_pairing()
        state = pairing._sync_cursor()
        state.odoo_watermark = fields.Datetime.now() - timedelta(minutes=5)
        self.assertTrue(pairing.odoo_watermark)
        # the form's save: the pairing is written, not the state
        pairing._interests_remapped()
        self.assertFalse(state.odoo_watermark)
        self.assertFalse(pairing.odoo_watermark)
        self.assertTrue(state.odoo_watermark_mark)
        # the next push's own mark, newer than the request, counts again
        state.odoo_watermark = fields.Datetime.now() + timedelta(seconds=1)
        self.assertTrue(state.odoo_watermark)

    def test_an_upgrade_moves_each_sync_s_state_to_its_own_row(self):
        """From the version that kept the state on mailchimp_pairing: its columns are
        still there when the module is upgraded, and init() copies them."""
        pairing, other = self.make_pairing(), self.make_pairing(name="Other")
        run = self.env["mailchimp.sync.run"].create(
            {"pairing_id": pairing.id, "state": "done"}
        )
        other._sync_cursor().mailchimp_watermark = "2026-03-03T03:03:03+00:00"
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(
            """
            ALTER TABLE mailchimp_pairing
                ADD COLUMN IF NOT EXISTS mailchimp_watermark varchar,
                ADD COLUMN IF NOT EXISTS odoo_watermark timestamp,
                ADD COLUMN IF NOT EXISTS initial_done boolean,
                ADD COLUMN IF NOT EXISTS last_sync_date timestamp,
                ADD COLUMN IF NOT EXISTS last_full_sync_date timestamp,
                ADD COLUMN IF NOT EXISTS last_run_id integer,
                ADD COLUMN IF NOT EXISTS next_sync_date timestamp;
            UPDATE mailchimp_pairing
               SET mailchimp_watermark = '2026-01-01T10:00:00+00:00',
                   odoo_watermark = '2026-01-02 11:00:00', initial_done = true,
                   last_sync_date = '2026-01-02 11:05:00',
                   last_full_sync_date = '2026-01-01 09:00:00', last_run_id = %s,
                   next_sync_date = '2026-01-02 12:05:00'
             WHERE id IN %s;
            DELETE FROM mailchimp_pairing_cursor WHERE pairing_id = %s;
            """,
            [run.id, (pairing.id, other.id), pairing.id],
        )
        self.env.invalidate_all()
        self.assertFalse(pairing.sync_cursor_ids)
        self.env["mailchimp.pairing.cursor"].init()
        self.env.invalidate_all()
        self.assertEqual(len(pairing.sync_cursor_ids), 1)
        self.assertEqual(pairing.mailchimp_watermark, "2026-01-01T10:00:00+00:00")
        self.assertEqual(pairing.odoo_watermark, datetime(2026, 1, 2, 11, 0))
        self.assertTrue(pairing.initial_done)
        self.assertEqual(pairing.last_sync_date, datetime(2026, 1, 2, 11, 5))
        self.assertEqual(pairing.last_full_sync_date, datetime(2026, 1, 1, 9, 0))
        self.assertEqual(pairing.last_run_id, run)
        self.assertEqual(pairing.next_sync_date, datetime(2026, 1, 2, 12, 5))
        # a sync that already had its row keeps it as it is
        self.assertEqual(len(other.sync_cursor_ids), 1)
        self.assertEqual(other.mailchimp_watermark, "2026-03-03T03:03:03+00:00")
        # and a second upgrade changes nothing
        self.env["mailchimp.pairing.cursor"].init()
        self.env.invalidate_all()
        self.assertEqual(len(pairing.sync_cursor_ids), 1)

    def test_a_sync_without_its_state_row_gets_one_on_first_use(self):
        self.contacts([{"email": "first.use@corp.com"}])
        pairing = self.make_pairing()
        self.env.flush_all()
        self.env.cr.execute(
            "DELETE FROM mailchimp_pairing_cursor WHERE pairing_id = %s", [pairing.id]
        )
        self.env.invalidate_all()
        state = pairing._sync_cursor()
        self.assertTrue(state)
        self.assertEqual(pairing._sync_cursor(), state)
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(len(pairing.sync_cursor_ids), 1)
        self.assertEqual(pairing.last_run_id, pairing.run_ids)
