# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The glue's test base: the main addon's sandbox cases, with queue_job's test
helpers and jobs executed in the test."""

from unittest.mock import patch

import odoo.tests.common as odoo_test_common

from odoo.addons.mailchimp_connector.tests.test_mailchimp_sync_rules import (
    SyncRulesCase,
)

# queue_job's test helpers (18.0.4.x) register a patch source in a registry that
# Odoo 18's test module no longer has: give it one before they are imported
if not hasattr(odoo_test_common, "SETATTR_SOURCES"):
    odoo_test_common.SETATTR_SOURCES = {}

# pylint: disable=wrong-import-position,ungrouped-imports
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job
from odoo.addons.queue_job.tests.common import trap_jobs  # noqa: F401


class QueueJobMixin:
    """Jobs stored as in production and run in the test's transaction: the
    registry in test mode, so the cursor a job with ``allow_commit`` opens is
    the test's own."""

    def setUp(self):
        super().setUp()
        self.registry.enter_test_mode(self.cr)
        self.addCleanup(self.registry.leave_test_mode)
        # each stretch: one page or one chunk (its deadline already past)
        patcher = patch(
            "odoo.addons.mailchimp_connector_queue.models.mailchimp_pairing."
            "MailchimpPairing._mailchimp_stretch_seconds",
            return_value=0,
        )
        patcher.start()
        self.addCleanup(patcher.stop)

    def waiting_jobs(self, pairing=None):
        domain = [("state", "in", ("pending", "enqueued"))]
        if pairing:
            domain.append(("identity_key", "=", f"mailchimp_sync_{pairing.id}"))
        return self.env["queue.job"].search(domain, order="id")

    def perform(self, job_record):
        """One job as queue_job's controller runs it: started, performed, done
        (a RetryableJobError leaves it pending, as the controller does)."""
        # a job starts in a transaction of its own, after what queued it committed
        self.env.flush_all()
        job = Job.load(self.env, job_record.uuid)
        job.set_started()
        job.store()
        self.env.flush_all()  # committed by queue_job's controller
        try:
            job.perform()
        except RetryableJobError as error:
            job.postpone(result=str(error), seconds=error.seconds)
            job.set_pending(reset_retry=False)
            job.store()
            raise
        finally:
            self.env.invalidate_all()
        job.set_done()
        job.store()
        return job.result

    def perform_retried(self, job_record):
        """The RetryableJobError ``job_record`` raises (Odoo's assertRaises would
        roll back what the job stored when it was put back in the queue)."""
        try:
            self.perform(job_record)
        except RetryableJobError as error:
            return error
        self.fail(f"{job_record} was not put back in the queue")

    def run_jobs(self, pairing=None, limit=100):
        """Run the waiting jobs, oldest first, until none is left; the number run."""
        done = 0
        while done < limit:
            jobs = self.waiting_jobs(pairing)
            if not jobs:
                return done
            self.perform(jobs[0])
            done += 1
        self.fail(f"still jobs waiting after {limit}")


class QueueSyncCase(QueueJobMixin, SyncRulesCase):
    """Sandbox syncs whose work queue jobs do."""

    def seed(self, count, status="subscribed", list_id=None, start=0):
        self.sandbox_control(
            "POST",
            f"lists/{list_id or self.list_id}/seed",
            {"count": count, "status": status, "start": start},
        )
