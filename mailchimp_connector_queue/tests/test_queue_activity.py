# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Email activity as queue jobs: one job per campaign, exact when run twice,
never two at once on one campaign, a 429 retried when Mailchimp says."""

from odoo.sql_db import db_connect
from odoo.tests import tagged

from odoo.addons.mailchimp_connector.tests.test_mailchimp_activity import (
    TestMailchimpActivity,
)
from odoo.addons.mailchimp_connector.utils.locks import LOCK_CAMPAIGN_ACTIVITY

from .common import QueueJobMixin


@tagged("post_install", "-at_install")
class TestQueueActivity(QueueJobMixin, TestMailchimpActivity):
    def activity_jobs(self):
        return self.env["queue.job"].search(
            [
                ("state", "in", ("pending", "enqueued")),
                ("identity_key", "=like", "mailchimp_activity_%"),
            ],
            order="id",
        )

    def test_one_job_per_campaign_exact_when_run_twice(self):
        self.make_campaign(events=self.standard_events())
        self.make_campaign(
            subject="Summer offer",
            events=[
                {"email": "ann3@corp.com", "action": "open", "timestamp": self.at(3)}
            ],
        )
        Campaign = self.env["mailchimp.campaign"]
        Campaign._cron_sync_activity()
        Campaign._cron_sync_activity()  # the next hour, before the jobs ran
        campaigns = self.account.campaign_ids
        self.assertEqual(len(campaigns), 2)
        jobs = self.activity_jobs()
        self.assertEqual(len(jobs), 2, "one job waiting per campaign")
        self.assertEqual(set(jobs.mapped("channel")), {"root.mailchimp"})
        self.assertFalse(self.activities(), "pulled by the jobs, not by the pass")
        for job in jobs:
            self.perform(job)
        # what the account's own pull stores (test_mailchimp_activity): 5 sends +
        # open, click, bounce, unsubscribe; and the second campaign's
        counts = {c.subject: c.activity_count for c in campaigns}
        self.assertEqual(counts, {"Spring offer": 9, "Summer offer": 5})
        self.assertEqual(len(self.activities()), 14)
        lines = len(self.chatter(self.partner(0)))
        # a job run again (requeued after its worker died): nothing stored twice
        self.perform(jobs[0])
        self.assertEqual(len(self.activities()), 14)
        self.assertEqual(len(self.chatter(self.partner(0))), lines)
        self.assertFalse(self.account.activity_error)

    def test_a_campaign_pulled_by_another_job_is_left_to_it(self):
        self.make_campaign(events=self.standard_events())
        self.env["mailchimp.campaign"]._cron_sync_activity()
        campaign = self.account.campaign_ids
        job = self.activity_jobs()
        other = db_connect(self.env.cr.dbname).cursor()
        try:
            other.execute(
                "SELECT pg_advisory_lock(%s, %s)", (LOCK_CAMPAIGN_ACTIVITY, campaign.id)
            )
            self.assertEqual(self.perform(job), "being pulled by another job")
        finally:
            other.close()
        self.assertFalse(self.activities())

    def test_a_429_puts_the_campaign_job_back_for_when_mailchimp_says(self):
        self.make_campaign(events=self.standard_events())
        self.env["mailchimp.campaign"]._cron_sync_activity()
        job = self.activity_jobs()
        with self.sandbox_fault(status=429, count=1000, retry_after=4):
            raised = self.perform_retried(job)
        self.assertEqual(raised.seconds, 4)
        self.assertEqual((job.state, job.retry), ("pending", 1))
        self.perform(job)
        self.assertEqual(len(self.activities()), 9)
