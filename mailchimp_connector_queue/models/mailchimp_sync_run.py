# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class MailchimpSyncRun(models.Model):
    """A run done by queue jobs: its jobs done and waiting, on its form."""

    _inherit = "mailchimp.sync.run"

    queue_job_done_count = fields.Integer(
        string="Jobs done", compute="_compute_queue_job_counts"
    )
    queue_job_waiting_count = fields.Integer(
        string="Jobs waiting",
        compute="_compute_queue_job_counts",
        help="Jobs of this run queued or running now (channel root.mailchimp).",
    )

    def _compute_queue_job_counts(self):
        # a job's row is queue_job's; people who read the run see its counts
        groups = (
            self.env["queue.job"]
            .sudo()
            ._read_group(
                [("mailchimp_run_id", "in", self.ids)],
                ["mailchimp_run_id", "state"],
                ["__count"],
            )
        )
        counts = {}
        for run, state, count in groups:
            done, waiting = counts.get(run.id, (0, 0))
            if state == "done":
                done += count
            elif state in ("wait_dependencies", "pending", "enqueued", "started"):
                waiting += count
            counts[run.id] = (done, waiting)
        for run in self:
            run.queue_job_done_count, run.queue_job_waiting_count = counts.get(
                run.id, (0, 0)
            )
