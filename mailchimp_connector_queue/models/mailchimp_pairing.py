# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Syncs as queue_job jobs: each job one time-bounded stretch of the sync's
resumable run, the next stretch queued while work remains.

One sync has at most one job waiting (its identity key), and a stretch holds the
sync's advisory lock: a sync's stretches run one after the other, in the run's
order (pull pages, then push chunks, then the tag rules), while two syncs' jobs
run side by side on as many workers as the ``root.mailchimp`` channel allows.
A stretch run twice, or cut off by a killed worker (queue_job requeues it), goes
on from the run's last committed chunk, as a cron pass does.
"""

import logging
import time

from odoo import api, fields, models

from odoo.addons.mailchimp_connector.engine import scheduler, transactions
from odoo.addons.mailchimp_connector.utils import mailchimp_errors as mc_errors
from odoo.addons.queue_job.exception import RetryableJobError

_logger = logging.getLogger(__name__)

CHANNEL = "root.mailchimp"
STRETCH_SECONDS = 30  # one job's work; mailchimp_connector_queue.stretch_seconds
BUSY_RETRY_SECONDS = 10  # the sync held by another stretch, a pass or a delivery
THROTTLED_RETRY_SECONDS = 60  # a 429 without Retry-After


def sync_identity(pairing_id):
    return f"mailchimp_sync_{pairing_id}"


class MailchimpPairing(models.Model):
    _inherit = "mailchimp.pairing"

    last_run_job_done_count = fields.Integer(
        related="last_run_id.queue_job_done_count", string="Jobs done"
    )
    last_run_job_waiting_count = fields.Integer(
        related="last_run_id.queue_job_waiting_count", string="Jobs waiting"
    )

    def _mailchimp_run_in_background(self):
        """Sync Now and deferred webhook deliveries queue a stretch per sync."""
        for pairing in self:
            pairing._mailchimp_enqueue_stretch()

    @api.model
    def _cron_sync(self):
        """The scheduler's pass queues the syncs that are due (a sync whose run
        stopped with no job left, e.g. a job found dead too many times, is taken
        up again too); runs of selected contacts, small, stay the pass's own."""
        budget = self.env["mailchimp.account"]._cron_time_budget()
        if scheduler.selected_pass(self.env, time.monotonic() + budget):
            now = fields.Datetime.now()
            scheduler.due_pairings(self, now)._mailchimp_run_in_background()

    def _mailchimp_enqueue_stretch(self):
        """Queue this sync's next stretch (none when one is waiting already)."""
        self.ensure_one()
        job = self.with_delay(
            channel=CHANNEL,
            identity_key=sync_identity(self.id),
            description=self.env._("Mailchimp sync: %s", self.name),
        )._mailchimp_job_stretch()
        return job

    def _mailchimp_stretch_seconds(self):
        param = self.env["ir.config_parameter"].sudo()
        value = param.get_param("mailchimp_connector_queue.stretch_seconds")
        try:
            return max(1, int(value)) if value else STRETCH_SECONDS
        except ValueError:
            return STRETCH_SECONDS

    def _mailchimp_current_job(self):
        uuid = self.env.context.get("job_uuid")
        if not uuid:
            return self.env["queue.job"]
        return self.env["queue.job"].sudo().search([("uuid", "=", uuid)], limit=1)

    def _mailchimp_job_stretch(self):
        """The job: one stretch of this sync's run, then the next one queued
        while work remains. Returns what it did (the job's result)."""
        self.ensure_one()
        job = self._mailchimp_current_job()
        # the job's last try: a 429 then fails the run as the cron's would
        last_try = bool(job.max_retries) and job.retry + 1 >= job.max_retries
        deadline = time.monotonic() + self._mailchimp_stretch_seconds()
        try:
            status, run = scheduler.run_stretch(
                self, deadline, raise_throttled=not last_try
            )
        except mc_errors.MailchimpRateLimitError as error:
            seconds = int(error.retry_after or THROTTLED_RETRY_SECONDS)
            raise RetryableJobError(
                f"Mailchimp asked to slow down (429): tried again in {seconds} s",
                seconds=max(1, seconds),
            ) from error
        if status == "busy":
            # not a failure: the sync is being worked on; tried again, uncounted
            raise RetryableJobError(
                "The sync is held by another job, a pass or a webhook delivery",
                seconds=BUSY_RETRY_SECONDS,
                ignore_retry=True,
            )
        if run:
            run.queue_job_done_count += 1
        if status == "more":
            self._mailchimp_enqueue_stretch()
        if not run:
            return "nothing to do"
        return (
            f"run {run.id}: {run.state}, stage {run.stage}, "
            f"{run.progress_done}/{run.progress_total}"
        )

    def _mailchimp_job_failed(self, exc_name=None, exc_message=None, **_values):
        """A job failed for good (not the engine's failures, which end the run
        themselves): the run it worked on fails with the reason, as a failed
        run of the cron says it."""
        for pairing in self:
            run = scheduler.unfinished_run(pairing)
            if not run:
                continue
            cr = pairing.env.cr
            if not transactions.try_lock(cr, transactions.LOCK_SYNC, pairing.id):
                continue  # another stretch goes on with it
            try:
                run._finish(
                    "failed",
                    pairing.env._(
                        "The background job of this sync failed: %s",
                        exc_message or exc_name or "?",
                    ),
                )
            finally:
                transactions.unlock(cr, transactions.LOCK_SYNC, pairing.id)
