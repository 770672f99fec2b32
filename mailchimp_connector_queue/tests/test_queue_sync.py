# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Syncs as queue jobs: stretches of the resumable run, one job waiting per
sync, in order, two syncs side by side, a 429 retried when Mailchimp says, a
stretch run twice changing nothing, a job failed for good failing its run."""

from odoo.sql_db import db_connect
from odoo.tests import tagged

from odoo.addons.mailchimp_connector.engine.transactions import LOCK_SYNC

from .common import QueueSyncCase, trap_jobs


@tagged("post_install", "-at_install")
class TestQueueSync(QueueSyncCase):
    def both_ways(self, **vals):
        return self.make_pairing(
            direction="both",
            create_missing=True,
            default_owner_id=self.owner.id,
            **vals,
        )

    def assertExact(self, pairing, emails):
        """Every member once in Mailchimp, every contact linked once in Odoo."""
        members = self.mailchimp_members()
        self.assertEqual(sorted(members), sorted(emails))
        linked = pairing.member_ids
        self.assertEqual(len(linked), len(emails))
        self.assertEqual(len(linked.partner_id), len(emails))
        self.assertEqual(
            sorted(linked.partner_id.mapped("email_normalized")), sorted(emails)
        )
        Partner = self.env["res.partner"].with_context(active_test=False)
        for email in emails[:50]:
            self.assertEqual(Partner.search_count([("email", "=", email)]), 1, email)

    def test_sync_now_queues_one_job_and_stretches_finish_the_run(self):
        self.seed(2500)
        odoo_side = self.contacts([{"email": f"odoo{n}@corp.com"} for n in range(700)])
        seeded = list(self.mailchimp_members())
        pairing = self.both_ways()
        with trap_jobs() as trap:
            pairing.action_sync_now()
            pairing.action_sync_now()  # pressed twice: still one job waiting
            trap.assert_jobs_count(1, only=pairing._mailchimp_job_stretch)
            trap.assert_enqueued_job(
                pairing._mailchimp_job_stretch,
                properties={
                    "channel": "root.mailchimp",
                    "identity_key": f"mailchimp_sync_{pairing.id}",
                },
            )
        self.assertFalse(pairing.last_run_id, "queued, not run in the request")
        # the same with the jobs stored, as in production
        pairing.action_sync_now()
        pairing.action_sync_now()
        self.assertEqual(len(self.waiting_jobs(pairing)), 1)
        # one stretch: the first page of the pull, the next stretch queued
        self.perform(self.waiting_jobs(pairing))
        run = pairing.last_run_id
        self.assertEqual(run.state, "running")
        self.assertEqual(run.trigger, "manual")
        self.assertEqual((run.stage, run.progress_done), ("pull", 1000))
        self.assertEqual(len(self.waiting_jobs(pairing)), 1)
        self.assertEqual(
            (run.queue_job_done_count, run.queue_job_waiting_count), (1, 1)
        )
        self.assertEqual(pairing.last_run_job_waiting_count, 1)
        stretches = 1 + self.run_jobs(pairing)
        self.assertRunDone(run)
        # 3 pull pages, the push chunk, the tag rules: in that order, one by one
        self.assertGreaterEqual(stretches, 4)
        self.assertEqual(
            (run.queue_job_done_count, run.queue_job_waiting_count), (stretches, 0)
        )
        self.assertEqual(
            (run.created_odoo_count, run.created_mailchimp_count), (2500, 700)
        )
        self.assertExact(pairing, seeded + odoo_side.mapped("email_normalized"))
        self.assertFalse(pairing.sync_requested)
        # nothing left: a stretch run again (a job retried) changes nothing
        self.assertEqual(pairing._mailchimp_job_stretch(), "nothing to do")
        self.assertEqual(pairing.last_run_id, run)
        self.assertFalse(self.waiting_jobs(pairing))

    def test_a_stretch_run_twice_goes_on_from_the_last_chunk(self):
        self.seed(2500)
        seeded = list(self.mailchimp_members())
        pairing = self.both_ways()
        pairing.action_sync_now()
        job = self.waiting_jobs(pairing)
        self.perform(job)
        run = pairing.last_run_id
        self.assertEqual(run.progress_done, 1000)
        # the same job performed again (requeued after its worker died after its
        # work was committed): the run goes on, nothing is read or made twice
        self.perform(job)
        self.assertEqual(pairing.last_run_id, run)
        self.assertGreater(run.progress_done, 1000)
        self.assertEqual(len(self.waiting_jobs(pairing)), 1, "still one job waiting")
        self.run_jobs(pairing)
        self.assertRunDone(run)
        self.assertEqual(run.created_odoo_count, 2500)
        self.assertExact(pairing, seeded)

    def test_two_syncs_side_by_side(self):
        self.seed(1500)
        first_emails = list(self.mailchimp_members())
        first = self.both_ways(name="First")
        list_id = self.sandbox_control("POST", "lists", {"name": "Customers"})["id"]
        self.seed(1500, list_id=list_id, start=5000)
        self.env["mailchimp.audience"]._sync_from_mailchimp(self.account)
        audience = self.account.audience_ids.filtered(
            lambda a: a.mailchimp_list_id == list_id
        )
        other_tag = self.env["res.partner.category"].create({"name": "Customers"})
        second = self.both_ways(
            name="Second", audience_id=audience.id, partner_tag_id=other_tag.id
        )
        (first | second).action_sync_now()
        self.assertEqual(len(self.waiting_jobs()), 2)
        # the first sync held (its stretch under way on another worker): its job
        # waits, uncounted as a try; the second's goes on meanwhile
        other = db_connect(self.env.cr.dbname).cursor()
        try:
            other.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_SYNC, first.id))
            self.assertTrue(self.perform_retried(self.waiting_jobs(first)).ignore_retry)
            self.perform(self.waiting_jobs(second))
            self.assertEqual(second.last_run_id.progress_done, 1000)
            self.assertFalse(first.last_run_id)
        finally:
            other.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_SYNC, first.id))
            other.close()
        held = self.env["queue.job"].search(
            [("identity_key", "=", f"mailchimp_sync_{first.id}")]
        )
        self.assertEqual((held.state, held.retry), ("pending", 0))
        # then both, stretch by stretch, interleaved
        self.run_jobs()
        self.assertRunDone(first.last_run_id)
        self.assertRunDone(second.last_run_id)
        self.assertEqual(first.last_run_id.created_odoo_count, 1500)
        self.assertEqual(second.last_run_id.created_odoo_count, 1500)
        self.assertEqual(
            sorted(first.member_ids.partner_id.mapped("email_normalized")),
            sorted(first_emails),
        )
        self.assertEqual(len(second.member_ids.partner_id), 1500)
        self.assertFalse(first.member_ids.partner_id & second.member_ids.partner_id)

    def test_a_429_storm_retries_the_job_when_mailchimp_says(self):
        partners = self.contacts([{"email": f"storm{i}@corp.com"} for i in range(5)])
        pairing = self.make_pairing()
        pairing.action_sync_now()
        job = self.waiting_jobs(pairing)
        with self.sandbox_fault(status=429, count=1000, retry_after=3):
            raised = self.perform_retried(job)
        self.assertEqual(raised.seconds, 3)
        self.assertFalse(raised.ignore_retry, "a 429 counts as a try")
        # the job waits, its run is not failed: it goes on from where it stopped
        self.assertEqual((job.state, job.retry), ("pending", 1))
        self.assertNotEqual(pairing.last_run_id.state, "failed")
        self.run_jobs(pairing)
        self.assertRunDone(pairing.last_run_id)
        self.assertEveryContactOnce(pairing, partners)

    def test_a_429_on_the_last_try_fails_the_run_as_the_cron_would(self):
        self.contacts([{"email": f"storm{i}@corp.com"} for i in range(5)])
        pairing = self.make_pairing()
        pairing.action_sync_now()
        job = self.waiting_jobs(pairing)
        job.sudo().with_context(_job_edit_sentinel=job.EDIT_SENTINEL).write(
            {"retry": job.max_retries - 1}
        )
        with self.sandbox_fault(status=429, count=1000, retry_after=0.3):
            self.perform(job)
        run = pairing.last_run_id
        self.assertEqual(run.state, "failed")
        self.assertIn("limiting the requests", run.message)
        # the sync tries again by itself later, as after a failed cron run
        self.assertEqual(pairing._sync_cursor().stopped_by, "transient")

    def test_a_job_failed_for_good_fails_its_run_with_the_reason(self):
        self.seed(1500)
        pairing = self.both_ways()
        pairing.action_sync_now()
        self.perform(self.waiting_jobs(pairing))
        run = pairing.last_run_id
        self.assertEqual(run.state, "running")
        pairing._mailchimp_job_failed(
            exc_name="odoo.addons.queue_job.exception.FailedJobError",
            exc_message="Job found dead after too many retries",
        )
        self.assertEqual(run.state, "failed")
        self.assertIn("Job found dead after too many retries", run.message)
        self.assertIn("background job", run.message)

    def test_the_cron_pass_queues_the_due_syncs(self):
        due = self.make_pairing(name="Due")
        paused = self.make_pairing(name="Paused", state="paused")
        with trap_jobs() as trap:
            self.env["mailchimp.pairing"]._cron_sync()
            trap.assert_jobs_count(1)
            trap.assert_enqueued_job(
                due._mailchimp_job_stretch,
                properties={"identity_key": f"mailchimp_sync_{due.id}"},
            )
        self.assertFalse(due.last_run_id | paused.last_run_id)
